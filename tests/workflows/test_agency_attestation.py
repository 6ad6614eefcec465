"""A consultation takes acknowledge, answer and decline only with the gateway's attestation.

An operator may write to the namespace (Web UI, ``temporal`` CLI) but holds no attestation
key: an agency update it sends, in any agency's name, is refused before anything is written
to the history, and so is one whose attestation was made for anything else.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from infra.attestation import AGENCY_UPDATES, HEADER, Attestation, AttestationKeys, Subject
from infra.attestation_interceptors import UNAUTHENTICATED, header_payload
from tests.agencies.support import SimulatorAdmin
from tests.agency_attestation import TEST_ATTESTATION_ENTRY, TEST_ATTESTATION_KEYS, unsigned
from tests.workflows.conftest import (
    CaseStack,
    assessed_into_investigation,
    running_stack,
    stored_types,
)
from workflows import ConsultationWorkflow

POLICE = {
    "agency": "police",
    "legal_basis": "osl_10_18a",
    "questions": "Is the youth known in SSPF?",
    "statement": {
        "osl_10_18a": {
            "risk_of_criminal_activity": "Recruited by a violent group, says the school.",
            "may_help_prevent": "The police can place him in the SSPF programme.",
            "not_inappropriate": "Our planned support is not hindered by it.",
        }
    },
    "requested_by": "officer-1",
}
ANSWER = {"agency": "police", "answer": "Known to SSPF since 2025."}

Forge = Callable[[Subject], Payload]


class _Forging(Interceptor):
    """A client that sends agency updates with a header made by ``forge`` from the subject
    the gateway would have signed."""

    def __init__(self, forge: Forge) -> None:
        self._forge = forge

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        forge = self._forge

        class Outbound(OutboundInterceptor):
            async def start_workflow_update(
                self, input: StartWorkflowUpdateInput
            ) -> WorkflowUpdateHandle[Any]:
                input.update_id = input.update_id or str(uuid.uuid4())
                subject = Subject(
                    namespace="default",
                    workflow_id=input.id,
                    update_name=input.update,
                    update_id=input.update_id,
                    agency=input.args[0]["agency"],
                )
                input.headers = {**input.headers, HEADER: forge(subject)}
                return await self.next.start_workflow_update(input)

        return Outbound(next)


def _forging(client: Client, forge: Forge) -> Client:
    config = unsigned(client).config()
    config["interceptors"] = [*config["interceptors"], _Forging(forge)]
    return Client(**config)


def _signed(keys: AttestationKeys, **changes: str) -> Forge:
    """A header signed with ``keys`` for the subject with ``changes``."""
    return lambda subject: header_payload(keys.sign(replace(subject, **changes)))


def _tampered(subject: Subject) -> Payload:
    good = TEST_ATTESTATION_KEYS.sign(subject)
    flipped = good.mac[:-2] + ("A" if good.mac[-2] != "A" else "B") + good.mac[-1]
    return header_payload(replace(good, mac=flipped))


def _relabelled(subject: Subject) -> Payload:
    """Signed for the school, labelled police."""
    school = TEST_ATTESTATION_KEYS.sign(replace(subject, agency="school"))
    return header_payload(replace(school, agency="police"))


STRANGER = AttestationKeys.parse(AttestationKeys.generate_entry("stranger1"))
#: The tests' key id with another key behind it.
IMPOSTOR = AttestationKeys.parse(AttestationKeys.generate_entry("tests1"))

FORGERIES: dict[str, Forge] = {
    "for another consultation": _signed(
        TEST_ATTESTATION_KEYS, workflow_id="case-T-other:consultation-1"
    ),
    "for another agency": _signed(TEST_ATTESTATION_KEYS, agency="school"),
    "for another agency, relabelled": _relabelled,
    "for another namespace": _signed(TEST_ATTESTATION_KEYS, namespace="samverkan-eskilstuna"),
    "for another update": _signed(TEST_ATTESTATION_KEYS, update_name="decline"),
    "for another update id": _signed(TEST_ATTESTATION_KEYS, update_id="copied-from-history"),
    "under an unknown key id": _signed(STRANGER),
    "under another key with a known id": _signed(IMPOSTOR),
    "with a tampered mac": _tampered,
    "malformed": lambda _: Payload(metadata={"encoding": b"json/plain"}, data=b'"police"'),
}


async def _consultation(stack: CaseStack) -> WorkflowHandle[Any, Any]:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation_id: str = await handle.execute_update("request_consultation", POLICE)
    return stack.client.get_workflow_handle(consultation_id)


async def _update_events(handle: WorkflowHandle[Any, Any]) -> list[int]:
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    return [e.event_type for e in (await handle.fetch_history()).events if e.event_type == accepted]


def _refusal(error: pytest.ExceptionInfo[WorkflowUpdateFailedError]) -> str:
    cause = error.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == UNAUTHENTICATED
    return str(cause.message)


async def test_an_unsigned_answer_is_refused_and_nothing_is_recorded(stack: CaseStack) -> None:
    consultation = await _consultation(stack)
    direct = unsigned(stack.client).get_workflow_handle(consultation.id)

    messages = []
    for name, body in [
        ("acknowledge", {"agency": "police"}),
        ("answer", ANSWER),
        ("decline", {"agency": "police", "reason": "No remit."}),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await direct.execute_update(name, body)
        messages.append(_refusal(refused))

    assert (
        messages
        == [
            "unauthenticated: no agency attestation; "
            "agency updates are accepted only through the agency gateway"
        ]
        * 3
    )
    assert await _update_events(consultation) == []
    status = await consultation.query("status")
    assert (status["acknowledged"], status["outcome"]) == (False, None)
    case = stack.client.get_workflow_handle(consultation.id.split(":")[0])
    assert "ConsultationAnswered" not in await stored_types(stack, case)
    await consultation.execute_update("answer", ANSWER)  # the gateway's path still works
    assert (await consultation.result())["outcome"] == "answered"


async def test_an_attestation_made_for_anything_else_is_refused(stack: CaseStack) -> None:
    consultation = await _consultation(stack)

    refused_by_name = {}
    for name, forge in FORGERIES.items():
        forged = _forging(stack.client, forge).get_workflow_handle(consultation.id)
        try:
            await forged.execute_update("answer", ANSWER)
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            refused_by_name[name] = isinstance(cause, ApplicationError) and (
                cause.type == UNAUTHENTICATED
            )
        else:
            refused_by_name[name] = False

    assert refused_by_name == dict.fromkeys(FORGERIES, True)
    assert await _update_events(consultation) == []
    assert (await consultation.query("status"))["outcome"] is None
    honest = _forging(stack.client, _signed(TEST_ATTESTATION_KEYS))  # the control: same path
    await honest.get_workflow_handle(consultation.id).execute_update("answer", ANSWER)
    assert (await consultation.result())["outcome"] == "answered"


def test_every_agency_update_of_the_consultation_has_a_validator() -> None:
    """The check runs in the update's validator stage, which the SDK runs only for updates
    that have a validator: an agency update without one would go unchecked."""
    definition = workflow._Definition.from_class(ConsultationWorkflow)
    assert definition is not None
    assert {name for name in AGENCY_UPDATES if definition.updates[name].validator} == set(
        AGENCY_UPDATES
    )


@pytest_asyncio.fixture
async def rotated_stack(
    module_time_skipping_env: WorkflowEnvironment,
    workflow_simulator: SimulatorAdmin,
    task_queue: str,
) -> AsyncIterator[CaseStack]:
    """A worker that has the new key first and the tests' (old) key second."""
    rotated = AttestationKeys.parse(
        f"{AttestationKeys.generate_entry('tests2')},{TEST_ATTESTATION_ENTRY}"
    )
    async with running_stack(
        module_time_skipping_env, workflow_simulator, task_queue, attestation_keys=rotated
    ) as stack:
        yield stack


