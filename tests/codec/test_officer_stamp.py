"""Who records a decision: the codec endpoint stamps the signed-in officer inside what it seals,
and the case refuses a ``decided_by`` / ``requested_by`` naming anyone else.

The codec endpoint is served over real HTTP (uvicorn on loopback, OIDC tokens from the local
issuer whose JWKS is served on loopback) in front of the production worker with the
encrypting codec; the sealed payloads are sent as the ``temporal`` CLI sends what the endpoint
returned (a client without a codec, `RawValue`).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from cases import OpenCase
from gateway.codec_routes import create_codec_app
from gateway.config import GatewaySettings
from infra.codec import EncryptionCodec, PayloadDecryptionError
from infra.converter import NOT_THE_SIGNED_IN_OFFICER, SEALED_BY_METADATA, data_converter
from samverkan.replay import replayer
from tests.codec.test_codec import _payloads
from tests.codec.test_codec_entry import REASONING, Entry, case_data, entry_stack
from tests.oidc_issuer import ISSUER
from tests.waiting import eventually
from tests.workflows.conftest import assessed_into_investigation
from tests.workflows.test_agency_attestation import POLICE
from workflows import CaseWorkflow

OFFICER = "operator-7f3a"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Signed:
    """`Entry` plus the codec endpoint with OIDC sign-on, over HTTP on loopback."""

    entry: Entry
    url: str

    async def encode(
        self, value: Any, *, subject: str = OFFICER, extra: dict[str, Any] | None = None
    ) -> Payload:
        """``value`` sealed by ``POST /codec/encode`` for a signed-in ``subject``."""
        [payload] = await self.encode_payloads(
            data_converter().payload_converter.to_payloads([value]), subject=subject, extra=extra
        )
        return payload

    async def encode_payloads(
        self, plain: list[Payload], *, subject: str = OFFICER, extra: dict[str, Any] | None = None
    ) -> list[Payload]:
        token = ISSUER.token([f"{self.entry.namespace}:write"], subject=subject, extra=extra)
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.post(
                "/codec/encode",
                content=json_format.MessageToJson(Payloads(payloads=plain)),
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Namespace": self.entry.namespace,
                    "Content-Type": "application/json",
                },
            )
        assert response.status_code == 200, response.text
        return list(json_format.Parse(response.text, Payloads()).payloads)

    async def opened_case(self) -> WorkflowHandle[Any, Any]:
        """A case opened by `samverkan cases` (the SDK with the master keys: no stamp)."""
        data = case_data(await self.entry.env.get_current_time())
        handle = await self.entry.sealed.start_workflow(
            CaseWorkflow.run,
            OpenCase.model_validate(data),
            id=f"case-{data['case_number']}",
            task_queue=self.entry.task_queue,
        )
        sealed = self.entry.sealed.get_workflow_handle(handle.id)

        async def opened() -> bool:
            return bool((await sealed.query("summary", result_type=dict)).get("state"))

        await eventually(opened)
        return sealed

    async def update(self, handle: WorkflowHandle[Any, Any], name: str, sealed: Payload) -> Any:
        """Send ``sealed`` as the CLI does: ``temporal workflow update execute``."""
        raw = self.entry.raw.get_workflow_handle(handle.id)
        return await raw.execute_update(name, RawValue(sealed), result_type=RawValue)

    async def events(self, handle: WorkflowHandle[Any, Any]) -> list[tuple[str, str]]:
        """The case's stored events as (type, actor)."""
        stored = await self.entry.events.read_case(handle.id.removeprefix("case-"))
        return [(e.type, e.actor) for e in stored]


