"""The agency simulator: the stand-in for the agencies' own systems in dev and tests.

A development tool: production code never imports it (docs/design.md, "Packages and layers").
The server is `simulator.app`; ``samverkan simulator`` runs it.
"""
