"""A ConsultationWorkflow runs only as the child its case starts (patch
samverkan-consultation-started-by-its-case).

The case's ``request_consultation`` is where the disclosure table and the legal basis are
checked; a consultation started directly (Web UI, ``temporal workflow start``) would send an
agency what nobody checked. Such a run ends at once with a non-retryable
``NotStartedByItsCase`` and delivers nothing (that path is in the replay corpus); the child a
case starts runs as before, without even a patch marker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from tests.workflows.conftest import CaseStack, assessed_into_investigation, record_history
from tests.workflows.test_consultations import POLICE
from tests.workflows.test_replay import _patches
from workflows.consultation import (
    NOT_STARTED_BY_ITS_CASE,
    STARTED_BY_ITS_CASE,
    ConsultationWorkflow,
)
from workflows.messages import ConsultationInput

#: The recorded file's stem, which the replay test uses as the workflow id.
RECORDED = "case-consultation-not-started-by-its-case"


def _markers(events: Any) -> list[str]:
    return [
        json.loads(payload.data)["id"]
        for e in events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


async def _input_of(stack: CaseStack, child: WorkflowHandle[Any, Any]) -> ConsultationInput:
    history = await child.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [request] = await stack.client.data_converter.decode(
        started.input.payloads, [ConsultationInput]
    )
    assert isinstance(request, ConsultationInput)
    return request


async def _refused(stack: CaseStack, request: ConsultationInput, workflow_id: str) -> Any:
    handle = await stack.client.start_workflow(
        ConsultationWorkflow.run, request, id=workflow_id, task_queue=stack.task_queue
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    history = await handle.fetch_history()
    return handle, failed.value.cause, history


async def test_a_consultation_started_directly_ends_at_once_and_delivers_nothing(
    stack: CaseStack,
) -> None:
    case = await stack.open()
    await assessed_into_investigation(case)
    consultation_id: str = await case.execute_update("request_consultation", POLICE)
    child = stack.client.get_workflow_handle(consultation_id)
    request = await _input_of(stack, child)
    child_history = await child.fetch_history()
    assert STARTED_BY_ITS_CASE not in _markers(child_history.events)  # the case's child: as before

    # The same checked input, started by hand: under another id, and under a well-formed
    # consultation id of the same case that its case never started.
    for workflow_id in (RECORDED, f"{case.id}:consultation-9"):
        handle, cause, history = await _refused(stack, request, workflow_id)
        assert isinstance(cause, ApplicationError) and cause.type == NOT_STARTED_BY_ITS_CASE
        assert cause.non_retryable
        assert "request_consultation" in cause.message
        assert not any(
            e.HasField("activity_task_scheduled_event_attributes") for e in history.events
        )
        assert STARTED_BY_ITS_CASE in _markers(history.events)
        if workflow_id == RECORDED:
            await record_history(handle, RECORDED)

    created = await stack.simulator.created("police")
    assert [c["idempotency_key"] for c in created] == [consultation_id]  # the child's only


def test_the_corpus_holds_the_refused_path_of_the_parent_check() -> None:
    from tests.workflows.test_replay import HISTORIES

    by_stem = {p.stem: p for p in HISTORIES}
    assert STARTED_BY_ITS_CASE in _patches(by_stem[RECORDED])
