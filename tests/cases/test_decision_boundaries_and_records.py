"""Decisions at their boundaries, and what the recorded events carry.

A decision at the last instant of a deadline's ``legal_latest`` day is on time, one a
microsecond later is late; "not in the future" admits the present instant. The events a
decision records carry the command's own values (the consultation it names, the
report's channel, the child's views) and the provision in force on the decision's day.

Hand-checked dates (Stockholm): T0 = Monday 2 March 2026, 10:15; four months from an
investigation opened that day end Thursday 2 July 2026 and eight months Monday 2 November
2026; fourteen days from receipt end Monday 16 March 2026, a working day. SoL 2025:400
replaced SoL 2001:453 on Tuesday 1 July 2025: feedback to a reporter cites 14 kap. 1 b §
of the old act through Monday 30 June 2025 and 19 kap. 7 § of the new one from 1 July.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

import cases
from cases import Agency, DeadlineKind, LegalBasis, Policy, Rejected
from cases.decide_deadlines import deadline_met
from cases.models import YoungAdultBasis
from cases.policy import LegalReference
from tests.cases.case_builders import STHLM, T0, Case, types

TICK = timedelta(microseconds=1)
NINETEEN = {
    "personal_identity_number": "20070105-0004",
    "name": "Testperson Exempelsson",
    "birth_date": "2007-01-05",
}


def _end(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999_999, tzinfo=STHLM)


def _at(case: Case, moment: datetime) -> timedelta:
    """How far to move the case's clock to reach ``moment``."""
    return moment - case.now


def _investigating(**changes: Any) -> Case:
    case = Case(**changes)
    case.assess()
    case.pre_assess(open_investigation=True)
    return case


def _extend(until: date) -> cases.ExtendInvestigation:
    return cases.ExtendInvestigation(until=until, reasons="special reasons", decided_by="m-1")


# -- extending an investigation -------------------------------------------------------------


def test_an_extension_decided_at_the_last_instant_of_legal_latest_is_on_time() -> None:
    case = _investigating()
    deadline = case.set_deadline(DeadlineKind.INVESTIGATION, case.s.investigation_opened_at)
    assert deadline.legal_latest == _end(date(2026, 7, 2))
    [event] = case.do(_extend(date(2026, 8, 31)), after=_at(case, deadline.legal_latest))
    assert isinstance(event, cases.InvestigationExtended)
    assert event.late is False


def test_an_extension_without_a_recorded_deadline_runs_from_four_months_after_the_opening() -> None:
    case = _investigating()
    assert DeadlineKind.INVESTIGATION.value not in case.s.deadlines
    with pytest.raises(Rejected) as refused:
        case.do(_extend(date(2026, 7, 2)))
    assert refused.value.code == "extension_not_later"
    [event] = case.do(_extend(date(2026, 7, 3)))
    assert isinstance(event, cases.InvestigationExtended) and event.late is False
    # the next extension must pass the day the first one decided
    with pytest.raises(Rejected) as again:
        case.do(_extend(date(2026, 7, 3)))
    assert again.value.code == "extension_not_later"
    [second] = case.do(_extend(date(2026, 7, 4)))
    assert isinstance(second, cases.InvestigationExtended) and second.extension_number == 2


def test_the_current_last_day_of_an_investigation_is_its_recorded_deadline() -> None:
    case = _investigating()
    recorded = cases.compute_deadline(
        DeadlineKind.INVESTIGATION, case.now, policy=case.policy, until=date(2026, 7, 10)
    )
    case.do(cases.RecordDeadline(deadline=recorded), after=timedelta(0))
    with pytest.raises(Rejected) as refused:
        case.do(_extend(date(2026, 7, 8)))  # after four months, but not after 10 July
    assert refused.value.code == "extension_not_later"
    assert case.do(_extend(date(2026, 7, 13)))


def test_the_longest_extension_counts_from_the_opening_not_from_the_decision() -> None:
    case = _investigating()
    decided = datetime(2026, 4, 2, 9, 0, tzinfo=STHLM)  # a month after the opening
    with pytest.raises(Rejected) as refused:
        case.do(_extend(date(2026, 11, 3)), after=_at(case, decided))
    assert refused.value.code == "extension_too_long"
    [event] = case.do(_extend(date(2026, 11, 2)))
    assert isinstance(event, cases.InvestigationExtended)


# -- the pre-assessment's extension ----------------------------------------------------------


def _extend_pre(until: date) -> cases.ExtendPreAssessment:
    return cases.ExtendPreAssessment(
        until=until,
        reasons="very exceptional reasons",
        decided_by_role=cases.Role.UNIT_MANAGER,
        decided_by="manager-1",
    )


