"""One key per case whatever the path, and plaintext refused: the codec endpoint as the Web UI
and the ``temporal`` CLI call it, against the production worker with the encrypting codec.

The endpoint is driven exactly as they drive it: ``POST /codec/encode`` with only
``X-Namespace`` and a ``{"payloads": [...]}`` body in protobuf JSON; the sealed payloads are
then sent as they are (a client without a codec, `RawValue`), as the CLI sends what the
endpoint returned.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from google.protobuf import json_format
from starlette.applications import Starlette
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import InMemoryEventStore
from eventstore.encrypted import EncryptingEventStore, InMemoryPersonalDataVault
from gateway.codec_routes import SHREDDED_MARKER, codec_routes
from gateway.config import GatewaySettings
from gateway.oidc import DevOpenAccess
from gateway.ratelimit import RateLimiter
from infra.codec import EncryptionCodec, PayloadKeyShredded, is_encrypted, key_id_of
from infra.converter import FOREIGN_KEY_REFUSED, PLAINTEXT_REFUSED, data_converter
from infra.keys import (
    INTAKE_KEY_LIFETIME,
    CaseKeys,
    MasterKeys,
    PostgresDataKeyStore,
    case_scope,
)
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.codec.test_codec import _payloads
from tests.waiting import eventually
from tests.workflows.conftest import case_worker
from workflows import CaseWorkflow
from workflows.case import WRONG_WORKFLOW_ID

NAME = EXAMPLE_OPEN_CASE["subject"]["name"]
PIN = EXAMPLE_OPEN_CASE["subject"]["personal_identity_number"]
REASONING = "Mother Ingrid Exempelsson says the boy hides at Storgatan 12."
INFORMATION = "Uncle Bertil Exempelsson called about the boy's chats."
PERSONAL = (NAME, PIN, "Ingrid", "Storgatan", "Bertil", "violent propaganda")


@dataclass
class Entry:
    """A worker with the encrypting codec, the codec endpoint, and a codec-less client."""

    env: WorkflowEnvironment
    pool: asyncpg.Pool
    keys: CaseKeys
    master: MasterKeys
    raw: Client  # no codec: sends what it is given, as the temporal CLI does
    sealed: Client  # the SDK with the codec, as `samverkan cases` and the gateway
    http: httpx.AsyncClient
    events: EncryptingEventStore
    vault: InMemoryPersonalDataVault
    task_queue: str
    master_entry: str  # SAMVERKAN_MASTER_KEYS for the CLI

    @property
    def namespace(self) -> str:
        return self.env.client.namespace

    async def encode(self, *values: Any, namespace: str | None = None) -> list[Payload]:
        """``values`` as JSON payloads sealed by ``POST /codec/encode``, as the UI does."""
        plain = data_converter().payload_converter.to_payloads(list(values))
        response = await self.http.post(
            "/codec/encode",
            content=json_format.MessageToJson(Payloads(payloads=plain)),
            headers={"X-Namespace": namespace or self.namespace},
        )
        assert response.status_code == 200, response.text
        return list(json_format.Parse(response.text, Payloads()).payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Any]:
        """``POST /codec/decode`` (the Web UI reading a history): JSON values."""
        response = await self.http.post(
            "/codec/decode",
            content=json_format.MessageToJson(Payloads(payloads=payloads)),
            headers={"X-Namespace": self.namespace},
        )
        assert response.status_code == 200, response.text
        decoded = json_format.Parse(response.text, Payloads()).payloads
        return data_converter().payload_converter.from_payloads(list(decoded))

    def fresh_keys(self) -> CaseKeys:
        """Data keys with an empty cache (another process, after the shredding)."""
        return CaseKeys(master_keys=self.master, store=PostgresDataKeyStore(self.pool))

    async def start_raw(self, case_input: Payload, workflow_id: str) -> WorkflowHandle[Any, Any]:
        return await self.raw.start_workflow(
            "CaseWorkflow", RawValue(case_input), id=workflow_id, task_queue=self.task_queue
        )


def case_data(received_at: Any, **changes: Any) -> dict[str, Any]:
    """The README's example case with a fresh case number, received at ``received_at``."""
    data = dict(EXAMPLE_OPEN_CASE, case_number=f"E-{uuid.uuid4().hex[:10]}", **changes)
    data["received_at"] = received_at.isoformat()
    return data


