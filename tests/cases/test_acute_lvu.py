"""The acute path (issue 17 item 6): an acute protection assessment leads straight to an
investigation; an immediate custody under LVU 6 § starts the LVU 7 § week and the LVU 8 §
four weeks, and either passing unmet ends the custody (LVU 9 §).

Hand-checked dates (Stockholm; Easter 2026 is Sunday 5 April, so Good Friday is 3 April):

- custody decided Monday 2 March 2026, carried out Tuesday 3 March: the week ends Monday
  9 March (same weekday, next week), the four weeks Tuesday 31 March;
- custody decided and carried out Friday 27 March 2026: the week ends on Good Friday,
  3 April, and is NOT moved to Tuesday 7 April (the protective reading, docs/legal.md);
  the four weeks end Friday 24 April.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

import cases
from cases import DeadlineKind, Policy, Rejected, compute_deadline
from cases.decide import check_new_decision
from cases.decide_deadlines import deadlines_started_by
from tests.cases.case_builders import STHLM, Case, types

POLICY = Policy.default()


def _end(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=STHLM)


def _custody(
    case: Case, decided: datetime, carried_out: datetime | None = None
) -> cases.ImmediateCustodyDecided:
    latest = carried_out or decided
    [event] = case.do(
        cases.DecideImmediateCustody(
            decision_maker=cases.CustodyDecisionMaker.CHAIR,
            decided_at=decided,
            carried_out_at=carried_out,
            decided_by="chair-1",
        ),
        after=max(timedelta(minutes=1), latest + timedelta(minutes=1) - case.now),
    )
    assert isinstance(event, cases.ImmediateCustodyDecided)
    return event


def _with_custody_deadlines(
    case: Case, event: cases.ImmediateCustodyDecided
) -> dict[str, cases.Deadline]:
    started = deadlines_started_by([event], now=case.now)
    found = {}
    for item in started:
        found[item.kind.value] = case.set_deadline(item.kind, item.start)
    return found


def test_decline_after_an_acute_assessment_is_refused_on_new_decisions() -> None:
    case = Case()
    case.assess(acute=True)
    assert case.s.state is cases.CaseStateName.IMMEDIATE_PROTECTION
    decline = cases.DecidePreAssessment(
        open_investigation=False, reasons="no", decided_by="officer-1"
    )
    with pytest.raises(Rejected) as refused:
        check_new_decision(case.s, decline)
    assert refused.value.code == "acute_requires_investigation"
    check_new_decision(  # opening is what the acute path asks for
        case.s,
        cases.DecidePreAssessment(open_investigation=True, reasons="acute", decided_by="o-1"),
    )
    # a non-acute case may still decline
    calm = Case()
    calm.assess(acute=False)
    check_new_decision(calm.s, decline)


def test_a_custody_starts_the_lvu_7_week_and_the_lvu_8_four_weeks() -> None:
    case = Case()
    case.assess(acute=True)
    decided = datetime(2026, 3, 2, 12, 0, tzinfo=STHLM)
    carried_out = datetime(2026, 3, 3, 9, 0, tzinfo=STHLM)
    event = _custody(case, decided, carried_out)
    assert event.legal_reference is not None and event.legal_reference.cite() == "LVU (1990:52) 6 §"
    assert case.s.custody_in_force
    deadlines = _with_custody_deadlines(case, event)
    submission = deadlines["custody_submission"]
    application = deadlines["care_application"]
    assert submission.target == submission.legal_latest == _end(date(2026, 3, 9))
    assert application.target == application.legal_latest == _end(date(2026, 3, 31))
    assert submission.legal_reference is not None
    assert submission.legal_reference.label() == "LVU (1990:52) 7 § (unverified)"
    assert application.legal_reference is not None
    assert application.legal_reference.cite() == "LVU (1990:52) 8 §"
    assert "submit the immediate custody" in case.s.next_expected_action()


def test_the_lvu_7_week_is_not_moved_past_good_friday() -> None:
    decided = datetime(2026, 3, 27, 18, 30, tzinfo=STHLM)  # a Friday
    week = compute_deadline(DeadlineKind.CUSTODY_SUBMISSION, decided, policy=POLICY)
    assert week.target == week.legal_latest == _end(date(2026, 4, 3))  # Good Friday
    assert week.moved_because == ()
    four_weeks = compute_deadline(DeadlineKind.CARE_APPLICATION, decided, policy=POLICY)
    assert four_weeks.legal_latest == _end(date(2026, 4, 24))


def test_without_a_carried_out_time_the_four_weeks_run_from_the_decision() -> None:
    case = Case()
    case.assess(acute=True)
    event = _custody(case, datetime(2026, 3, 2, 11, 0, tzinfo=STHLM))
    assert event.carried_out_at == event.decided_at


def test_filings_meet_their_deadlines_and_the_custody_stays() -> None:
    case = Case()
    case.assess(acute=True)
    event = _custody(case, datetime(2026, 3, 2, 10, 20, tzinfo=STHLM))
    _with_custody_deadlines(case, event)
    filed = case.do(
        cases.RecordCourtFiling(filing=cases.CourtFiling.CUSTODY_SUBMITTED, decided_by="officer-1"),
        after=timedelta(days=3),
    )
    assert types(filed) == ["CourtFilingMade", "DeadlineMet"]
    met = filed[1]
    assert isinstance(met, cases.DeadlineMet)
    assert met.deadline_key == "custody_submission" and not met.late
    assert case.s.deadline_is_settled("custody_submission")
    assert not case.s.deadline_is_settled("care_application")
    with pytest.raises(Rejected) as again:
        case.do(
            cases.RecordCourtFiling(
                filing=cases.CourtFiling.CUSTODY_SUBMITTED, decided_by="officer-1"
            )
        )
    assert again.value.code == "already_filed"
    # the submission made, no breach of it can be recorded: the custody stays
    after_week = datetime(2026, 3, 10, 0, 0, 1, tzinfo=STHLM)
    assert (
        case.do(cases.RecordBreach(deadline_key="custody_submission"), after=after_week - case.now)
        == []
    )
    assert case.s.custody_in_force


def test_a_missed_week_ends_the_custody_lvu_9() -> None:
    case = Case()
    case.assess(acute=True)
    event = _custody(case, datetime(2026, 3, 2, 10, 20, tzinfo=STHLM))
    deadlines = _with_custody_deadlines(case, event)
    # on its last day the week has not passed: no breach yet
    with pytest.raises(Rejected):
        case.do(
            cases.RecordBreach(deadline_key="custody_submission"),
            after=deadlines["custody_submission"].legal_latest - case.now,
        )
    lapsed = case.do(
        cases.RecordBreach(deadline_key="custody_submission"), after=timedelta(microseconds=1)
    )
    assert types(lapsed) == ["DeadlineBreached", "ImmediateCustodyLapsed"]
    ended = lapsed[1]
    assert isinstance(ended, cases.ImmediateCustodyLapsed)
    assert ended.deadline_key == "custody_submission"
    assert ended.legal_reference is not None and ended.legal_reference.cite() == "LVU (1990:52) 9 §"
    assert not case.s.custody_in_force
    # nothing more to file for this custody: the four weeks need no more escalation
    assert case.s.deadline_is_settled("care_application")
    with pytest.raises(Rejected) as refused:
        case.do(
            cases.RecordCourtFiling(filing=cases.CourtFiling.CARE_APPLIED, decided_by="officer-1")
        )
    assert refused.value.code == "custody_lapsed"
    # a new decision (new circumstances) starts afresh
    _custody(case, case.now)
    assert case.s.custody_in_force and case.s.court_filings == ()
    assert not case.s.deadline_is_settled("care_application")


def test_a_custody_cannot_be_recorded_twice_or_in_the_future_or_for_a_20_year_old() -> None:
    case = Case()
    case.assess(acute=True)
    with pytest.raises(Rejected) as future:
        case.do(
            cases.DecideImmediateCustody(
                decision_maker=cases.CustodyDecisionMaker.COMMITTEE,
                decided_at=case.now + timedelta(hours=1),
                decided_by="chair-1",
            )
        )
    assert future.value.code == "decided_in_future"
    _custody(case, case.now)
    with pytest.raises(Rejected) as twice:
        _custody(case, case.now)
    assert twice.value.code == "custody_in_force"
    # turned 20 on Sunday 1 March 2026, the day before the decision
    adult = Case(
        subject={
            "personal_identity_number": "20060301-0004",
            "name": "Test Testsson",
            "birth_date": "2006-03-01",
        }
    )
    adult.assess(acute=True)
    with pytest.raises(Rejected) as too_old:
        _custody(adult, adult.now)
    assert too_old.value.code == "lvu_not_applicable"


def test_a_custody_keeps_the_pre_assessment_from_being_declined() -> None:
    case = Case()
    case.assess(acute=False)
    _custody(case, case.now)
    with pytest.raises(Rejected):
        check_new_decision(
            case.s,
            cases.DecidePreAssessment(open_investigation=False, reasons="no", decided_by="o-1"),
        )