@pytest.mark.parametrize(("after_due", "late"), [(timedelta(0), False), (TICK, True)])
def test_a_pre_assessment_extension_is_late_only_after_legal_latest(
    after_due: timedelta, late: bool
) -> None:
    case = Case()
    case.assess()
    deadline = case.set_deadline(DeadlineKind.PRE_ASSESSMENT, T0)
    assert deadline.legal_latest == _end(date(2026, 3, 16))
    [event] = case.do(
        _extend_pre(date(2026, 3, 30)), after=_at(case, deadline.legal_latest + after_due)
    )
    assert isinstance(event, cases.PreAssessmentExtended)
    assert event.late is late
    assert event.until == date(2026, 3, 30)
    assert event.decided_by_role is cases.Role.UNIT_MANAGER


def test_a_pre_assessment_extension_with_no_recorded_deadline_is_not_late() -> None:
    case = Case()
    case.assess()
    [event] = case.do(_extend_pre(date(2026, 3, 30)), after=timedelta(days=30))
    assert isinstance(event, cases.PreAssessmentExtended) and event.late is False


# -- meeting a deadline ------------------------------------------------------------------


def test_a_deadline_met_once_is_not_met_again() -> None:
    case = Case()
    deadline = case.set_deadline(DeadlineKind.PROTECTION_ASSESSMENT, T0)
    [met] = [e for e in case.assess() if isinstance(e, cases.DeadlineMet)]
    assert met.deadline_key == deadline.key and met.late is False
    assert deadline_met(case.s, deadline.key, case.now + timedelta(days=3)) == []
    [other] = deadline_met(case.s, DeadlineKind.PRE_ASSESSMENT.value, case.now)
    assert isinstance(other, cases.DeadlineMet)
    assert other.deadline_key == "pre_assessment" and other.late is False


def test_a_decision_at_the_last_instant_of_legal_latest_meets_its_deadline_on_time() -> None:
    case = Case()
    case.assess()
    deadline = case.set_deadline(DeadlineKind.PRE_ASSESSMENT, T0)
    events = case.do(
        cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="o-1"),
        after=_at(case, deadline.legal_latest),
    )
    [met] = [e for e in events if isinstance(e, cases.DeadlineMet)]
    assert met.late is False


# -- the acute path ------------------------------------------------------------------------


def _custody(decided: datetime, carried_out: datetime | None = None) -> Any:
    return cases.DecideImmediateCustody(
        decision_maker=cases.CustodyDecisionMaker.CHAIR,
        decided_at=decided,
        carried_out_at=carried_out,
        decided_by="chair-1",
    )


def test_a_custody_decided_and_carried_out_at_this_instant_is_recorded() -> None:
    case = Case()
    case.assess()
    now = case.now + timedelta(minutes=1)
    [event] = case.do(_custody(now, now), after=timedelta(minutes=1))
    assert isinstance(event, cases.ImmediateCustodyDecided)
    assert event.decided_at == now and event.carried_out_at == now


def test_a_breach_of_another_deadline_leaves_the_custody_in_force() -> None:
    """Only the LVU 7 § and 8 § deadlines end a custody (LVU 9 §): the pre-assessment due
    Monday 16 March 2026, breached on Tuesday 17 March, does not."""
    case = Case()
    pre = case.set_deadline(DeadlineKind.PRE_ASSESSMENT, T0)
    case.assess()
    case.do(_custody(case.now + timedelta(minutes=1)), after=timedelta(minutes=1))
    assert case.s.custody_in_force
    events = case.do(
        cases.RecordBreach(deadline_key=pre.key),
        after=_at(case, datetime(2026, 3, 17, 9, 0, tzinfo=STHLM)),
    )
    assert types(events) == ["DeadlineBreached"]
    assert case.s.custody_in_force


# -- what the duties record ----------------------------------------------------------------


def test_a_report_joins_at_this_instant_with_its_channel() -> None:
    case = _investigating()
    now = case.now + timedelta(minutes=1)
    [event] = case.do(
        cases.JoinReport(
            received_at=now,
            reporter_kind=cases.ReporterKind.POLICE,
            mandatory_reporter=True,
            channel=cases.ReportChannel.PHONE,
            concern_category=cases.ConcernCategory.VIOLENT_EXTREMIST_ENVIRONMENT,
            summary="The police report the same pupil.",
            decided_by="officer-1",
        ),
        after=timedelta(minutes=1),
    )
    assert isinstance(event, cases.ReportJoined)
    assert event.received_at == now
    assert event.channel is cases.ReportChannel.PHONE
    assert event.report_number == 2


