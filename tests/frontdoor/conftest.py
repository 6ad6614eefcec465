"""A real dev server with two municipalities' namespaces, and the front door before it,
in-process on a free loopback port, trusting the local test issuer (tests/oidc_issuer.py)."""

from __future__ import annotations

import sysconfig
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from gateway.oidc import OidcVerifier
from samverkan.frontdoor import start_front_door
from tests.oidc_issuer import AUDIENCE, ISSUER, ISSUER_NAME

SCRIPTS = Path(sysconfig.get_path("scripts"))
MALMO, ESKILSTUNA = "samverkan-malmo", "samverkan-eskilstuna"


@dataclass(frozen=True)
class Door:
    """The front door's address and a client that goes straight to the dev server."""

    address: str
    upstream: Client

    async def client(self, token: str | None, namespace: str) -> Client:
        """A Temporal client through the front door with ``token`` as its API key."""
        return await Client.connect(self.address, namespace=namespace, api_key=token, tls=False)

    async def direct(self, namespace: str) -> Client:
        """A client of ``namespace`` that bypasses the front door (to arrange and to check)."""
        return await Client.connect(self.upstream_address, namespace=namespace)

    @property
    def upstream_address(self) -> str:
        return self.upstream.service_client.config.target_host


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def door() -> AsyncIterator[Door]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(SCRIPTS / "temporal"),
        namespace=MALMO,
        dev_server_extra_args=["--namespace", ESKILSTUNA],
        dev_server_log_level="error",
        ui=False,
    )
    verifier = OidcVerifier(issuer=ISSUER_NAME, audience=AUDIENCE, jwks_url=ISSUER.jwks_url)
    try:
        running = await start_front_door(
            upstream=env.client.service_client.config.target_host, verifier=verifier
        )
        try:
            yield Door(address=f"127.0.0.1:{running.port}", upstream=env.client)
        finally:
            await running.stop()
    finally:
        await verifier.aclose()
        await env.shutdown()
