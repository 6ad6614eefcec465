"""``samverkan simulator``: run the agency simulator (the agencies' systems, played locally)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``simulator`` to ``app``."""

    @app.command()
    def simulator(
        host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
        port: int | None = typer.Option(
            None, help="Port to listen on (default: SAMVERKAN_SIMULATOR_PORT, else 8240)."
        ),
        config: Path | None = typer.Option(  # noqa: B008 - typer's declaration style
            None,
            "--config",
            help="TOML file of behaviours: a table per agency under agencies, and notifications.",
        ),
        no_answer: bool = typer.Option(
            False, "--no-answer", help="Record requests but never answer back."
        ),
        manual: list[str] = typer.Option(  # noqa: B008 - typer's declaration style
            [],
            "--manual",
            help="Leave this agency's consultations to you (it neither acknowledges nor "
            "answers): repeat it or give a comma-separated list, e.g. --manual police,school.",
        ),
        gateway_url: str | None = typer.Option(
            None, help="Answer through the agency gateway at this URL (needs --agency-keys)."
        ),
        agency_keys: Path | None = typer.Option(  # noqa: B008 - typer's declaration style
            None, help="JSON file of gateway API keys by agency name, for --gateway-url."
        ),
        issue_agency_keys: bool = typer.Option(
            False,
            "--issue-agency-keys",
            help="Instead of --agency-keys: issue a fresh gateway API key for every agency at "
            "start in the database of DATABASE_URL, REVOKING every agency's earlier keys: only "
            "for a stack whose agencies are all simulated (dev, the compose demo), never a "
            "database real agencies use.",
        ),
        idp_issuer: str | None = typer.Option(
            None,
            help="Also serve the dev identity provider under /idp with this issuer URL (its "
            "key and service accounts in SAMVERKAN_DATA_DIR; samverkan dev --auth).",
        ),
    ) -> None:
        """Serve simulated agency systems and the notification endpoint over HTTP.

        Agencies answer back through the agency gateway (--gateway-url, with --agency-keys or
        --issue-agency-keys), as real agencies do: the workers accept agency updates only with
        the gateway's attestation. --no-answer records requests and answers nothing. See
        GET /_admin/received?agency=<name> for exactly what each agency was sent.
        """
        import asyncpg

        from gateway import AgencyCredentials
        from infra.logging import configure_logging
        from infra.settings import get_settings
        from simulator.app import run_simulator
        from simulator.responder import (
            ConsultationResponder,
            GatewayResponder,
            NullResponder,
        )
        from simulator.state import SimulatorConfig, SimulatorConfigError

        settings = get_settings()
        configure_logging(
            log_format=settings.samverkan_log_format, level=settings.samverkan_log_level
        )
        try:
            behaviours = SimulatorConfig.load(config) if config else SimulatorConfig()
        except SimulatorConfigError as exc:
            typer.echo(f"simulator: {config}: {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            behaviours = behaviours.leave_to_hand(manual)
        except SimulatorConfigError as exc:
            typer.echo(f"simulator: --manual: {exc}", err=True)
            raise typer.Exit(2) from None
        responder: ConsultationResponder
        if no_answer:
            responder = NullResponder()
        elif not gateway_url:
            typer.echo(
                "simulator: agencies answer through the agency gateway: give --gateway-url URL "
                "with --agency-keys FILE or --issue-agency-keys, or --no-answer",
                err=True,
            )
            raise typer.Exit(2)
        elif issue_agency_keys:
            if agency_keys is not None:
                typer.echo(
                    "simulator: give --agency-keys or --issue-agency-keys, not both", err=True
                )
                raise typer.Exit(2)
            if not settings.database_url:
                typer.echo("simulator: --issue-agency-keys needs DATABASE_URL", err=True)
                raise typer.Exit(2)
            try:
                keys = asyncio.run(AgencyCredentials.reissue_all_in(settings.database_url))
            except (OSError, asyncpg.PostgresError) as exc:
                typer.echo(f"simulator: cannot issue agency keys ({type(exc).__name__})", err=True)
                raise typer.Exit(1) from None
            responder = GatewayResponder(gateway_url, keys)
        else:
            if agency_keys is None:
                typer.echo(
                    "simulator: --gateway-url needs --agency-keys FILE or --issue-agency-keys",
                    err=True,
                )
                raise typer.Exit(2)
            try:
                keys = json.loads(agency_keys.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                typer.echo(f"simulator: cannot read {agency_keys} ({type(exc).__name__})", err=True)
                raise typer.Exit(2) from None
            responder = GatewayResponder(gateway_url, keys)
        idp = None
        if idp_issuer:
            from simulator.idp import DevIdentityProvider

            idp = DevIdentityProvider(settings.samverkan_data_dir, idp_issuer)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                run_simulator(
                    host=host,
                    port=port or settings.samverkan_simulator_port,
                    config=behaviours,
                    responder=responder,
                    idp=idp,
                )
            )
