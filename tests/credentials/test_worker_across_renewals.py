"""A worker-like client made by `connect` keeps polling, starting and signalling across
several token renewals, on the real dev server (which ignores tokens: this shows the key is
swapped under running polls without breaking them)."""

from __future__ import annotations

import uuid

from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from infra.credentials import ClientCredentials, ClientCredentialsTokenSource
from infra.temporal_client import connect, with_codec
from tests.credentials.conftest import WORKER_ID, WORKER_SECRET, settings_for
from tests.credentials.probe_workflows import TokenRenewalProbe, count_round
from tests.credentials.token_endpoint import TokenEndpoint
from tests.waiting import eventually


async def test_a_worker_keeps_running_workflows_across_token_renewals(
    endpoint: TokenEndpoint, local_env: WorkflowEnvironment, task_queue: str
) -> None:
    endpoint.expires_in = 2  # renewed every second
    credentials = ClientCredentials(
        token_url=endpoint.url, client_id=WORKER_ID, client_secret=SecretStr(WORKER_SECRET)
    )
    async with ClientCredentialsTokenSource(credentials) as source:
        client = await connect(settings_for(endpoint, local_env), token_source=source)
        copy = with_codec(client, codec=None)  # a client made from its config shares the key
        async with Worker(
            client, task_queue=task_queue, workflows=[TokenRenewalProbe], activities=[count_round]
        ):
            for round_ in range(3):
                token = client.api_key

                async def renewed(before: str | None = token) -> bool:
                    return client.api_key != before

                await eventually(renewed, seconds=10)
                handle = await client.start_workflow(
                    TokenRenewalProbe.run,
                    round_,
                    id=f"token-probe-{uuid.uuid4().hex[:8]}",
                    task_queue=task_queue,
                )
                await handle.signal(TokenRenewalProbe.proceed)
                assert await handle.result() == round_ + 1
        assert source.refreshes >= 3
        assert client.api_key == copy.api_key == endpoint.issued[-1]