@pytest_asyncio.fixture(loop_scope="session")
async def entry(
    module_time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> AsyncIterator[Entry]:
    async with entry_stack(module_time_skipping_env, pool) as stack:
        yield stack


@asynccontextmanager
async def entry_stack(env: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[Entry]:
    """A codec worker on ``env``, the codec endpoint, and the clients of `Entry`."""
    master_entry = MasterKeys.generate_entry("e1")
    master = MasterKeys.parse(master_entry)
    keys = CaseKeys(master_keys=master, store=PostgresDataKeyStore(pool))
    codec = EncryptionCodec(keys=keys, namespace=env.client.namespace)
    config = env.client.config()
    sealed = Client(**{**config, "data_converter": data_converter(codec)})
    raw = Client(**{**config, "data_converter": data_converter()})
    settings = GatewaySettings(temporal_namespace=env.client.namespace)
    failures = RateLimiter(per_minute=600, burst=100)
    # Authentication is tests/gateway/test_codec_oidc.py's subject; here every call is let in.
    app = Starlette(routes=codec_routes(codec, settings, failures, access=DevOpenAccess()))
    vault = InMemoryPersonalDataVault()
    events = EncryptingEventStore(InMemoryEventStore(), keys=keys, vault=vault)
    task_queue = f"test-{uuid.uuid4().hex[:12]}"
    async with (
        running_simulator(responder=NullResponder()) as simulator_url,
        case_worker(sealed, task_queue, events, simulator_url),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield Entry(
            env, pool, keys, master, raw, sealed, http, events, vault, task_queue, master_entry
        )


async def _started(entry: Entry, handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the case's opening is recorded (read through the codec, as an operator)."""
    sealed = entry.sealed.get_workflow_handle(handle.id)

    async def opened() -> bool:
        summary = await sealed.query("summary", result_type=dict)
        return bool(summary.get("state"))

    await eventually(opened)


async def _history_failures(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    """The failure events of the run: task failures and the workflow's own."""
    history = await handle.fetch_history()
    watched = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    }
    return [e.event_type for e in history.events if e.event_type in watched]


# -- one key per case ------------------------------------------------------------------


async def test_what_operators_type_through_the_codec_endpoint_is_shredded_with_the_case(
    entry: Entry,
) -> None:
    data = case_data(await entry.env.get_current_time())
    number = data["case_number"]
    [start] = await entry.encode(data)
    [assessment] = await entry.encode(
        {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"}
    )
    [information] = await entry.encode({"source": "relative", "information": INFORMATION})
    assert all(key_id_of(p).startswith("intake.") for p in (start, assessment, information))
    assert len({key_id_of(p) for p in (start, assessment, information)}) == 3  # single-use

    handle = await entry.start_raw(start, f"case-{number}")
    await entry.raw.get_workflow_handle(handle.id).execute_update(
        "record_protection_assessment", RawValue(assessment), result_type=RawValue
    )
    await handle.signal("add_information", RawValue(information))

    async def information_recorded() -> bool:
        return any(e.type == "InformationAdded" for e in await entry.events.read_case(number))

    await eventually(information_recorded)
    recorded = await entry.events.read_case(number)
    assert INFORMATION in str([e.data for e in recorded])  # readable before the shredding
    store = PostgresDataKeyStore(entry.pool)
    for sent in (start, assessment, information):
        row = await store.by_id(key_id_of(sent) or "")
        assert row is not None and row.owner_scope == case_scope(number)  # adopted

    await entry.keys.shred(case_scope(number))

    history = await handle.fetch_history()
    payloads = [p for e in history.events for p in _payloads(e)]
    sealed = [p for p in payloads if is_encrypted(p)]
    assert len(sealed) > 10
    assert {key_id_of(p) for p in (start, assessment, information)} <= {
        key_id_of(p) for p in sealed
    }
    other = [p for p in payloads if not is_encrypted(p)]
    assert not any(word.encode() in p.data for p in other for word in PERSONAL)
    fresh = EncryptionCodec(keys=entry.fresh_keys(), namespace=entry.namespace)
    for payload in sealed:
        with pytest.raises(PayloadKeyShredded):
            await fresh.decode([payload])
    assert await entry.decode([start, assessment, information]) == [SHREDDED_MARKER] * 3
    after = EncryptingEventStore(entry.events.inner, keys=entry.fresh_keys(), vault=entry.vault)
    text = str([e.data for e in await after.read_case(number)])
    assert not any(word in text for word in PERSONAL)


async def test_an_intake_key_belongs_to_the_first_case_that_reads_it(entry: Entry) -> None:
    now = await entry.env.get_current_time()
    first, second = case_data(now), case_data(now)
    [start] = await entry.encode(first)
    await _started(entry, await entry.start_raw(start, f"case-{first['case_number']}"))

    other = await entry.start_raw(start, f"case-{second['case_number']}")

    with pytest.raises(WorkflowFailureError) as failed:
        await other.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == FOREIGN_KEY_REFUSED
    assert cause.non_retryable
    assert await entry.events.read_case(second["case_number"]) == []
    row = await PostgresDataKeyStore(entry.pool).by_id(key_id_of(start) or "")
    assert row is not None and row.owner_scope == case_scope(first["case_number"])


async def test_intake_keys_no_case_adopted_are_shredded_after_their_lifetime(
    entry: Entry,
) -> None:
    [adopted_input] = await entry.encode(case_data(await entry.env.get_current_time()))
    [stray] = await entry.encode({"never": "sent"})
    data = case_data(await entry.env.get_current_time())
    [adopted_input] = await entry.encode(data)
    await _started(entry, await entry.start_raw(adopted_input, f"case-{data['case_number']}"))
    store = PostgresDataKeyStore(entry.pool)
    stray_key = await store.by_id(key_id_of(stray) or "")
    assert stray_key is not None

    young = await entry.keys.shred_stale_intake(now=stray_key.created_at)
    assert (await store.by_id(stray_key.key_id)).wrapped is not None  # type: ignore[union-attr]
    later = stray_key.created_at + INTAKE_KEY_LIFETIME + timedelta(seconds=1)
    old = await entry.keys.shred_stale_intake(now=later)

    assert young == 0 and old >= 1
    assert (await store.by_id(stray_key.key_id)).wrapped is None  # type: ignore[union-attr]
    kept = await store.by_id(key_id_of(adopted_input) or "")
    assert kept is not None and kept.wrapped is not None  # adopted: the case's to shred
    assert await entry.decode([stray]) == [SHREDDED_MARKER]


# -- plaintext refused -----------------------------------------------------------------


async def test_a_plaintext_start_fails_at_once_and_records_nothing(entry: Entry) -> None:
    data = case_data(await entry.env.get_current_time())
    handle = await entry.raw.start_workflow(
        "CaseWorkflow", data, id=f"case-{data['case_number']}", task_queue=entry.task_queue
    )

    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == PLAINTEXT_REFUSED
    assert cause.non_retryable and "codec" in cause.message
    assert not any(word in cause.message for word in PERSONAL)
    assert await _history_failures(handle) == [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]
    assert await entry.events.read_case(data["case_number"]) == []


async def test_plaintext_updates_are_rejected_and_plaintext_signals_dropped(
    entry: Entry,
) -> None:
    data = case_data(await entry.env.get_current_time())
    number = data["case_number"]
    handle = await entry.sealed.start_workflow(
        CaseWorkflow.run, OpenCase.model_validate(data), id=f"case-{number}",
        task_queue=entry.task_queue,
    )  # fmt: skip
    await _started(entry, handle)
    plain = entry.raw.get_workflow_handle(handle.id)

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await plain.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"},
        )
    await plain.signal("add_information", {"source": "relative", "information": INFORMATION})
    [control] = await entry.encode({"source": "school", "information": "Sealed note."})
    await plain.signal("add_information", RawValue(control))

    async def control_recorded() -> bool:
        return any(e.type == "InformationAdded" for e in await entry.events.read_case(number))

    await eventually(control_recorded)
    cause = rejected.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == PLAINTEXT_REFUSED
    assert "--codec-endpoint" in cause.message
    recorded = await entry.events.read_case(number)
    types = [e.type for e in recorded]
    assert "ProtectionAssessed" not in types and types.count("InformationAdded") == 1
    assert INFORMATION not in str([e.data for e in recorded])
    assert await _history_failures(handle) == []  # refused, not a stuck workflow task


async def test_a_case_under_another_workflow_id_ends_at_once_and_records_nothing(
    entry: Entry,
) -> None:
    data = case_data(await entry.env.get_current_time())
    handle = await entry.sealed.start_workflow(
        CaseWorkflow.run,
        OpenCase.model_validate(data),
        id=f"intake-{uuid.uuid4().hex[:8]}",
        task_queue=entry.task_queue,
    )

    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == WRONG_WORKFLOW_ID
    assert cause.non_retryable and f"case-{data['case_number']}" in cause.message
    assert await _history_failures(handle) == [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]
    assert await entry.events.read_case(data["case_number"]) == []