@asynccontextmanager
async def _codec_listener(entry: Entry, **settings: Any) -> AsyncIterator[str]:
    config = GatewaySettings(
        temporal_namespace=entry.namespace,
        samverkan_codec_port=_free_port(),
        **ISSUER.settings(),
        **settings,
    )
    codec = EncryptionCodec(keys=entry.keys, namespace=entry.namespace)
    server = uvicorn.Server(
        uvicorn.Config(
            create_codec_app(codec, config),
            host="127.0.0.1",
            port=config.samverkan_codec_port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{config.samverkan_codec_port}"
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(loop_scope="session")
async def signed(
    module_time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> AsyncIterator[Signed]:
    async with (
        entry_stack(module_time_skipping_env, pool) as entry,
        _codec_listener(entry) as url,
    ):
        yield Signed(entry, url)


async def _update_events(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    watched = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    }
    return sum(1 for e in history.events if e.event_type in watched)


def _refused(error: pytest.ExceptionInfo[WorkflowUpdateFailedError], field: str) -> str:
    cause = error.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == NOT_THE_SIGNED_IN_OFFICER
    assert cause.non_retryable and "\n" not in cause.message
    assert cause.message.startswith(f"{field} must be the signed-in officer")
    return cause.message


async def test_a_decision_sealed_by_the_signed_in_officer_is_recorded_as_theirs(
    signed: Signed,
) -> None:
    handle = await signed.opened_case()
    sealed = await signed.encode({"acute": False, "reasoning": REASONING, "decided_by": OFFICER})

    await signed.update(handle, "record_protection_assessment", sealed)

    assert ("ProtectionAssessed", OFFICER) in await signed.events(handle)
    # The stamp is in the update's own payload only: what the worker seals again under the
    # case key (activity inputs, appended events, results) is built from the model.
    codec = EncryptionCodec(keys=signed.entry.keys, namespace=signed.entry.namespace)
    history = await handle.fetch_history()
    stamped = [
        p
        for e in history.events
        for p in await codec.decode(list(_payloads(e)))
        if SEALED_BY_METADATA in p.metadata
    ]
    assert [p.metadata[SEALED_BY_METADATA] for p in stamped] == [OFFICER.encode()]
    # An accepted stamped update replays (converted, and checked, again).
    result = await replayer(codec).replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None


async def test_a_decision_recorded_as_another_officer_is_rejected_and_records_nothing(
    signed: Signed,
) -> None:
    handle = await signed.opened_case()
    before = (await signed.events(handle), await _update_events(handle))
    sealed = await signed.encode(
        {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"}
    )

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await signed.update(handle, "record_protection_assessment", sealed)

    message = _refused(rejected, "decided_by")
    assert OFFICER not in message and "officer-1" not in message and REASONING not in message
    assert (await signed.events(handle), await _update_events(handle)) == before
    assert before[1] == 0


async def test_a_consultation_requested_as_another_officer_is_rejected_and_as_oneself_runs(
    signed: Signed,
) -> None:
    handle = await signed.opened_case()
    await assessed_into_investigation(handle)  # through `samverkan cases`: not stamped
    updates = await _update_events(handle)
    other = await signed.encode(dict(POLICE, requested_by="officer-1"))

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await signed.update(handle, "request_consultation", other)

    _refused(rejected, "requested_by")
    assert await _update_events(handle) == updates
    assert "ConsultationRequested" not in [t for t, _ in await signed.events(handle)]
    mine = await signed.encode(dict(POLICE, requested_by=OFFICER))
    await signed.update(handle, "request_consultation", mine)
    assert ("ConsultationRequested", OFFICER) in await signed.events(handle)


async def test_the_stamp_is_inside_the_seal_and_cannot_be_altered_or_supplied(
    signed: Signed,
) -> None:
    codec = EncryptionCodec(keys=signed.entry.keys, namespace=signed.entry.namespace)
    forged = data_converter().payload_converter.to_payloads([{"decided_by": "officer-1"}])[0]
    forged.metadata[SEALED_BY_METADATA] = b"officer-1"  # the operator's own "stamp"
    [sealed] = await signed.encode_payloads([forged])
    assert SEALED_BY_METADATA not in sealed.metadata  # nothing outside the ciphertext

    outer = Payload()
    outer.CopyFrom(sealed)
    outer.metadata[SEALED_BY_METADATA] = b"officer-1"
    [decoded] = await codec.decode([outer])
    assert decoded.metadata[SEALED_BY_METADATA] == OFFICER.encode()

    altered = Payload()
    altered.CopyFrom(sealed)
    altered.data = altered.data[:-1] + bytes([altered.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError):
        await codec.decode([altered])

    handle = await signed.opened_case()
    tampered = await signed.encode(
        {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"}
    )
    tampered.metadata[SEALED_BY_METADATA] = b"officer-1"
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await signed.update(handle, "record_protection_assessment", tampered)
    _refused(rejected, "decided_by")


async def test_a_sign_on_without_an_officer_identifier_may_record_no_decision(
    signed: Signed,
) -> None:
    handle = await signed.opened_case()
    subject = "4f1c2a9e-8d7b-4e3f-a1b2-c3d4e5f60718"  # an IdP's id, not an officer identifier
    sealed = await signed.encode(
        {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"}, subject=subject
    )

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await signed.update(handle, "record_protection_assessment", sealed)

    message = _refused(rejected, "decided_by")
    assert "SAMVERKAN_CODEC_OFFICER_CLAIM" in message and subject not in message
    # What names no officer (information, a case's input) goes through as before.
    information = await signed.encode(
        {"source": "school", "information": "Sealed note."}, subject=subject
    )
    await signed.entry.raw.get_workflow_handle(handle.id).signal(
        "add_information", RawValue(information)
    )

    async def recorded() -> bool:
        return "InformationAdded" in [t for t, _ in await signed.events(handle)]

    await eventually(recorded)


async def test_the_officer_claim_is_a_setting(signed: Signed) -> None:
    entry = signed.entry
    async with _codec_listener(entry, samverkan_codec_officer_claim="officer_id") as url:
        other = Signed(entry, url)
        handle = await other.opened_case()
        sealed = await other.encode(
            {"acute": False, "reasoning": REASONING, "decided_by": "anna.l"},
            subject="4f1c2a9e-8d7b-4e3f-a1b2-c3d4e5f60718",
            extra={"officer_id": "anna.l"},
        )
        await other.update(handle, "record_protection_assessment", sealed)
        assert ("ProtectionAssessed", "anna.l") in await other.events(handle)


async def test_payloads_sealed_without_the_codec_endpoint_are_not_stamped_or_checked(
    signed: Signed,
) -> None:
    handle = await signed.opened_case()  # `samverkan cases`: the SDK with the master keys
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"},
    )
    assert ("ProtectionAssessed", "officer-1") in await signed.events(handle)


async def test_the_dev_stacks_open_codec_endpoint_stamps_nothing(signed: Signed) -> None:
    entry = signed.entry  # entry.http is the codec endpoint with `DevOpenAccess`
    codec = EncryptionCodec(keys=entry.keys, namespace=entry.namespace)
    sent = data_converter().payload_converter.to_payloads([{"decided_by": "officer-1"}])[0]
    sent.metadata[SEALED_BY_METADATA] = b"officer-1"
    response = await entry.http.post(
        "/codec/encode",
        content=json_format.MessageToJson(Payloads(payloads=[sent])),
        headers={"X-Namespace": entry.namespace},
    )
    [sealed] = json_format.Parse(response.text, Payloads()).payloads

    [decoded] = await codec.decode([sealed])

    assert SEALED_BY_METADATA not in decoded.metadata
    handle = await signed.opened_case()
    [assessment] = await entry.encode(
        {"acute": False, "reasoning": REASONING, "decided_by": f"officer-{uuid.uuid4().hex[:4]}"}
    )
    await signed.update(handle, "record_protection_assessment", assessment)
    assert "ProtectionAssessed" in [t for t, _ in await signed.events(handle)]
