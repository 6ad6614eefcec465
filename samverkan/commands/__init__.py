"""Subcommands of the samverkan CLI, one module per area; cli.py composes them.

The few helpers every area's commands share: a refusal in one sentence and the event
store's address. Importing this package stays cheap (typer only): ``samverkan --help`` and
each command import nothing they do not use.
"""

from __future__ import annotations

import typer

#: The exit code of a refusal an operator can correct (bad input, missing setting).
FAILED = 2


def fail(sentence: str) -> typer.Exit:
    """Print ``sentence`` on stderr; the `typer.Exit` to raise (exit code `FAILED`)."""
    typer.echo(sentence, err=True)
    return typer.Exit(FAILED)


def database_url(hint: str = "") -> str:
    """``DATABASE_URL`` from the settings, or a one-sentence refusal (``hint`` is added to
    it, e.g. where to find the value)."""
    from infra.settings import get_settings

    url = get_settings().database_url
    if not url:
        raise fail(f"DATABASE_URL is not set: point it at the event store's PostgreSQL{hint}.")
    return url
