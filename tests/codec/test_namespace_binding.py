"""A case number belongs to the municipality (Temporal namespace) that first used it.

One worker process serving two namespaces, as `worker.run_worker` composes it (one codec per
namespace, shared data keys and one encrypting PostgreSQL event store), on the real dev
server with both namespaces. Malmö opens ``case-MAL-…``; Eskilstuna's operator then starts
the same workflow id in Eskilstuna's namespace with input sealed by the codec endpoint under
Eskilstuna: the start fails at once with a one-line reason, nothing is recorded, Malmö's
case and keys are untouched and Malmö's case goes on.
"""

from __future__ import annotations

import sysconfig
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from starlette.applications import Starlette
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import PostgresEventStore
from eventstore.encrypted import EncryptingEventStore, PostgresPersonalDataVault
from gateway.codec_routes import codec_routes
from gateway.config import GatewaySettings
from gateway.oidc import DevOpenAccess
from gateway.ratelimit import RateLimiter
from infra.codec import EncryptionCodec, key_id_of
from infra.converter import CASE_OF_ANOTHER_NAMESPACE, data_converter
from infra.keys import (
    CaseKeys,
    KeyOfAnotherNamespace,
    MasterKeys,
    PostgresDataKeyStore,
    case_scope,
)
from samverkan.replay import replayer
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.agency_attestation import signing
from tests.waiting import eventually
from tests.workflows.conftest import case_worker
from workflows.search_attributes import SEARCH_ATTRIBUTES

SCRIPTS = Path(sysconfig.get_path("scripts"))
MALMO, ESKILSTUNA = "samverkan-malmo", "samverkan-eskilstuna"
INFORMATION = "Skolan ringde om Alva igen."


@dataclass
class Region:
    """Per namespace: a codec-less client (what the CLI sends) and a sealing one."""

    raw: dict[str, Client]
    sealed: dict[str, Client]
    http: httpx.AsyncClient
    events: EncryptingEventStore
    store: PostgresDataKeyStore
    keys: CaseKeys
    task_queue: str

    async def encode(self, namespace: str, value: Any) -> Payload:
        """``value`` sealed by ``POST /codec/encode`` under ``namespace``, as the Web UI does."""
        plain = data_converter().payload_converter.to_payloads([value])
        response = await self.http.post(
            "/codec/encode",
            content=json_format.MessageToJson(Payloads(payloads=plain)),
            headers={"X-Namespace": namespace},
        )
        assert response.status_code == 200, response.text
        [sealed] = json_format.Parse(response.text, Payloads()).payloads
        return sealed

    async def start(self, namespace: str, data: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        sealed = await self.encode(namespace, data)
        return await self.raw[namespace].start_workflow(
            "CaseWorkflow",
            RawValue(sealed),
            id=f"case-{data['case_number']}",
            task_queue=self.task_queue,
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def two_namespaces() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(SCRIPTS / "temporal"),
        namespace=MALMO,
        dev_server_extra_args=["--namespace", ESKILSTUNA],
        dev_server_log_level="error",
        ui=False,
    )
    try:
        for namespace in (MALMO, ESKILSTUNA):
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=namespace,
                    search_attributes={
                        key.name: IndexedValueType.ValueType(key.indexed_value_type)
                        for key in SEARCH_ATTRIBUTES
                    },
                )
            )
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(loop_scope="session")
async def region(two_namespaces: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[Region]:
    keys = CaseKeys(
        master_keys=MasterKeys.parse(MasterKeys.generate_entry("r1")),
        store=PostgresDataKeyStore(pool),
    )
    events = EncryptingEventStore(
        PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
    )
    target = two_namespaces.client.service_client.config.target_host
    task_queue = f"test-{uuid.uuid4().hex[:12]}"
    raw: dict[str, Client] = {}
    sealed: dict[str, Client] = {}
    settings = GatewaySettings(samverkan_namespaces=f"{MALMO},{ESKILSTUNA}")
    app = Starlette(
        routes=codec_routes(
            EncryptionCodec(keys=keys, namespace=MALMO),
            settings,
            RateLimiter(per_minute=600, burst=100),
            access=DevOpenAccess(),
        )
    )
    async with AsyncExitStack() as stack:
        simulator_url = await stack.enter_async_context(
            running_simulator(responder=NullResponder())
        )
        for namespace in (MALMO, ESKILSTUNA):
            raw[namespace] = await Client.connect(
                target, namespace=namespace, data_converter=data_converter()
            )
            # as run_worker: one client and codec per namespace, shared keys and activities
            sealed[namespace] = await Client.connect(
                target,
                namespace=namespace,
                data_converter=data_converter(EncryptionCodec(keys=keys, namespace=namespace)),
                interceptors=signing(namespace),
            )
            await stack.enter_async_context(
                case_worker(sealed[namespace], task_queue, events, simulator_url)
            )
        http = await stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        )
        yield Region(raw, sealed, http, events, PostgresDataKeyStore(pool), keys, task_queue)


