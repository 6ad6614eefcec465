"""Subcommands of the samverkan CLI, one module per area; cli.py composes them."""
