"""Deadlines recorded on the case, breaches, escalation exactly once, and the summary."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import cases
from cases import DeadlineKind, Policy, RaiseEscalation, Rejected
from tests.cases.case_builders import T0, Case, types


def with_deadlines() -> Case:
    case = Case()
    case.set_deadline(DeadlineKind.PROTECTION_ASSESSMENT, T0)
    case.set_deadline(DeadlineKind.PRE_ASSESSMENT, T0)
    return case


def rung(case: Case, key: str, index: int) -> RaiseEscalation:
    deadline = case.s.deadlines[key]
    scheduled = next(
        r for r in cases.escalation_schedule(deadline, case.policy) if r.rung_index == index
    )
    return RaiseEscalation.from_rung(scheduled)


def test_recording_the_same_deadline_twice_changes_nothing() -> None:
    case = with_deadlines()
    deadline = case.s.deadlines["pre_assessment"]
    assert case.do(cases.RecordDeadline(deadline=deadline)) == []


def test_recording_a_deadline_for_an_unknown_consultation_is_rejected() -> None:
    case = Case()
    deadline = cases.compute_deadline(
        DeadlineKind.CONSULTATION,
        T0,
        policy=Policy.default(),
        agency=cases.Agency.SCHOOL,
        key="consultation:nope",
    )
    with pytest.raises(Rejected) as info:
        case.do(cases.RecordDeadline(deadline=deadline))
    assert info.value.code == "unknown_deadline"


def test_each_rung_is_raised_exactly_once() -> None:
    case = with_deadlines()
    first = case.do(rung(case, "pre_assessment", 0), after=timedelta(days=10))
    assert types(first) == ["EscalationRaised"]
    assert case.do(rung(case, "pre_assessment", 0)) == []
    assert ("pre_assessment", 0) in case.s.escalations_raised


def test_no_rung_is_raised_for_a_met_deadline() -> None:
    case = with_deadlines()
    case.assess()
    assert case.do(rung(case, "protection_assessment", 2)) == []


def test_a_rung_for_an_unknown_deadline_is_rejected() -> None:
    case = Case()
    with pytest.raises(Rejected):
        case.do(
            RaiseEscalation(
                deadline_key="investigation",
                rung_index=0,
                rung_name="x",
                role=cases.Role.OFFICER,
                action=cases.EscalationAction.REMIND,
            )
        )


def test_a_breach_is_recorded_once_after_legal_latest() -> None:
    case = with_deadlines()
    with pytest.raises(Rejected) as info:
        case.do(cases.RecordBreach(deadline_key="pre_assessment"))
    assert info.value.code == "deadline_not_passed"
    events = case.do(cases.RecordBreach(deadline_key="pre_assessment"), after=timedelta(days=20))
    assert types(events) == ["DeadlineBreached"]
    assert case.s.deadline_status["pre_assessment"].label == "breached"
    assert case.do(cases.RecordBreach(deadline_key="pre_assessment")) == []


def test_a_met_deadline_is_never_breached() -> None:
    case = with_deadlines()
    case.assess()
    assert (
        case.do(cases.RecordBreach(deadline_key="protection_assessment"), after=timedelta(days=5))
        == []
    )


def test_a_moved_deadline_lets_its_rungs_fire_again() -> None:
    case = with_deadlines()
    case.assess()
    case.pre_assess(open_investigation=True)
    case.set_deadline(DeadlineKind.INVESTIGATION, case.now)
    first = case.do(rung(case, "investigation", 0), after=timedelta(days=92))
    assert types(first) == ["EscalationRaised"]
    assert case.do(rung(case, "investigation", 0)) == []  # not twice for the same deadline
    case.do(
        cases.ExtendInvestigation(
            until=case.now.date() + timedelta(days=60), reasons="waiting for BUP", decided_by="m"
        )
    )
    case.set_deadline(
        DeadlineKind.INVESTIGATION, case.now, until=case.s.investigation_extended_until
    )
    assert ("investigation", 0) not in case.s.escalations_raised

    again = case.do(rung(case, "investigation", 0), after=timedelta(days=30))

    assert types(again) == ["EscalationRaised"]
    raised = again[0]
    assert isinstance(raised, cases.EscalationRaised)
    assert (raised.deadline_key, raised.rung_index) == ("investigation", 0)
    assert ("investigation", 0) in case.s.escalations_raised


def test_overdue_count_counts_pending_deadlines_past_legal_latest() -> None:
    case = with_deadlines()
    assert case.s.overdue_count(T0) == 0
    assert case.s.overdue_count(T0 + timedelta(days=1)) == 1
    assert case.s.overdue_count(T0 + timedelta(days=30)) == 2
    case.assess()
    assert case.s.overdue_count(T0 + timedelta(days=30)) == 1


def test_next_deadline_is_the_earliest_pending_legal_latest() -> None:
    case = with_deadlines()
    assert case.s.next_deadline() == case.s.deadlines["protection_assessment"]
    case.assess()
    assert case.s.next_deadline() == case.s.deadlines["pre_assessment"]


def test_the_summary_is_json_and_holds_no_personal_data() -> None:
    case = with_deadlines()
    case.assess()
    case.ask(cases.Agency.SCHOOL, cases.LegalBasis.DUTY_TO_INFORM, questions="secret question")
    summary = case.s.to_summary(now=T0 + timedelta(days=1))
    text = json.dumps(summary)
    subject = case.s.subject
    for personal in (
        subject.name,
        subject.personal_identity_number,
        subject.birth_date.isoformat(),
        case.s.summary,
        "secret question",
    ):
        assert personal not in text
    assert summary["state"] == "pre_assessment"
    assert summary["deadlines"]["protection_assessment"]["status"] == "met"
    assert summary["open_consultations"][0]["agency"] == "school"
    assert summary["overdue_count"] == 0
    assert summary["next_expected_action"].startswith("Decide whether to open an investigation by")
    assert "school" in summary["next_expected_action"]


def test_next_expected_action_says_where_each_state_stands() -> None:
    case = Case()
    assert case.s.next_expected_action() == "Make the protection assessment."
    case.assess()
    case.pre_assess(open_investigation=False)
    assert case.s.next_expected_action() == "Start the follow-up or close the case."
    case.close()
    assert case.s.next_expected_action() == "Nothing: the case is closed."