def _case(prefix: str) -> dict[str, Any]:
    data = dict(EXAMPLE_OPEN_CASE, case_number=f"{prefix}-{uuid.uuid4().hex[:8]}")
    data["received_at"] = datetime.now(UTC).isoformat()
    return data


async def _failures(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    history = await handle.fetch_history()
    watched = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    }
    return [e.event_type for e in history.events if e.event_type in watched]


async def test_a_case_number_of_another_municipality_is_refused_at_once_and_malmo_goes_on(
    region: Region,
) -> None:
    data = _case("MAL")
    number = data["case_number"]
    malmo = await region.start(MALMO, data)

    async def opened() -> bool:
        return any(e.type == "ReportReceived" for e in await region.events.read_case(number))

    await eventually(opened)
    malmos_key = await region.store.by_scope(case_scope(number))
    recorded = await region.events.read_case(number)

    eskilstuna_input = await region.encode(ESKILSTUNA, data)
    intruder = await region.raw[ESKILSTUNA].start_workflow(
        "CaseWorkflow",
        RawValue(eskilstuna_input),
        id=f"case-{number}",
        task_queue=region.task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await intruder.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == CASE_OF_ANOTHER_NAMESPACE
    assert cause.non_retryable
    assert f"case-{number}" in cause.message and "another municipality" in cause.message
    assert "\n" not in cause.message and EXAMPLE_OPEN_CASE["subject"]["name"] not in cause.message
    assert await _failures(intruder) == [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]
    assert await region.events.read_case(number) == recorded, "nothing recorded for it"
    assert await region.store.by_scope(case_scope(number)) == malmos_key
    assert malmos_key is not None and malmos_key.namespace == MALMO
    intake = await region.store.by_id(key_id_of(eskilstuna_input) or "")
    assert intake is not None and intake.namespace == ESKILSTUNA
    assert intake.owner_scope is None, "Malmö's case adopted nothing of Eskilstuna's"

    # `samverkan replay` of the refused run (decode-only, no context) takes the same path
    replaying = replayer(EncryptionCodec(keys=region.keys, namespace=ESKILSTUNA))
    await replaying.replay_workflow(await intruder.fetch_history())

    # `samverkan cases` in Eskilstuna (a client sealing for the case) stops before sending
    with pytest.raises(KeyOfAnotherNamespace):
        await region.sealed[ESKILSTUNA].start_workflow(
            "CaseWorkflow", data, id=f"case-{number}", task_queue=region.task_queue
        )

    # Malmö's case goes on
    information = await region.encode(MALMO, {"source": "relative", "information": INFORMATION})
    await malmo.signal("add_information", RawValue(information))

    async def informed() -> bool:
        return any(e.type == "InformationAdded" for e in await region.events.read_case(number))

    await eventually(informed)
    assert INFORMATION in str([e.data for e in await region.events.read_case(number)])
    await malmo.terminate("test over")
