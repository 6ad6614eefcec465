"""Consultations: delivery, the agency's answer, decline, silence and refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.waiting import eventually
from tests.workflows.conftest import (
    STORE_KINDS,
    CaseStack,
    assessed_into_investigation,
    record_history,
    stored_types,
)

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

#: Every test here runs on the in-memory store and on PostgreSQL with the encrypting wrapper.
pytestmark = pytest.mark.parametrize("store_kind", STORE_KINDS, indirect=True)


async def _consult(handle: WorkflowHandle[Any, Any], body: dict[str, Any]) -> str:
    consultation_id: str = await handle.execute_update("request_consultation", body)
    return consultation_id


async def _has(stack: CaseStack, handle: WorkflowHandle[Any, Any], event_type: str) -> bool:
    return event_type in await stored_types(stack, handle)


async def test_police_answer_reaches_the_case_and_is_recorded_with_its_disclosure(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation_id = await _consult(handle, POLICE)
    assert consultation_id == f"{handle.id}:consultation-1"
    consultation = stack.client.get_workflow_handle(consultation_id)
    await consultation.execute_update("acknowledge", {"agency": "police"})
    await consultation.execute_update(
        "answer", {"agency": "police", "answer": "Known to SSPF since 2025."}
    )
    assert (await consultation.result())["outcome"] == "answered"

    async def delivered_and_answered() -> bool:  # the agency may answer before delivery is recorded
        recorded = set(await stored_types(stack, handle))
        return {"ConsultationDelivered", "ConsultationAnswered"} <= recorded

    await eventually(delivered_and_answered)
    types = await stored_types(stack, handle)
    assert types.index("ConsultationRequested") < types.index("DisclosureRecorded")
    assert {"ConsultationDelivered", "ConsultationAcknowledged"} <= set(types)
    created = await stack.simulator.created("police")
    assert [c["idempotency_key"] for c in created] == [consultation_id]
    summary = await handle.query("summary")
    assert summary["open_consultations"] == []
    await handle.execute_update(
        "record_child_views", {"views": "Agrees to the plan.", "decided_by": "officer-1"}
    )
    await handle.execute_update(
        "conclude_investigation", {"outcome": "sspf_plan", "decided_by": "officer-1"}
    )
    await handle.execute_update("close_case", {"reason": "Plan agreed.", "decided_by": "o-1"})
    await handle.result()
    await record_history(handle, "case-consultation-answered-batched-appends")
    await record_history(consultation, "case-consultation-answered-consultation-1")


async def test_only_the_addressed_agency_may_answer_and_only_once(stack: CaseStack) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation = stack.client.get_workflow_handle(await _consult(handle, POLICE))
    with pytest.raises(WorkflowUpdateFailedError) as wrong:
        await consultation.execute_update("answer", {"agency": "school", "answer": "Hello"})
    assert isinstance(wrong.value.cause, ApplicationError)
    assert "wrong_agency" in str(wrong.value.cause)
    await consultation.execute_update("decline", {"agency": "police", "reason": "No remit."})
    assert (await consultation.result())["outcome"] == "declined"
    await eventually(lambda: _has(stack, handle, "ConsultationDeclined"))
    await record_history(handle, "case-consultation-declined-batched-appends")


async def test_cve_never_receives_personal_data(stack: CaseStack) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation_id = await _consult(
        handle,
        {
            "agency": "cve",
            "legal_basis": "none",
            "questions": "Which method fits a 14-year-old in an online extremist milieu?",
            "requested_by": "officer-1",
        },
    )
    await eventually(lambda: _has(stack, handle, "ConsultationDelivered"))
    received = await stack.simulator.received("cve")
    assert len(received) == 1
    text = str(received[0])
    subject = stack.subjects[handle.id]
    assert subject["name"].split()[0] not in text
    assert subject["birth_date"] not in text and subject["birth_date"].replace("-", "") not in text
    assert "DisclosureRecorded" not in await stored_types(stack, handle)
    assert received[0]["headers"]["idempotency-key"] == consultation_id


async def test_silent_agency_is_reminded_then_the_case_proceeds_without_the_answer(
    timed_stack: CaseStack,
) -> None:
    stack = timed_stack
    await stack.simulator.set_behaviour("police", never_answer=True)
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation = stack.client.get_workflow_handle(await _consult(handle, POLICE))
    await stack.env.sleep(timedelta(days=30))
    assert (await consultation.result())["outcome"] == "expired"
    await eventually(lambda: _has(stack, handle, "ConsultationExpired"))
    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    rungs = [
        e.data["rung_name"]
        for e in envelopes
        if e.type == "EscalationRaised" and e.data["deadline_key"].startswith("consultation:")
    ]
    assert rungs == ["remind_agency", "agency_contact_person"]
    notices = await stack.simulator.created("police")
    assert sum(1 for n in notices if n["kind"] == "notice") == 1  # the reminder, once
    assert (await handle.query("summary"))["state"] == "investigation"
    await record_history(handle, "case-consultation-expired-batched-appends")
    await record_history(consultation, "case-consultation-expired-consultation-1")


async def test_agency_refusing_the_delivery_is_escalated_to_a_person_not_retried(
    stack: CaseStack,
) -> None:
    await stack.simulator.set_behaviour("police", reject=422)
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation = stack.client.get_workflow_handle(await _consult(handle, POLICE))
    assert (await consultation.result())["outcome"] == "delivery_failed"
    assert len(await stack.simulator.received("police")) == 1  # no retry loop
    await eventually(lambda: _has(stack, handle, "ConsultationExpired"))
    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    escalated = [e.data for e in envelopes if e.type == "EscalationRaised"]
    assert any(e["role"] == "officer" for e in escalated)
    assert (await handle.query("summary"))["open_consultations"] == []


async def test_consent_based_consultation_waits_for_consent_then_goes_out(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    consultation_id = await _consult(
        handle,
        {
            "agency": "school",
            "legal_basis": "consent",
            "questions": "Attendance this term?",
            "statement": {
                "consent": {
                    "given_by": "guardians",
                    "scope": "Attendance this term, to the school.",
                    "given_on": "2026-01-02",
                }
            },
            "requested_by": "officer-1",
        },
    )
    summary = await handle.query("summary")
    assert [c["consultation_id"] for c in summary["open_consultations"]] == [consultation_id]
    assert await stack.simulator.received("school") == []
    await handle.signal(
        "consent_changed", {"given": True, "scope": "school", "by_whom": "guardian"}
    )
    await eventually(lambda: _has(stack, handle, "ConsultationDelivered"))
    types = await stored_types(stack, handle)
    assert (
        types.index("ClockSuspended") < types.index("ConsentChanged") < types.index("ClockResumed")
    )
    assert len(await stack.simulator.created("school")) == 1
    await record_history(handle, "case-consultation-after-consent-batched-appends")


async def test_closing_a_case_cancels_its_open_consultations(stack: CaseStack) -> None:
    await stack.simulator.set_behaviour("police", never_answer=True)
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment", {"acute": False, "reasoning": "x", "decided_by": "o-1"}
    )
    consultation = stack.client.get_workflow_handle(await _consult(handle, POLICE))
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": False, "reasons": "Not needed.", "decided_by": "o-1"},
    )
    await handle.execute_update("close_case", {"reason": "Declined.", "decided_by": "o-1"})
    assert (await handle.result()).state == "closed"

    async def cancelled() -> bool:
        status = (await consultation.describe()).status
        return status is not None and status.name == "CANCELED"

    await eventually(cancelled)
