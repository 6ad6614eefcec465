"""``samverkan dev`` and ``samverkan worker``: running the stack and the worker."""

from __future__ import annotations

import json
from datetime import datetime

import typer


def register(app: typer.Typer) -> None:
    """Add ``dev`` and ``worker`` to ``app``."""

    @app.command()
    def dev(
        manual: str = typer.Option(
            "",
            "--manual",
            envvar="SAMVERKAN_DEV_MANUAL_AGENCIES",
            help="Agencies the simulator leaves to you, comma-separated (e.g. police,school): "
            "it records their consultations but neither acknowledges nor answers them.",
        ),
    ) -> None:
        """Run the whole stack on the embedded default: Temporal + Web UI, PostgreSQL, simulator, worker."""
        from cases import STOCKHOLM, Agency
        from cases.examples import EXAMPLE_OPEN_CASE
        from infra.settings import get_settings
        from samverkan import devstack

        agencies = tuple(dict.fromkeys(n.strip() for n in manual.split(",") if n.strip()))
        known = {a.value for a in Agency}
        unknown = [n for n in agencies if n not in known]
        if unknown:
            typer.echo(
                f"dev: --manual: unknown agency {unknown[0]!r}; one of {', '.join(sorted(known))}",
                err=True,
            )
            raise typer.Exit(2)
        # Received now: an example months old would fire every deadline's ladder at once.
        received_at = datetime.now(STOCKHOLM).replace(microsecond=0).isoformat()
        example = {**EXAMPLE_OPEN_CASE, "received_at": received_at}
        code = devstack.run(get_settings(), json.dumps(example, indent=2), agencies)
        raise typer.Exit(code)

    @app.command()
    def worker() -> None:
        """Run a worker on task queue samverkan-cases (settings from the environment)."""
        import worker as worker_module

        worker_module.main()