@pytest.mark.parametrize(
    ("given", "heard"),
    [
        ({"views": "wants to stay at the school"}, True),
        ({"reason_not_heard": "too ill to be heard"}, False),
    ],
)
def test_the_childs_views_or_why_not_heard_are_recorded_as_given(
    given: dict[str, str], heard: bool
) -> None:
    case = _investigating()
    [event] = case.do(cases.RecordChildViews(decided_by="officer-1", **given))
    assert isinstance(event, cases.ChildViewsRecorded)
    assert event.heard is heard
    assert event.views == given.get("views")
    assert event.reason_not_heard == given.get("reason_not_heard")


def _pre_assessed_with_feedback_task(decided: datetime, *, feedback_task: bool = True) -> Case:
    case = Case(now=decided - timedelta(hours=1))
    case.assess()
    case.now = decided
    events = cases.decide(
        case.s,
        cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="o-1"),
        now=decided,
        policy=case.policy,
        feedback_task=feedback_task,
    )
    for event in events:
        case.state = cases.apply(case.state, event)
    case.events.extend(events)
    return case


@pytest.mark.parametrize(
    ("decided", "cited"),
    [
        (datetime(2025, 6, 30, 14, 0, tzinfo=STHLM), "SoL (2001:453) 14 kap. 1 b §"),
        (datetime(2025, 7, 1, 9, 0, tzinfo=STHLM), "SoL (2025:400) 19 kap. 7 §"),
    ],
)
def test_the_feedback_task_cites_the_provision_in_force_on_the_decisions_day(
    decided: datetime, cited: str
) -> None:
    case = _pre_assessed_with_feedback_task(decided)
    [due] = [e for e in case.events if isinstance(e, cases.FeedbackDue)]
    assert due.legal_reference is not None and due.legal_reference.cite() == cited


@pytest.mark.parametrize(
    ("decided", "cited"),
    [
        (datetime(2025, 6, 30, 14, 0, tzinfo=STHLM), "SoL (2001:453) 14 kap. 1 b §"),
        (datetime(2025, 7, 1, 9, 0, tzinfo=STHLM), "SoL (2025:400) 19 kap. 7 §"),
    ],
)
def test_feedback_sent_at_once_cites_the_provision_in_force_on_the_decisions_day(
    decided: datetime, cited: str
) -> None:
    """The path before the feedback task (cases running since before its patch)."""
    case = _pre_assessed_with_feedback_task(decided, feedback_task=False)
    [sent] = [e for e in case.events if isinstance(e, cases.FeedbackSent)]
    assert sent.legal_reference is not None and sent.legal_reference.cite() == cited


def test_feedback_given_records_what_was_said_and_the_provision_in_force_that_day() -> None:
    case = _pre_assessed_with_feedback_task(datetime(2025, 6, 30, 14, 0, tzinfo=STHLM))
    given = case.do(
        cases.GiveFeedback(
            content="An investigation has been opened.", meeting_offered=True, decided_by="o-1"
        ),
        after=_at(case, datetime(2025, 7, 1, 9, 0, tzinfo=STHLM)),
    )
    [sent] = [e for e in given if isinstance(e, cases.FeedbackSent)]
    assert sent.content == "An investigation has been opened."
    assert sent.meeting_offered is True
    assert sent.legal_reference is not None
    assert sent.legal_reference.cite() == "SoL (2025:400) 19 kap. 7 §"


# -- opening and the pre-assessment -------------------------------------------------------


def test_the_report_received_keeps_its_channel_and_urgency() -> None:
    case = Case(channel="phone", urgent=True)
    [received] = case.events
    assert isinstance(received, cases.ReportReceived)
    assert received.channel is cases.ReportChannel.PHONE
    assert received.urgent is True


def test_a_young_adult_basis_is_recorded_only_on_the_young_adult_path() -> None:
    basis = cases.DecidePreAssessment(
        open_investigation=True,
        reasons="r",
        decided_by="o-1",
        young_adult_basis=YoungAdultBasis.CONSENT,
    )
    child = Case()
    child.assess()
    [opened] = [e for e in child.do(basis) if isinstance(e, cases.InvestigationOpened)]
    assert opened.young_adult_basis is None
    young = Case(subject=NINETEEN)
    young.assess()
    [opened] = [e for e in young.do(basis) if isinstance(e, cases.InvestigationOpened)]
    assert opened.young_adult_basis is YoungAdultBasis.CONSENT


# -- consultations ---------------------------------------------------------------------------


def _two_asked() -> tuple[Case, str, str]:
    case = Case()
    case.assess()
    first = case.ask(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM)
    second = case.ask(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM, questions="grades?")
    return case, first, second


def test_an_acknowledgement_naming_a_consultation_is_recorded_for_that_one() -> None:
    case, _, second = _two_asked()
    [event] = case.do(cases.AcknowledgeConsultation(agency=Agency.SCHOOL, consultation_id=second))
    assert isinstance(event, cases.ConsultationAcknowledged)
    assert event.consultation_id == second


