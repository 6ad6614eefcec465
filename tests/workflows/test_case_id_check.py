"""A CaseWorkflow runs only under ``case-<its case number>`` (patch samverkan-case-id-checked).

The codec picks a case's data key by workflow id, so a case under any other id would be
sealed under no case's key. A run under another id ends at once with a non-retryable
``WrongWorkflowId``, recording nothing (that path is in the replay corpus); under its own id
nothing changes, not even a patch marker.
"""

from __future__ import annotations

import json
import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from tests.workflows.conftest import CaseStack, record_history
from tests.workflows.test_replay import _patches
from workflows import CaseWorkflow
from workflows.case import CASE_ID_CHECKED, WRONG_WORKFLOW_ID


async def test_a_case_under_its_own_id_runs_its_commands_unchanged(stack: CaseStack) -> None:
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
    result = await handle.result()

    assert result.state == "closed"
    history = await handle.fetch_history()
    patches = [
        json.loads(payload.data)["id"]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]
    assert CASE_ID_CHECKED not in patches  # the check is asked for only when the id is wrong


async def test_a_case_under_another_id_fails_at_once_and_records_nothing(
    stack: CaseStack,
) -> None:
    data = dict(EXAMPLE_OPEN_CASE, case_number=f"W-{uuid.uuid4().hex[:8]}")
    data["received_at"] = (await stack.env.get_current_time()).isoformat()
    handle = await stack.client.start_workflow(
        CaseWorkflow.run,
        OpenCase.model_validate(data),
        id="intake-wrong-workflow-id",  # the recorded file's stem, which replay uses
        task_queue=stack.task_queue,
    )

    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == WRONG_WORKFLOW_ID
    assert cause.non_retryable
    assert f"case-{data['case_number']}" in cause.message
    assert await stack.store.read_case(data["case_number"]) == []
    history = await handle.fetch_history()
    assert not any(e.HasField("activity_task_scheduled_event_attributes") for e in history.events)
    await record_history(handle, "intake-wrong-workflow-id")


def test_the_corpus_holds_the_refused_path_of_the_id_check() -> None:
    from tests.workflows.test_replay import HISTORIES

    by_stem = {p.stem: p for p in HISTORIES}
    assert CASE_ID_CHECKED in _patches(by_stem["intake-wrong-workflow-id"])
