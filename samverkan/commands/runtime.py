"""``samverkan dev`` and ``samverkan worker``: running the stack and the worker."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    """Add ``dev`` and ``worker`` to ``app``."""

    @app.command()
    def dev() -> None:
        """Run the whole stack on the embedded default: Temporal + Web UI, PostgreSQL, simulator, worker."""
        from cases.examples import EXAMPLE_OPEN_CASE
        from infra.settings import get_settings
        from samverkan import devstack

        code = devstack.run(get_settings(), json.dumps(EXAMPLE_OPEN_CASE, indent=2))
        raise typer.Exit(code)

    @app.command()
    def worker() -> None:
        """Run a worker on task queue samverkan-cases (settings from the environment)."""
        import worker as worker_module

        worker_module.main()