def test_an_answer_naming_a_consultation_is_recorded_for_that_one() -> None:
    case, first, second = _two_asked()
    events = case.do(
        cases.AnswerConsultation(agency=Agency.SCHOOL, answer="good grades", consultation_id=second)
    )
    answered = events[0]
    assert isinstance(answered, cases.ConsultationAnswered)
    assert answered.consultation_id == second
    assert case.s.consultations[first].is_open


def test_a_decline_naming_a_consultation_is_recorded_for_that_one() -> None:
    case, first, second = _two_asked()
    events = case.do(
        cases.DeclineConsultation(agency=Agency.SCHOOL, reason="no records", consultation_id=second)
    )
    declined = events[0]
    assert isinstance(declined, cases.ConsultationDeclined)
    assert declined.consultation_id == second
    assert case.s.consultations[first].is_open


@pytest.mark.parametrize(("detail", "reason"), [("", "declined"), ("no records", "no records")])
def test_a_declined_report_records_its_reason_or_declined(detail: str, reason: str) -> None:
    case = Case()
    case.assess()
    cid = case.ask(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM)
    [event, *_] = case.do(
        cases.ReportConsultationOutcome(
            consultation_id=cid,
            agency=Agency.SCHOOL,
            outcome=cases.ConsultationOutcomeKind.DECLINED,
            detail=detail,
        )
    )
    assert isinstance(event, cases.ConsultationDeclined)
    assert event.reason == reason


def _waiting_for_consent() -> tuple[Case, str, list[cases.DomainEvent]]:
    case = Case()
    case.assess()
    events = case.do(
        cases.RequestConsultation(
            agency=Agency.SCHOOL,
            legal_basis=LegalBasis.CONSENT,
            questions="attendance?",
            requested_by="officer-1",
        )
    )
    requested = events[0]
    assert isinstance(requested, cases.ConsultationRequested)
    return case, requested.consultation_id, events


def test_a_consultation_waiting_for_consent_names_itself_in_its_suspended_clock() -> None:
    _, cid, events = _waiting_for_consent()
    suspended = events[1]
    assert isinstance(suspended, cases.ClockSuspended)
    assert suspended.consultation_id == cid
    assert suspended.deadline_key == f"consultation:{cid}"


def _consent(given: bool) -> cases.ChangeConsent:
    return cases.ChangeConsent(given=given, scope="all", by_whom="guardian")


def test_consent_given_resumes_and_withdrawn_suspends_the_named_consultation() -> None:
    case, cid, _ = _waiting_for_consent()
    given = case.do(_consent(True))
    assert types(given) == ["ConsentChanged", "ClockResumed"]
    resumed = given[1]
    assert isinstance(resumed, cases.ClockResumed) and resumed.consultation_id == cid
    # given again while the clock runs: nothing more to resume or suspend
    assert types(case.do(_consent(True))) == ["ConsentChanged"]
    withdrawn = case.do(_consent(False))
    assert types(withdrawn) == ["ConsentChanged", "ClockSuspended"]
    suspended = withdrawn[1]
    assert isinstance(suspended, cases.ClockSuspended) and suspended.consultation_id == cid
    # withdrawn again while the clock stands still: nothing more to suspend
    assert types(case.do(_consent(False))) == ["ConsentChanged"]


def _police_asked_without_statement(policy: Policy) -> tuple[Case, str]:
    case = Case(policy=policy)
    case.assess()
    return case, case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)


def test_a_disclosure_cites_the_policys_reference_for_its_basis() -> None:
    default = Policy.default()
    own = LegalReference(
        act="OSL", sfs="2009:400", chapter=10, section="18 b", valid_from=date(2013, 1, 1)
    )
    policy = default.model_copy(
        update={"legal_references": {**default.legal_references, "osl_10_18a": (own,)}}
    )
    case, cid = _police_asked_without_statement(policy)
    [record] = case.do(
        cases.RecordDisclosure(consultation_id=cid, decided_by="officer-1", harm_assessment="")
    )
    assert isinstance(record, cases.DisclosureRecorded)
    assert record.legal_reference is not None
    assert record.legal_reference.cite() == "OSL (2009:400) 10 kap. 18 b §"


def test_harm_found_when_the_request_goes_out_discloses_nothing() -> None:
    case, cid = _police_asked_without_statement(Policy.default())
    assert (
        case.do(
            cases.RecordDisclosure(
                consultation_id=cid,
                decided_by="officer-1",
                harm_assessment="contact would put the young person at risk",
                harm_found=True,
            )
        )
        == []
    )
    [record] = case.do(
        cases.RecordDisclosure(
            consultation_id=cid,
            decided_by="officer-1",
            harm_assessment="no risk in asking",
            harm_found=False,
        )
    )
    assert isinstance(record, cases.DisclosureRecorded)
