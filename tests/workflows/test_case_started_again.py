"""A case number is one case for good (patch samverkan-case-exists-checked).

Starting ``case-<n>`` again after the case closed (the Web UI and ``temporal workflow start``
allow a closed id by default) starts a run that finds the case's stream in the event store:
it ends at once with a non-retryable ``CaseAlreadyExists``, records nothing, and its summary
query says it is not the case. That path is in the replay corpus.
"""

from __future__ import annotations

import json

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHistory, WorkflowQueryFailedError
from temporalio.exceptions import ApplicationError

from tests.workflows.conftest import CaseStack, record_history
from tests.workflows.test_replay import HISTORIES, _patches
from workflows.case import CASE_ALREADY_EXISTS, CASE_EXISTS_CHECKED

RECORDED = "case-started-again-batched-appends"


def _patch_ids(history: WorkflowHistory) -> set[str]:
    return {
        json.loads(payload.data)["id"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    }


async def test_a_closed_case_started_again_is_left_as_it_was(stack: CaseStack) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No danger.", "decided_by": "officer-1"},
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": False, "reasons": "Not serious.", "decided_by": "officer-1"},
    )
    await handle.execute_update("close_case", {"reason": "Declined.", "decided_by": "officer-1"})
    closed = await handle.result()
    case_number = handle.id.removeprefix("case-")
    stored = await stack.store.read_case(case_number)

    # the SDK's default id reuse policy allows a closed id, as the Web UI's does
    again = await stack.open(case_number=case_number)
    with pytest.raises(WorkflowFailureError) as failed:
        await again.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == CASE_ALREADY_EXISTS
    assert cause.non_retryable
    assert f"case {case_number} already exists" in cause.message
    assert "\n" not in cause.message
    assert await stack.store.read_case(case_number) == stored  # nothing recorded
    assert closed.state == "closed" and closed.events == len(stored)
    # the case's own run still answers for the case; the second start says it is not it
    first = stack.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    assert (await first.query("summary"))["state"] == "closed"
    with pytest.raises(WorkflowQueryFailedError, match="not the case"):
        await again.query("summary")
    assert CASE_EXISTS_CHECKED in _patch_ids(await again.fetch_history())
    assert CASE_EXISTS_CHECKED not in _patch_ids(await first.fetch_history())
    await record_history(again, RECORDED)


def test_the_corpus_holds_the_refused_second_start() -> None:
    by_stem = {p.stem: p for p in HISTORIES}
    assert CASE_EXISTS_CHECKED in _patches(by_stem[RECORDED])
