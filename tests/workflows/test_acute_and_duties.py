"""The acute path and the duties around an investigation (issue 17 items 6 and 7), on the
time-skipping server: an immediate custody's LVU 7 § / 8 § deadlines and its lapse, the
feedback task, information given, the child's views, a joined report and the
pre-assessment's extension."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.waiting import eventually
from tests.workflows.conftest import CaseStack, record_history, stored_types


async def _refused(handle: WorkflowHandle[Any, Any], update: str, body: dict[str, Any]) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(update, body)
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError) and cause.details
    code: str = cause.details[0]["code"]
    return code


async def test_acute_custody_runs_its_lvu_deadlines_and_lapses_when_care_is_not_applied_for(
    timed_stack: CaseStack,
) -> None:
    stack = timed_stack
    handle = await stack.open(urgent=True)
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": True, "reasoning": "Threat of violence.", "decided_by": "on-call-2"},
    )
    decline = {"open_investigation": False, "reasons": "No.", "decided_by": "officer-1"}
    assert (
        await _refused(handle, "decide_pre_assessment", decline) == "acute_requires_investigation"
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Acute risk.", "decided_by": "officer-1"},
    )
    now = await stack.env.get_current_time()
    summary = await handle.execute_update(
        "decide_immediate_custody",
        {"decision_maker": "chair", "decided_at": now.isoformat(), "decided_by": "chair-1"},
    )
    deadlines = summary["deadlines"]
    assert {"custody_submission", "care_application"} <= set(deadlines)
    assert "LVU 7 §" in summary["next_expected_action"]
    summary = await handle.execute_update(
        "record_court_filing", {"filing": "custody_submitted", "decided_by": "officer-1"}
    )
    assert summary["deadlines"]["custody_submission"]["status"] == "met"
    assert summary["deadlines"]["care_application"]["status"] == "open"

    await stack.env.sleep(timedelta(days=30))  # past the four weeks

    async def lapsed() -> bool:
        return "ImmediateCustodyLapsed" in await stored_types(stack, handle)

    await eventually(lapsed)
    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    [ended] = [e for e in envelopes if e.type == "ImmediateCustodyLapsed"]
    assert ended.data["deadline_key"] == "care_application"
    raised = {
        (e.data["deadline_key"], e.data["rung_name"])
        for e in envelopes
        if e.type == "EscalationRaised"
    }
    assert ("care_application", "custody_lapses") in raised
    assert ("care_application", "remind_officer") in raised
    assert not any(key == "custody_submission" for key, _ in raised)  # met in time
    filing = {"filing": "care_applied", "decided_by": "officer-1"}
    assert await _refused(handle, "record_court_filing", filing) == "custody_lapsed"
    await record_history(handle, "case-acute-custody-lapsed-batched-appends")


async def test_feedback_is_a_task_and_the_duties_are_recorded_before_concluding(
    stack: CaseStack,
) -> None:
    handle = await stack.open()  # the README example: a mandatory reporter (school)
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
    )
    summary = await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Specific concern.", "decided_by": "officer-1"},
    )
    assert summary["deadlines"]["feedback_to_reporter"]["status"] == "open"
    assert "give feedback to the reporter" in summary["next_expected_action"]
    types = await stored_types(stack, handle)
    assert "FeedbackDue" in types and "FeedbackSent" not in types
    summary = await handle.execute_update(
        "give_feedback",
        {
            "content": "An investigation has been opened.",
            "meeting_offered": True,
            "decided_by": "officer-1",
        },
    )
    assert summary["deadlines"]["feedback_to_reporter"]["status"] == "met"
    await handle.execute_update(
        "record_information_given", {"party": "guardian", "decided_by": "officer-1"}
    )
    conclude = {"outcome": "intervention", "decided_by": "officer-1"}
    assert await _refused(handle, "conclude_investigation", conclude) == "child_views_required"
    await handle.execute_update(
        "record_child_views",
        {"views": "Wants to keep going to school.", "decided_by": "officer-1"},
    )
    await handle.execute_update("conclude_investigation", conclude)
    await handle.execute_update("close_case", {"reason": "Done.", "decided_by": "officer-1"})
    assert (await handle.result()).state == "closed"
    types = await stored_types(stack, handle)
    for kind in ("FeedbackSent", "InformationGiven", "ChildViewsRecorded"):
        assert kind in types
    timeline = await handle.query("timeline")
    sent = next(e for e in timeline if e["type"] == "FeedbackSent")
    assert "content" not in sent["data"] and sent["data"]["meeting_offered"] is True
    await record_history(handle, "case-feedback-task-batched-appends")


async def test_a_joined_report_starts_no_clock(stack: CaseStack) -> None:
    handle = await stack.open(mandatory_reporter=False, reporter_kind="relative")
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
    )
    before = await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Specific concern.", "decided_by": "officer-1"},
    )
    now = await stack.env.get_current_time()
    after = await handle.execute_update(
        "join_report",
        {
            "received_at": now.isoformat(),
            "reporter_kind": "police",
            "mandatory_reporter": True,
            "concern_category": "radicalisation",
            "summary": "A second report about the same young person.",
            "decided_by": "officer-1",
        },
    )
    assert after["deadlines"] == before["deadlines"]
    assert after["state"] == "investigation"
    types = await stored_types(stack, handle)
    assert types[-1] == "ReportJoined"
    assert types.count("DeadlineSet") == 3  # protection, pre-assessment, investigation
    timeline = await handle.query("timeline")
    assert "summary" not in timeline[-1]["data"]
    await record_history(handle, "case-report-joined-batched-appends")


async def test_a_unit_manager_extends_the_pre_assessment(stack: CaseStack) -> None:
    handle = await stack.open(mandatory_reporter=False, reporter_kind="relative")
    first = await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
    )
    old_latest = first["deadlines"]["pre_assessment"]["legal_latest"]
    body = {
        "until": "2099-01-01",
        "reasons": "The young person is abroad.",
        "decided_by_role": "officer",
        "decided_by": "officer-1",
    }
    assert await _refused(handle, "extend_pre_assessment", body) == "unit_manager_required"
    now = await stack.env.get_current_time()
    until = (now + timedelta(days=30)).date().isoformat()
    summary = await handle.execute_update(
        "extend_pre_assessment",
        {**body, "until": until, "decided_by_role": "unit_manager", "decided_by": "manager-1"},
    )
    moved = summary["deadlines"]["pre_assessment"]
    assert moved["target"].startswith(until) and moved["legal_latest"] > old_latest
    assert "PreAssessmentExtended" in await stored_types(stack, handle)
    await record_history(handle, "case-pre-assessment-extended-batched-appends")


def test_the_web_ui_details_say_whether_a_custody_is_in_force_or_ended() -> None:
    from datetime import datetime

    import cases
    from tests.cases.case_builders import STHLM, Case
    from workflows.presentation import current_details

    case = Case()
    case.assess(acute=True)
    details = current_details(case.s, now=case.now)
    assert "open the investigation at once" in details and "LVU 6" not in details
    case.do(
        cases.DecideImmediateCustody(
            decision_maker=cases.CustodyDecisionMaker.COMMITTEE,
            decided_at=case.now,
            decided_by="chair-1",
        )
    )
    details = current_details(case.s, now=case.now)
    assert "**Immediate custody (LVU 6 §):** in force" in details
    assert "submit the immediate custody to the administrative court (LVU 7 §)" in details
    deadline = case.set_deadline(cases.DeadlineKind.CUSTODY_SUBMISSION, case.now)
    case.do(
        cases.RecordBreach(deadline_key="custody_submission"),
        after=deadline.legal_latest - case.now + timedelta(seconds=1),
    )
    details = current_details(case.s, now=datetime(2026, 3, 10, 12, 0, tzinfo=STHLM))
    assert "ended by law (LVU 9 §), custody submission missed" in details
    assert "Testperson" not in details
