"""Through the dev stack's authorizing front door (`samverkan.frontdoor`, which checks each
call's token as Temporal's JWT authorizer would) before the dev server: a worker-like client
from `connect` keeps working after its first token has expired, while a client that kept that
first token is refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import jwt
import pytest
import pytest_asyncio
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from infra.credentials import ClientCredentials, ClientCredentialsTokenSource
from infra.temporal_client import connect
from tests.credentials.conftest import WORKER_ID, WORKER_SECRET, settings_for, target
from tests.credentials.probe_workflows import TokenRenewalProbe, count_round
from tests.credentials.token_endpoint import TokenEndpoint
from tests.oidc_issuer import AUDIENCE, ISSUER, ISSUER_NAME
from tests.waiting import eventually

frontdoor = pytest.importorskip("samverkan.frontdoor")


@pytest_asyncio.fixture(loop_scope="session")
async def door(local_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """The front door's address, trusting the local issuer with no leeway on expiry."""
    from gateway.oidc import OidcVerifier

    verifier = OidcVerifier(
        issuer=ISSUER_NAME, audience=AUDIENCE, jwks_url=ISSUER.jwks_url, leeway_seconds=0
    )
    running = await frontdoor.start_front_door(upstream=target(local_env), verifier=verifier)
    try:
        yield f"127.0.0.1:{running.port}"
    finally:
        await running.stop()


async def test_a_worker_keeps_working_after_its_first_token_expired(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment, door: str, task_queue: str
) -> None:
    endpoint.expires_in = 2
    settings = settings_for(
        endpoint,
        local_env,
        temporal_address=door,
        samverkan_temporal_token_audience=AUDIENCE,
    )
    credentials = ClientCredentials(
        token_url=endpoint.url,
        client_id=WORKER_ID,
        client_secret=SecretStr(WORKER_SECRET),
        audience=AUDIENCE,
    )
    async with ClientCredentialsTokenSource(credentials) as source:
        client = await connect(settings, token_source=source)
        first = client.api_key or ""
        stale = await Client.connect(door, namespace=client.namespace, api_key=first, tls=False)
        expires = jwt.decode(first, options={"verify_signature": False})["exp"]
        async with Worker(
            client, task_queue=task_queue, workflows=[TokenRenewalProbe], activities=[count_round]
        ):

            async def first_expired() -> bool:
                return time.time() > expires + 1

            await eventually(first_expired, seconds=10)
            for round_ in range(2):
                handle = await client.start_workflow(
                    TokenRenewalProbe.run,
                    round_,
                    id=f"door-probe-{uuid.uuid4().hex[:8]}",
                    task_queue=task_queue,
                )
                await handle.signal(TokenRenewalProbe.proceed)
                assert await handle.result() == round_ + 1
            with pytest.raises(RPCError) as refused:
                await stale.count_workflows("WorkflowType = 'TokenRenewalProbe'")
            assert refused.value.status == RPCStatusCode.UNAUTHENTICATED
        assert source.refreshes >= 2
        assert client.api_key != first