async def test_a_gateway_still_on_the_old_key_is_accepted_after_the_workers_rotate(
    rotated_stack: CaseStack,
) -> None:
    consultation = await _consultation(rotated_stack)

    await consultation.execute_update("acknowledge", {"agency": "police"})  # signed "tests1"
    await consultation.execute_update("answer", ANSWER)

    assert (await consultation.result())["outcome"] == "answered"


@pytest_asyncio.fixture
async def keyless_stack(
    module_time_skipping_env: WorkflowEnvironment,
    workflow_simulator: SimulatorAdmin,
    task_queue: str,
) -> AsyncIterator[CaseStack]:
    async with running_stack(
        module_time_skipping_env, workflow_simulator, task_queue, attestation_keys=None
    ) as stack:
        yield stack


async def test_a_worker_without_keys_refuses_even_a_signed_answer_and_says_why(
    keyless_stack: CaseStack,
) -> None:
    consultation = await _consultation(keyless_stack)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await consultation.execute_update("answer", ANSWER)

    assert _refusal(refused).startswith(
        "unauthenticated: this worker has no attestation keys (SAMVERKAN_AGENCY_ATTESTATION_KEYS)"
    )
    assert await _update_events(consultation) == []


def test_attestation_header_carries_no_more_than_agency_key_id_and_mac() -> None:
    subject = Subject("default", "case-1:consultation-1", "answer", "u-1", "police")
    payload = header_payload(TEST_ATTESTATION_KEYS.sign(subject))

    assert set(Attestation.decode(payload.data).__slots__) == {"kid", "agency", "mac"}
    assert b"case-1" not in payload.data and b"u-1" not in payload.data
