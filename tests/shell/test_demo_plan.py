"""What ``samverkan demo seed`` sends, checked against the case domain: a demo input the case
workflow would refuse fails a seed only on a running stack, so every demo case is driven
here through the checks the workflow's update validators make and the domain's decisions,
as the workflow does (the opening and every decision at the time of seeding)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, get_type_hints

import pytest

import cases
from cases import STOCKHOLM, CaseState, CaseStateName, DecidePreAssessment, OpenCase
from cases.commands import RecordDeadline, check_new_input
from cases.deadlines import compute_deadline
from cases.decide import check_new_decision, check_opening
from cases.decide_deadlines import DeadlineToSet, deadlines_at_report, deadlines_started_by
from cases.ids import CASE_NUMBER_PATTERN
from cases.policy import Policy
from samverkan.demo import PROFILES, DemoCase, demo_cases
from workflows import CaseWorkflow

NOWS = (
    datetime(2026, 12, 2, 11, 15, tzinfo=STOCKHOLM),
    datetime(2027, 1, 4, 8, 0, tzinfo=STOCKHOLM),  # the first days of a year
    datetime(2026, 6, 30, 23, 50, tzinfo=STOCKHOLM),  # late in the day, end of a month
)


def _drive(case: DemoCase, now: datetime) -> CaseState:
    """The demo case opened and moved at ``now`` (a minute per step), answering its
    consultations before a step that waits for the answers, as the simulator does."""
    opening = OpenCase.model_validate(case.opening)
    check_opening(opening)
    state: CaseState | None = None
    for event in cases.decide(None, opening, now=now):
        state = cases.apply(state, event)
    assert state is not None
    state = _record(state, deadlines_at_report(state), now)
    for step in case.steps:
        now += timedelta(minutes=1)
        if step.after_answers:
            state = _answer_all(state, now)
        command: Any = step.command.model_validate(step.body)
        check_new_input(command)
        check_new_decision(state, command)
        feedback_task = isinstance(command, DecidePreAssessment) and state.mandatory_reporter
        events = cases.decide(state, command, now=now, feedback_task=feedback_task)
        for event in events:
            state = cases.apply(state, event)
        state = _record(state, deadlines_started_by(events, now=now), now)
    return state


def _record(state: CaseState, started: list[DeadlineToSet], now: datetime) -> CaseState:
    """The deadlines a step started, computed and recorded as the workflow does."""
    for to_set in started:
        deadline = compute_deadline(
            to_set.kind,
            to_set.start,
            policy=Policy.default(),
            agency=to_set.agency,
            acute=to_set.acute,
            key=to_set.key,
            until=to_set.until,
        )
        for event in cases.decide(state, RecordDeadline(deadline=deadline), now=now):
            state = cases.apply(state, event)
    return state


def _answer_all(state: CaseState, now: datetime) -> CaseState:
    for open_ in state.open_consultations():
        answer = cases.AnswerConsultation(
            agency=open_.agency, answer="Demo answer.", consultation_id=open_.consultation_id
        )
        for event in cases.decide(state, answer, now=now):
            state = cases.apply(state, event)
    return state


@pytest.mark.parametrize("now", NOWS, ids=lambda n: n.date().isoformat())
def test_every_demo_case_is_accepted_and_ends_where_its_profile_says(now: datetime) -> None:
    seeded = demo_cases(2 * len(PROFILES), now=now)
    for case in seeded:
        state = _drive(case, now)
        summary = state.to_summary(now=now + timedelta(hours=1))
        shows = case.shows
        if "closed" in shows:
            assert state.state is CaseStateName.CLOSED, shows
        else:
            assert state.state is not CaseStateName.CLOSED, shows
        if shows.startswith("received only"):
            overdue = " ".join(summary["overdue"])
            assert "Protection assessment" in overdue and "Pre-assessment" in overdue, overdue
        if "pre-assessment due within a week" in shows:
            due = datetime.fromisoformat(summary["deadlines"]["pre_assessment"]["legal_latest"])
            assert now < due <= now + timedelta(days=7), (shows, due)
        if "waiting" in shows:
            assert [c["agency"] for c in summary["open_consultations"]] == ["police"]
        if "extended" in shows:
            assert state.extension_count == 1
        if "concluded" in shows:
            assert state.outcome is cases.InvestigationOutcome.INTERVENTION


def test_each_update_is_the_workflows_own_with_the_type_it_takes() -> None:
    for case in demo_cases(len(PROFILES), now=NOWS[0]):
        for step in case.steps:
            handler = getattr(CaseWorkflow, step.update)
            assert get_type_hints(handler)["command"] is step.command, step.update


def test_concluding_without_the_childs_views_is_refused_so_the_demo_records_them() -> None:
    # the demo records the child's views because the domain requires them for a case
    # received from `child_views_required_from` on: if this stops failing, the step can go
    now = NOWS[0]
    concluded = next(c for c in demo_cases(len(PROFILES), now=now) if "concluded" in c.shows)
    recent = {**concluded.opening, "received_at": (now - timedelta(hours=1)).isoformat()}
    assert _drive(replace(concluded, opening=recent), now).state is CaseStateName.CLOSED
    without = tuple(s for s in concluded.steps if s.update != "record_child_views")
    with pytest.raises(cases.Rejected, match="child"):
        _drive(replace(concluded, opening=recent, steps=without), now)


def test_the_cases_are_numbered_fictitious_and_received_over_past_months() -> None:
    now = NOWS[0]
    seeded = demo_cases(12, now=now, municipality="Eskilstuna")
    numbers = [c.case_number for c in seeded]
    assert numbers[0] == "DEMO-2026-0001" and numbers[-1] == "DEMO-2026-0012"
    assert all(re.fullmatch(CASE_NUMBER_PATTERN, n) for n in numbers)
    assert len(set(numbers)) == 12
    assert {c.opening["municipality"] for c in seeded} == {"Eskilstuna"}
    assert all(c.received_at < now for c in seeded)
    assert len({(c.received_at.year, c.received_at.month) for c in seeded}) >= 5
    for case in seeded:
        subject = case.opening["subject"]
        assert subject["personal_identity_number"][9:12] == "000"  # a birth number never issued
        assert subject["name"].startswith("Demoperson ")
        # nothing the workflow shows in clear (ids, staff identifiers) carries the subject
        assert subject["name"] not in repr([s.body for s in case.steps])
    # the same count and day give the same cases: a re-run skips the ones that exist
    assert demo_cases(12, now=now, municipality="Eskilstuna") == seeded
    assert [c.case_number for c in demo_cases(2, now=now, prefix="TEST")] == [
        "TEST-2026-0001",
        "TEST-2026-0002",
    ]
