"""The ordinary paths of a case on the time-skipping server, as an operator drives them."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from tests.workflows.conftest import CaseStack, record_history


async def test_case_moves_through_assessments_into_investigation_and_records_events(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    summary = await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
    )
    assert summary["state"] == "pre_assessment"
    summary = await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Specific concern.", "decided_by": "officer-1"},
    )
    assert summary["state"] == "investigation"

    case_number = handle.id.removeprefix("case-")
    stored = [e.type for e in await stack.store.read_case(case_number)]
    assert stored[0] == "ReportReceived"
    assert {"ProtectionAssessed", "InvestigationOpened", "FeedbackDue", "DeadlineMet"} <= set(
        stored
    )
    # protection, pre-assessment, investigation, and the feedback task (patch
    # samverkan-feedback-task: the example's reporter is a mandatory one)
    assert stored.count("DeadlineSet") == 4
    versions = [e.version for e in await stack.store.read_case(case_number)]
    assert versions == list(range(1, len(versions) + 1))

    timeline = await handle.query("timeline")
    assert [entry["type"] for entry in timeline] == stored
    assert all("subject" not in e["data"] and "summary" not in e["data"] for e in timeline)


async def test_second_case_with_the_same_number_is_refused(stack: CaseStack) -> None:
    handle = await stack.open()
    with pytest.raises(WorkflowAlreadyStartedError):
        await stack.open(case_number=handle.id.removeprefix("case-"))


async def test_rejected_update_names_the_rule_and_leaves_no_trace_in_history(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Fine.", "decided_by": "officer-1"},
    )
    before = _non_task_events(await handle.fetch_history())
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "Again.", "decided_by": "officer-1"},
        )
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "Rejected"
    assert cause.details and cause.details[0]["code"]
    history = await handle.fetch_history()
    assert _non_task_events(history) == before  # the test server may log a workflow task
    accepted = [
        e
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
    ]
    assert len(accepted) == 1  # only the first, valid assessment


def _non_task_events(history: WorkflowHistory) -> list[int]:
    """Event types other than workflow-task bookkeeping."""
    return [e.event_type for e in history.events if not 5 <= e.event_type <= 9]


async def test_malformed_update_is_refused_with_the_field_named(stack: CaseStack) -> None:
    handle = await stack.open()
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": "perhaps", "reasoning": "x", "decided_by": "officer-1"},
        )
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidInput"
    assert "acute" in str(cause) and "perhaps" not in str(cause)


async def test_malformed_signal_is_recorded_as_rejected_and_the_case_goes_on(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await handle.signal("add_information", {"source": "school"})  # information missing
    await handle.signal("add_information", "not even an object")
    await handle.signal("add_information", {"source": "school", "information": "Absent twice."})
    summary = await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Fine.", "decided_by": "officer-1"},
    )
    assert summary["state"] == "pre_assessment"
    types = [e.type for e in await stack.store.read_case(handle.id.removeprefix("case-"))]
    assert types.count("SignalRejected") == 2
    assert "InformationAdded" in types


async def test_declined_case_closes_and_the_workflow_completes(stack: CaseStack) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Fine.", "decided_by": "officer-1"},
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": False, "reasons": "Not serious.", "decided_by": "officer-1"},
    )
    await handle.execute_update("close_case", {"reason": "Declined.", "decided_by": "officer-1"})
    result = await handle.result()
    assert result.state == "closed"
    types = [e.type for e in await stack.store.read_case(handle.id.removeprefix("case-"))]
    assert "InvestigationDeclined" in types and types[-1] == "CaseClosed"
    await record_history(handle, "case-declined-batched-appends")


async def test_ordinary_case_runs_from_report_to_closing(stack: CaseStack) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Fine.", "decided_by": "officer-1"},
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Serious.", "decided_by": "officer-1"},
    )
    await handle.signal("add_information", {"source": "school", "information": "Absent twice."})
    await handle.execute_update(
        "record_child_views", {"views": "Wants support.", "decided_by": "officer-1"}
    )
    await handle.execute_update(
        "conclude_investigation", {"outcome": "intervention", "decided_by": "officer-1"}
    )
    await handle.execute_update("close_case", {"reason": "Done.", "decided_by": "officer-1"})
    result = await handle.result()
    assert result.state == "closed"
    types = [e.type for e in await stack.store.read_case(handle.id.removeprefix("case-"))]
    assert types[-1] == "CaseClosed" and "InvestigationConcluded" in types
    await record_history(handle, "case-ordinary-batched-appends")


async def test_acute_report_goes_to_immediate_protection_then_on(stack: CaseStack) -> None:
    handle = await stack.open(urgent=True)
    summary = await handle.execute_update(
        "record_protection_assessment",
        {"acute": True, "reasoning": "Threat of violence.", "decided_by": "on-call-2"},
    )
    assert summary["state"] == "immediate_protection"
    assert "Protect the child now" in summary["next_expected_action"]
    summary = await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Acute risk.", "decided_by": "officer-1"},
    )
    assert summary["state"] == "investigation"
    await record_history(handle, "case-acute-batched-appends")


async def test_web_ui_sees_every_handler_described_and_current_details(stack: CaseStack) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Fine.", "decided_by": "officer-1"},
    )
    metadata = await handle.query("__temporal_workflow_metadata")
    definition = metadata.definition
    handlers = [
        *definition.update_definitions,
        *definition.signal_definitions,
        *definition.query_definitions,
    ]
    described = {h.name: h.description for h in handlers}
    for name in (
        "record_protection_assessment",
        "decide_pre_assessment",
        "request_consultation",
        "extend_investigation",
        "conclude_investigation",
        "close_case",
        "add_information",
        "consent_changed",
        "summary",
        "timeline",
    ):
        assert described.get(name), f"{name} has no description"
    details = metadata.current_details
    assert "Pre-assessment" in details and "Next:" in details
    born = stack.subjects[handle.id]["birth_date"]
    assert "Testperson" not in details and born.replace("-", "") not in details
    assert born not in details
