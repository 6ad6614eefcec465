"""``samverkan dev``, ``samverkan dev-token`` and ``samverkan worker``: running the stack and
the worker, and signing in to a dev stack started with ``--auth``."""

from __future__ import annotations

import json
from datetime import datetime

import typer


def register(app: typer.Typer) -> None:
    """Add ``dev``, ``dev-token`` and ``worker`` to ``app``."""

    @app.command()
    def dev(
        manual: str = typer.Option(
            "",
            "--manual",
            envvar="SAMVERKAN_DEV_MANUAL_AGENCIES",
            help="Agencies the simulator leaves to you, comma-separated (e.g. police,school): "
            "it records their consultations but neither acknowledges nor answers them.",
        ),
        auth: bool = typer.Option(
            False,
            "--auth",
            help="Sign-on as in production: a dev identity provider issues tokens, Temporal is "
            "reached through an authorizing front door, the codec endpoint checks tokens per "
            "namespace. Get an operator's token with 'samverkan dev-token'.",
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
        code = devstack.run(get_settings(), json.dumps(example, indent=2), agencies, auth=auth)
        raise typer.Exit(code)

    @app.command("dev-token")
    def dev_token(
        grants: list[str] = typer.Argument(  # noqa: B008 - typer's declaration style
            ...,
            metavar="NAMESPACE:ROLE...",
            help="What the token grants, e.g. samverkan-malmo:read (roles read, write, worker, "
            "admin; temporal-system:admin is every namespace in Temporal).",
        ),
        subject: str = typer.Option(
            "operator-dev",
            help="The token's sub: a pseudonymous id like operator-7f3a, never a name.",
        ),
        minutes: int = typer.Option(60, min=1, max=24 * 60, help="How long the token is valid."),
    ) -> None:
        """Print an operator's access token for a dev stack started with --auth.

        The dev identity provider signs it with the stack's key; use it as
        'temporal --api-key' through the front door and as '--codec-auth "Bearer …"'.
        """
        import os
        from pathlib import Path

        from cases.models import is_actor_id
        from gateway.oidc import ROLES
        from simulator.idp import DevIdentityProvider

        for grant in grants:
            namespace, sep, role = grant.rpartition(":")
            if not sep or not namespace or role not in ROLES:
                typer.echo(
                    f"dev-token: {grant!r} is not NAMESPACE:ROLE with a role of "
                    f"{', '.join(sorted(ROLES))}",
                    err=True,
                )
                raise typer.Exit(2)
        if not is_actor_id(subject):
            typer.echo(
                "dev-token: --subject must be an identifier (lower-case letters, digits, . _ -), "
                "never a name",
                err=True,
            )
            raise typer.Exit(2)
        data_dir = Path(os.environ.get("SAMVERKAN_DATA_DIR") or ".samverkan")
        endpoints_file = data_dir / "endpoints.json"
        issuer = ""
        if endpoints_file.is_file():
            try:
                issuer = json.loads(endpoints_file.read_text()).get("idp_issuer") or ""
            except (OSError, ValueError, AttributeError):
                issuer = ""  # a stack still writing it, or not ours: as if none runs
        if not issuer:
            typer.echo(
                f"dev-token: no dev stack with sign-on is running from {data_dir} "
                "(start it with 'samverkan dev --auth'; SAMVERKAN_DATA_DIR names another folder)",
                err=True,
            )
            raise typer.Exit(1)
        idp = DevIdentityProvider(data_dir, issuer)
        typer.echo(idp.mint(subject, grants, lifetime_seconds=minutes * 60))

    @app.command()
    def worker() -> None:
        """Run a worker on task queue samverkan-cases (settings from the environment)."""
        import worker as worker_module

        worker_module.main()
