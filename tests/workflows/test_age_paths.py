"""Age and identity on the time-skipping server (issue 17 item 5): a report about someone
21 or older ends the run at once (patch samverkan-age-checked, asked only then), naming the
birth date field and never the date; a child not yet identified is registered and
identified later by update, its deadlines running from receipt; an 18-to-20-year-old's
investigation opens only with consent or LVU 3 §."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.conftest import CaseStack, record_history, stored_types, subject_aged
from tests.workflows.test_replay import _patches
from workflows.case import AGE_CHECKED, SUBJECT_TOO_OLD

REFUSED = "age-21-refused"  # the recorded file is case-<this>.json; replay uses its stem
# (lowercase: the corpus sorts it after case-acute*, which test_replay tampers with first)


def _markers(history: Any) -> set[str]:
    return {
        json.loads(payload.data)["id"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    }


async def test_a_40_year_old_is_refused_at_once_recording_nothing(stack: CaseStack) -> None:
    received = await stack.env.get_current_time()
    subject = subject_aged(40, on=received.date())
    handle = await stack.open(case_number=REFUSED, received_at=received, subject=subject)

    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == SUBJECT_TOO_OLD
    assert cause.non_retryable
    assert "subject.birth_date" in cause.message and "21 or older" in cause.message
    born = date.fromisoformat(subject["birth_date"])
    for leak in (subject["birth_date"], str(born.year), subject["personal_identity_number"]):
        assert leak not in cause.message
    assert await stack.store.read_case(REFUSED) == []
    history = await handle.fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
    assert AGE_CHECKED in _markers(history)
    await record_history(handle, f"case-{REFUSED}")


async def test_a_child_runs_without_the_age_check_marker(stack: CaseStack) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No danger.", "decided_by": "officer-1"},
    )
    assert AGE_CHECKED not in _markers(await handle.fetch_history())


async def test_an_unidentified_child_is_registered_and_identified_later(stack: CaseStack) -> None:
    received = await stack.env.get_current_time()
    handle = await stack.open(
        received_at=received, subject={"unidentified": "pupil in class 8B, about 14"}
    )
    summary = await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No danger.", "decided_by": "officer-1"},
    )
    before = summary["deadlines"]["pre_assessment"]
    identified = subject_aged(14, on=received.date())
    after = await handle.execute_update(
        "identify_subject", {"subject": identified, "decided_by": "officer-1"}
    )
    assert after["deadlines"]["pre_assessment"] == before  # still from receipt
    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(
            "identify_subject", {"subject": identified, "decided_by": "officer-1"}
        )
    assert isinstance(again.value.cause, ApplicationError)
    assert "subject_already_identified" in again.value.cause.message
    assert "SubjectIdentified" in await stored_types(stack, handle)
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": False, "reasons": "Not serious.", "decided_by": "officer-1"},
    )
    await handle.execute_update("close_case", {"reason": "Declined.", "decided_by": "officer-1"})
    assert (await handle.result()).state == "closed"
    await record_history(handle, "case-unidentified-identified-batched-appends")


async def test_identifying_someone_21_or_older_is_refused_without_the_date(
    stack: CaseStack,
) -> None:
    received = await stack.env.get_current_time()
    handle = await stack.open(received_at=received, subject={"unidentified": "about 15"})
    adult = subject_aged(21, on=received.date())
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "identify_subject", {"subject": adult, "decided_by": "officer-1"}
        )
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert "subject_21_or_older" in cause.message and "subject.birth_date" in cause.message
    assert adult["birth_date"] not in cause.message
    assert "SubjectIdentified" not in await stored_types(stack, handle)


async def test_a_young_adult_investigation_needs_consent_or_lvu_3(stack: CaseStack) -> None:
    received = await stack.env.get_current_time()
    handle = await stack.open(received_at=received, subject=subject_aged(19, on=received.date()))
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No danger.", "decided_by": "officer-1"},
    )
    decision = {"open_investigation": True, "reasons": "Concern.", "decided_by": "officer-1"}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("decide_pre_assessment", decision)
    assert isinstance(refused.value.cause, ApplicationError)
    assert "young_adult_basis_required" in refused.value.cause.message
    assert "InvestigationOpened" not in await stored_types(stack, handle)
    summary = await handle.execute_update(
        "decide_pre_assessment", {**decision, "young_adult_basis": "consent"}
    )
    assert summary["state"] == "investigation"


def test_the_corpus_holds_the_refused_path_of_the_age_check() -> None:
    from tests.workflows.test_replay import HISTORIES

    by_stem = {p.stem: p for p in HISTORIES}
    assert AGE_CHECKED in _patches(by_stem[f"case-{REFUSED}"])
    assert "case-unidentified-identified-batched-appends" in by_stem
