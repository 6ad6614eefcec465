"""Fixtures of the gateway tests: a real Temporal test server with a worker running probe
workflows, a migrated database, API keys for every agency and an HTTP client on the app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from cases import Agency
from eventstore import migrate
from gateway import (
    AgencyCredentials,
    Consultations,
    GatewayDeps,
    GatewayRecords,
    GatewaySettings,
    create_app,
)
from infra.attestation_interceptors import AgencyAttestationCheck, attesting
from infra.codec import EncryptionCodec
from infra.keys import CaseKeys, MasterKeys, PostgresDataKeyStore
from infra.temporal_client import with_codec
from tests.agency_attestation import TEST_ATTESTATION_KEYS, unsigned
from tests.gateway.probe import ProbeCase, ProbeConsultation, ProbeConsultationInput
from tests.oidc_issuer import ISSUER

#: A Web UI user's access token from the local issuer: read and write on namespace default.
CODEC_TOKEN = ISSUER.token(["default:write"])


@dataclass
class Stack:
    """Everything a gateway test touches."""

    client: Client
    pool: asyncpg.Pool
    keys: dict[Agency, str]
    codec: EncryptionCodec
    task_queue: str
    make_app: Callable[..., httpx.AsyncClient]
    make_asgi: Callable[..., Any]
    """The ASGI app itself (settings overrides as `make_app`), for clients of a test's own."""

    async def consultation(self, agency: Agency) -> WorkflowHandle[ProbeConsultation, str]:
        """A new consultation addressed to ``agency``, with its case running."""
        case_number = f"2025-{uuid.uuid4().hex[:8]}"
        await self.client.start_workflow(
            ProbeCase.run, id=f"case-{case_number}", task_queue=self.task_queue
        )
        return await self.client.start_workflow(
            ProbeConsultation.run,
            ProbeConsultationInput(agency=agency.value),
            id=f"case-{case_number}:consultation-1",
            task_queue=self.task_queue,
        )

    def auth(self, agency: Agency) -> dict[str, str]:
        """The Authorization header of ``agency``."""
        return {"Authorization": f"Bearer {self.keys[agency]}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(time_skipping_env: WorkflowEnvironment, database_url: str) -> AsyncIterator[Stack]:
    await migrate(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    master = MasterKeys.parse(MasterKeys.generate_entry("t1"))
    codec = EncryptionCodec(
        keys=CaseKeys(master_keys=master, store=PostgresDataKeyStore(pool)),
        namespace=time_skipping_env.client.namespace,
    )
    client = with_codec(time_skipping_env.client, codec)
    # The gateway's own client, as `gateway.serve` builds it: it signs agency updates.
    gateway_client = with_codec(attesting(unsigned(client), TEST_ATTESTATION_KEYS), codec)
    credentials = AgencyCredentials(pool)
    keys = {agency: await credentials.issue(agency) for agency in Agency}
    task_queue = f"gateway-{uuid.uuid4().hex[:8]}"

    def make_asgi(**overrides: object) -> Any:
        values: dict[str, Any] = {
            "temporal_namespace": client.namespace,
            **ISSUER.settings(),  # the codec endpoint trusts the local issuer
            # make_app's base URL, and the host of schemathesis's ASGI loader (tests/security)
            "samverkan_gateway_allowed_hosts": "gateway.test,testserver",
            **overrides,
        }
        settings = GatewaySettings(**values)
        return create_app(
            GatewayDeps(
                consultations=Consultations(client=gateway_client, pool=pool),
                credentials=credentials,
                records=GatewayRecords(pool),
                settings=settings,
                codec=codec,
            )
        )

    def make_app(**overrides: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=make_asgi(**overrides)),
            base_url="http://gateway.test",
        )

    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ProbeConsultation, ProbeCase],
        workflow_runner=UnsandboxedWorkflowRunner(),
        # The production worker's check, on the probe's consultations.
        interceptors=[
            AgencyAttestationCheck(
                TEST_ATTESTATION_KEYS, workflow_types=frozenset({"GatewayProbeConsultation"})
            )
        ],
    ):
        try:
            yield Stack(client, pool, keys, codec, task_queue, make_app, make_asgi)
        finally:
            await pool.close()


@pytest_asyncio.fixture(loop_scope="session")
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.make_app(samverkan_gateway_burst=1000) as client:
        yield client


Maker = Callable[[Agency], Awaitable[WorkflowHandle[ProbeConsultation, str]]]
