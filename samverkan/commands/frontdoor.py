"""``samverkan frontdoor``: the dev Temporal server behind an authorizing gRPC proxy.

Development only (`samverkan.frontdoor`): production runs Temporal's own JWT authorizer
(deploy/helm values, ``server.config.authorization``). The proxy trusts the operators'
sign-on the codec endpoint trusts — ``SAMVERKAN_CODEC_OIDC_ISSUER``, ``…_AUDIENCE``,
``…_JWKS_URL``, ``…_ALGORITHMS`` and ``SAMVERKAN_CODEC_PERMISSIONS_CLAIM`` — each of which an
option here overrides. It listens on loopback unless ``--allow-remote``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import typer

from samverkan.commands import fail

#: The dev stack's front-door port (``samverkan dev --auth`` uses the same variable).
DEFAULT_PORT = 7243


def register(app: typer.Typer) -> None:
    """Add ``frontdoor`` to the ``samverkan`` app."""

    @app.command("frontdoor")
    def frontdoor_command(
        upstream: Annotated[
            str | None,
            typer.Option(
                envvar="TEMPORAL_ADDRESS",
                help="HOST:PORT of the dev Temporal server's frontend (plaintext gRPC); "
                "default TEMPORAL_ADDRESS, which a running `samverkan dev` fills in.",
            ),
        ] = None,
        host: Annotated[
            str, typer.Option(help="Address to listen on (loopback unless --allow-remote).")
        ] = "127.0.0.1",
        port: Annotated[
            int,
            typer.Option(envvar="SAMVERKAN_FRONTDOOR_PORT", help="Port to listen on."),
        ] = DEFAULT_PORT,
        oidc_issuer: Annotated[
            str | None,
            typer.Option(help="Token issuer (`iss`); default SAMVERKAN_CODEC_OIDC_ISSUER."),
        ] = None,
        oidc_audience: Annotated[
            str | None,
            typer.Option(help="Token audience (`aud`); default SAMVERKAN_CODEC_OIDC_AUDIENCE."),
        ] = None,
        oidc_jwks_url: Annotated[
            str | None,
            typer.Option(help="The issuer's JWKS URL; default SAMVERKAN_CODEC_OIDC_JWKS_URL."),
        ] = None,
        allow_remote: Annotated[
            bool,
            typer.Option(
                "--allow-remote",
                help="Listen on a non-loopback address (a dev stand-in: think twice).",
            ),
        ] = False,
    ) -> None:
        """Serve the dev Temporal server behind Temporal's default authorizer (JWT
        permissions per namespace) until Ctrl-C. Dev only.

        Production uses Temporal's own authorizer; this stands in for it on a dev stack.

        Every call needs "authorization: Bearer <token>" from the operators' OIDC issuer.

        Issuer, audience and JWKS URL: the codec endpoint's SAMVERKAN_CODEC_OIDC_* variables.

        Grants: the token's "permissions", "<namespace>:read|write|admin", "temporal-system:admin".

        Try: temporal workflow list --address 127.0.0.1:7243 --tls=false --api-key "$TOKEN" -n NS
        """
        from gateway.config import GatewaySettings, is_loopback

        if not upstream:
            raise fail(
                "No upstream Temporal: pass --upstream HOST:PORT (or set TEMPORAL_ADDRESS, "
                "or start `samverkan dev`)."
            )
        if not allow_remote and not is_loopback(host):
            raise fail(
                f"The front door is a dev stand-in and listens on loopback only ({host} is "
                "not); pass --allow-remote to listen there anyway."
            )
        if upstream.strip() in {f"{host}:{port}", f"localhost:{port}"}:
            raise fail(f"--upstream {upstream} is the front door's own address.")
        given = {
            "samverkan_codec_oidc_issuer": oidc_issuer,
            "samverkan_codec_oidc_audience": oidc_audience,
            "samverkan_codec_oidc_jwks_url": oidc_jwks_url,
        }
        settings = GatewaySettings().model_copy(
            update={k: v for k, v in given.items() if v is not None}
        )
        try:
            verifier = settings.oidc_verifier()
        except ValueError as exc:
            raise fail(f"{exc}.") from None
        if verifier is None:
            raise fail(
                "The front door needs the operators' sign-on: set SAMVERKAN_CODEC_OIDC_ISSUER, "
                "SAMVERKAN_CODEC_OIDC_AUDIENCE and SAMVERKAN_CODEC_OIDC_JWKS_URL (or pass "
                "--oidc-issuer, --oidc-audience, --oidc-jwks-url)."
            )

        async def run() -> None:
            from samverkan.frontdoor import start_front_door

            try:
                door = await start_front_door(
                    upstream=upstream, verifier=verifier, host=host, port=port
                )
            except RuntimeError as exc:  # grpc: the address cannot be bound
                raise fail(f"Cannot listen on {host}:{port} ({exc}).") from None
            typer.echo(
                f"front door on {host}:{door.port} -> Temporal {upstream} "
                "(dev only: production uses Temporal's own authorizer)",
                err=True,
            )
            try:
                await door.server.wait_for_termination()
            finally:
                await door.stop()
                await verifier.aclose()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
