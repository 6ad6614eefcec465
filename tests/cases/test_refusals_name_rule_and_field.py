"""Every refusal of a case decision names its rule (``code``), the field at fault and one
plain sentence, exactly: what an operator's update error and a ``SignalRejected`` carry.

`Rejected.code` is the stable machine-readable reason, ``field`` the command field at
fault (None when the case's state is at fault) and ``message`` the sentence shown to the
operator, never a value. Each row below drives a case (T0 = Monday 2 March 2026, 10:15
Stockholm) to the refusal and compares the whole `Rejected.to_dict`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest

import cases
from cases import Agency, LegalBasis, Rejected
from cases.commands import IdentifySubject
from cases.decide import check_new_decision, check_opening
from cases.models import Subject, YoungAdultBasis
from tests.cases.case_builders import STHLM, T0, Case, open_case

CHILD = {
    "personal_identity_number": "20120315-0004",
    "name": "Testperson Exempelsson",
    "birth_date": "2012-03-15",
}
UNIDENTIFIED = {"unidentified": "pupil in class 8B at the school that reported, about 14"}
# 21 on Monday 2 March 2026 (born that day in 2005): refused
ADULT = {**CHILD, "personal_identity_number": "20050302-0004", "birth_date": "2005-03-02"}
# 20 on T0 (turned 20 on Friday 27 February 2026): the young-adult path, past LVU 3 §
TWENTY = {**CHILD, "personal_identity_number": "20060227-0004", "birth_date": "2006-02-27"}
# 19 on T0: the young-adult path
NINETEEN = {**CHILD, "personal_identity_number": "20070105-0004", "birth_date": "2007-01-05"}

ADULT_REFUSAL = (
    "subject.birth_date: the young person is 21 or older on the day the report was "
    "received; reports of concern here are about children and young people under 21 "
    "(LVU 1 § and 3 §, OSL 10:18 a)"
)


def _assessed(**changes: Any) -> Case:
    case = Case(**changes)
    case.assess()
    return case


def _investigating(**changes: Any) -> Case:
    case = _assessed(**changes)
    case.pre_assess(open_investigation=True)
    return case


def _decided() -> Case:
    case = _assessed()
    case.pre_assess(open_investigation=False)
    return case


def _consulted() -> tuple[Case, str]:
    case = _assessed()
    return case, case.ask(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM)


def _custody(*, decided: datetime, carried_out: datetime | None = None) -> Any:
    return cases.DecideImmediateCustody(
        decision_maker=cases.CustodyDecisionMaker.CHAIR,
        decided_at=decided,
        carried_out_at=carried_out,
        decided_by="chair-1",
    )


def _in_custody() -> Case:
    case = _assessed()
    case.do(_custody(decided=case.now))
    return case


def _join(received_at: datetime, summary: str = "Another pupil's report.") -> Any:
    return cases.JoinReport(
        received_at=received_at,
        reporter_kind=cases.ReporterKind.SCHOOL,
        mandatory_reporter=True,
        concern_category=cases.ConcernCategory.VIOLENT_EXTREMIST_ENVIRONMENT,
        summary=summary,
        decided_by="officer-1",
    )


def _extend_pre(role: cases.Role = cases.Role.UNIT_MANAGER, **kw: Any) -> Any:
    fields: dict[str, Any] = {
        "until": date(2026, 3, 30),
        "reasons": "very exceptional",
        "decided_by_role": role,
        "decided_by": "manager-1",
    }
    fields.update(kw)
    return cases.ExtendPreAssessment(**fields)


def _extend(until: date, reasons: str = "special reasons") -> Any:
    return cases.ExtendInvestigation(until=until, reasons=reasons, decided_by="manager-1")


def _views(**kw: Any) -> Any:
    return cases.RecordChildViews(decided_by="officer-1", **kw)


def _pre(open_investigation: bool, basis: YoungAdultBasis | None = None) -> Any:
    return cases.DecidePreAssessment(
        open_investigation=open_investigation,
        reasons="reasons",
        decided_by="officer-1",
        young_adult_basis=basis,
    )


# -- each scenario runs the refused step -----------------------------------------------------


def not_opened() -> None:
    cases.decide(None, cases.AddInformation(source="school", information="x"), now=T0)


def opened_twice() -> None:
    Case().do(open_case())


def closed() -> None:
    case = _decided()
    case.close()
    case.do(cases.AddInformation(source="school", information="more"))


def protection_twice() -> None:
    _assessed().assess()


def protection_blank() -> None:
    Case().do(cases.RecordProtectionAssessment(acute=False, reasoning=" ", decided_by="o-1"))


def pre_before_protection() -> None:
    Case().pre_assess()


def pre_twice() -> None:
    _decided().pre_assess()


def pre_blank() -> None:
    _assessed().do(cases.DecidePreAssessment(open_investigation=True, reasons=" ", decided_by="o"))


def identify_identified() -> None:
    Case().do(IdentifySubject(subject=Subject.model_validate(CHILD), decided_by="officer-1"))


def identify_without_number() -> None:
    subject = Subject.model_validate({**UNIDENTIFIED, "birth_date": "2012-03-15"})
    Case(subject=UNIDENTIFIED).do(IdentifySubject(subject=subject, decided_by="officer-1"))


def identify_adult() -> None:
    subject = Subject.model_validate(ADULT)
    Case(subject=UNIDENTIFIED).do(IdentifySubject(subject=subject, decided_by="officer-1"))


def open_for_adult() -> None:
    check_opening(open_case(subject=ADULT))


def extend_without_investigation() -> None:
    _decided().do(_extend(date(2026, 8, 31)))


def conclude_without_investigation() -> None:
    _decided().conclude()


def extend_blank() -> None:
    _investigating().do(_extend(date(2026, 8, 31), reasons=" "))


def extend_three_times() -> None:
    case = _investigating()
    case.do(_extend(date(2026, 7, 31)))
    case.do(_extend(date(2026, 8, 31)))
    case.do(_extend(date(2026, 9, 30)))


def extend_not_later() -> None:
    # opened Monday 2 March 2026: four months end on Thursday 2 July 2026
    _investigating().do(_extend(date(2026, 7, 2)))


def extend_too_long() -> None:
    # eight months from Monday 2 March 2026 end on Monday 2 November 2026
    _investigating().do(_extend(date(2026, 11, 3)))


def follow_up_undecided() -> None:
    _investigating().do(cases.StartFollowUp(decided_by="officer-1"))


def close_investigating() -> None:
    _investigating().close()


def close_before_pre_assessment() -> None:
    _assessed().close()


def close_blank() -> None:
    _decided().do(cases.CloseCase(reason=" ", decided_by="manager-1"))


def acknowledge_twice() -> None:
    case, _ = _consulted()
    case.do(cases.AcknowledgeConsultation(agency=Agency.SCHOOL))
    case.do(cases.AcknowledgeConsultation(agency=Agency.SCHOOL))


def answer_not_asked() -> None:
    case, _ = _consulted()
    case.do(cases.AnswerConsultation(agency=Agency.POLICE, answer="x"))


def answer_answered() -> None:
    case, _ = _consulted()
    case.do(cases.AnswerConsultation(agency=Agency.SCHOOL, answer="first"))
    case.do(cases.AnswerConsultation(agency=Agency.SCHOOL, answer="second"))


def answer_blank() -> None:
    case, _ = _consulted()
    case.do(cases.AnswerConsultation(agency=Agency.SCHOOL, answer=" "))


def decline_blank() -> None:
    case, _ = _consulted()
    case.do(cases.DeclineConsultation(agency=Agency.SCHOOL, reason=" "))


def ask_blank() -> None:
    _assessed().ask(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM, questions=" ")


def deliver_unknown() -> None:
    case, cid = _consulted()
    case.do(cases.RecordDelivery(consultation_id=cid + "9", delivered_at=case.now))


def outcome_from_another_agency() -> None:
    case, cid = _consulted()
    case.do(
        cases.ReportConsultationOutcome(
            consultation_id=cid,
            agency=Agency.POLICE,
            outcome=cases.ConsultationOutcomeKind.ANSWERED,
            detail="x",
        )
    )


def consent_for_unknown_scope() -> None:
    command = cases.ChangeConsent.model_construct(given=True, scope="neighbours", by_whom="mother")
    Case().do(command)


def information_blank() -> None:
    Case().do(cases.AddInformation(source="school", information=" "))


def deadline_unknown_key() -> None:
    case = Case()
    deadline = cases.compute_deadline(
        cases.DeadlineKind.CONSULTATION,
        T0,
        policy=case.policy,
        agency=Agency.POLICE,
        key="consultation:case-MAL-2026-0042:consultation-7",
    )
    case.do(cases.RecordDeadline(deadline=deadline))


def rung_unknown_deadline() -> None:
    Case().do(
        cases.RaiseEscalation(
            deadline_key="pre_assessment",
            rung_index=0,
            rung_name="reminder",
            role=cases.Role.OFFICER,
            action=cases.EscalationAction.NOTIFY,
        )
    )


def breach_unknown_deadline() -> None:
    Case().do(cases.RecordBreach(deadline_key="pre_assessment"))


def breach_not_passed() -> None:
    case = Case()
    deadline = case.set_deadline(cases.DeadlineKind.PRE_ASSESSMENT, T0)
    case.do(cases.RecordBreach(deadline_key=deadline.key), after=deadline.legal_latest - case.now)


def unknown_command() -> None:
    Case().do(cases.ConsultationReport.model_construct())  # type: ignore[arg-type]


def decline_after_acute() -> None:
    case = Case()
    case.assess(acute=True)
    check_new_decision(case.s, _pre(False))


def conclude_without_views() -> None:
    # received Tuesday 1 December 2026, the day the child's views became required
    case = _investigating(now=datetime(2026, 12, 1, 9, 0, tzinfo=STHLM))
    check_new_decision(
        case.s,
        cases.ConcludeInvestigation(
            outcome=cases.InvestigationOutcome.NO_INTERVENTION, decided_by="o"
        ),
    )


def young_adult_without_basis() -> None:
    check_new_decision(_assessed(subject=NINETEEN).s, _pre(True))


def lvu_3_for_a_twenty_year_old() -> None:
    check_new_decision(_assessed(subject=TWENTY).s, _pre(True, YoungAdultBasis.LVU_3))


def basis_for_a_child() -> None:
    check_new_decision(_assessed().s, _pre(True, YoungAdultBasis.CONSENT))


def custody_before_assessment() -> None:
    case = Case()
    case.do(_custody(decided=case.now))


def custody_twice() -> None:
    case = _in_custody()
    case.do(_custody(decided=case.now))


def custody_decided_in_future() -> None:
    case = _assessed()
    case.do(_custody(decided=case.now + timedelta(minutes=2)))


def custody_carried_out_in_future() -> None:
    case = _assessed()
    case.do(_custody(decided=case.now, carried_out=case.now + timedelta(minutes=2)))


def custody_carried_out_before_decided() -> None:
    case = _assessed()
    case.do(_custody(decided=case.now, carried_out=case.now - timedelta(seconds=1)))


def custody_for_a_twenty_year_old() -> None:
    case = _assessed(subject=TWENTY)
    case.do(_custody(decided=case.now))


def filing_without_custody() -> None:
    _assessed().do(
        cases.RecordCourtFiling(filing=cases.CourtFiling.CUSTODY_SUBMITTED, decided_by="o")
    )


def filing_twice() -> None:
    case = _in_custody()
    filing = cases.RecordCourtFiling(filing=cases.CourtFiling.CUSTODY_SUBMITTED, decided_by="o")
    case.do(filing)
    case.do(filing)


def feedback_not_owed() -> None:
    _decided().do(cases.GiveFeedback(content="told", meeting_offered=False, decided_by="o-1"))


def feedback_blank() -> None:
    case = _assessed()
    events = cases.decide(case.s, _pre(True), now=case.now, feedback_task=True)
    for event in events:
        case.state = cases.apply(case.state, event)
    case.do(cases.GiveFeedback(content=" ", meeting_offered=False, decided_by="o-1"))


def informed_without_investigation() -> None:
    _decided().do(
        cases.RecordInformationGiven(party=cases.InformedParty.GUARDIAN, decided_by="o-1")
    )


def informed_twice() -> None:
    case = _investigating()
    told = cases.RecordInformationGiven(party=cases.InformedParty.GUARDIAN, decided_by="o-1")
    case.do(told)
    case.do(told)


def views_without_investigation() -> None:
    _decided().do(_views(views="wants to stay at school"))


def views_and_reason() -> None:
    _investigating().do(_views(views="wants to stay", reason_not_heard="too young"))


def neither_views_nor_reason() -> None:
    _investigating().do(_views())


def views_blank() -> None:
    _investigating().do(_views(views=" "))


def reason_not_heard_blank() -> None:
    _investigating().do(_views(reason_not_heard=" "))


def join_without_investigation() -> None:
    case = _decided()
    case.do(_join(case.now))


def join_received_in_future() -> None:
    case = _investigating()
    case.do(_join(case.now + timedelta(minutes=2)))


def join_blank() -> None:
    case = _investigating()
    case.do(_join(case.now, summary=" "))


def extend_pre_after_acute() -> None:
    case = Case()
    case.assess(acute=True)
    case.do(_extend_pre())


def extend_pre_when_decided() -> None:
    _decided().do(_extend_pre())


def extend_pre_by_an_officer() -> None:
    _assessed().do(_extend_pre(cases.Role.OFFICER))


def extend_pre_blank() -> None:
    _assessed().do(_extend_pre(reasons=" "))


def extend_pre_not_later() -> None:
    case = _assessed()
    # received Monday 2 March 2026: fourteen days end on Monday 16 March
    case.set_deadline(cases.DeadlineKind.PRE_ASSESSMENT, T0)
    case.do(_extend_pre(until=date(2026, 3, 16)))


def escalation_report_without_rung() -> None:
    case, cid = _consulted()
    report = cases.ConsultationReport(
        consultation_id=cid, agency=Agency.SCHOOL, kind=cases.ReportKind.ESCALATED, at=case.now
    )
    cases.decide_report(case.s, report, now=case.now, policy=None)


NOT_INVESTIGATING = ("no_open_investigation", None, "there is no open investigation")
SCOPES = "all, bup, cve, police, sapo, school, sspf"

REFUSALS: list[tuple[Callable[[], None], tuple[str, str | None, str]]] = [
    (not_opened, ("case_not_opened", None, "the case has not been opened")),
    (opened_twice, ("case_already_opened", "case_number", "the case is already open")),
    (closed, ("case_closed", None, "the case is closed and takes no more commands")),
    (
        protection_twice,
        (
            "protection_assessment_already_recorded",
            None,
            "the protection assessment has already been recorded",
        ),
    ),
    (protection_blank, ("reasoning_required", "reasoning", "reasoning must not be blank")),
    (
        pre_before_protection,
        (
            "protection_assessment_pending",
            None,
            "the protection assessment must be recorded before the pre-assessment",
        ),
    ),
    (
        pre_twice,
        ("pre_assessment_already_decided", None, "the pre-assessment has already been decided"),
    ),
    (pre_blank, ("reasons_required", "reasons", "reasons must not be blank")),
    (
        identify_identified,
        ("subject_already_identified", "subject", "the young person is already identified"),
    ),
    (
        identify_without_number,
        (
            "subject_not_identified",
            "subject.personal_identity_number",
            "subject.personal_identity_number is required to identify the young person",
        ),
    ),
    (identify_adult, ("subject_21_or_older", "subject.birth_date", ADULT_REFUSAL)),
    (open_for_adult, ("subject_21_or_older", "subject.birth_date", ADULT_REFUSAL)),
    (extend_without_investigation, NOT_INVESTIGATING),
    (conclude_without_investigation, NOT_INVESTIGATING),
    (extend_blank, ("reasons_required", "reasons", "reasons must not be blank")),
    (
        extend_three_times,
        ("too_many_extensions", None, "the policy allows at most 2 extensions"),
    ),
    (
        extend_not_later,
        (
            "extension_not_later",
            "until",
            "until must be after the investigation's current last day",
        ),
    ),
    (
        extend_too_long,
        ("extension_too_long", "until", "until must be within 8 months of the opening"),
    ),
    (follow_up_undecided, ("not_decided", None, "follow-up starts only after a decision")),
    (
        close_investigating,
        (
            "investigation_open",
            None,
            "the investigation must be concluded before the case is closed",
        ),
    ),
    (
        close_before_pre_assessment,
        (
            "pre_assessment_pending",
            None,
            "the case can be closed only after the pre-assessment decision",
        ),
    ),
    (close_blank, ("reason_required", "reason", "reason must not be blank")),
    (
        acknowledge_twice,
        ("already_acknowledged", "agency", "the consultation is already acknowledged"),
    ),
    (
        answer_not_asked,
        (
            "agency_not_consulted",
            "agency",
            "this agency has not been asked in this consultation",
        ),
    ),
    (
        answer_answered,
        (
            "consultation_closed",
            "agency",
            "the consultation is already answered, declined or expired",
        ),
    ),
    (answer_blank, ("answer_required", "answer", "answer must not be blank")),
    (decline_blank, ("reason_required", "reason", "reason must not be blank")),
    (ask_blank, ("questions_required", "questions", "questions must not be blank")),
    (deliver_unknown, ("unknown_consultation", "consultation_id", "no such consultation")),
    (
        outcome_from_another_agency,
        (
            "agency_not_consulted",
            "consultation_id",
            "no consultation with this id was sent to this agency",
        ),
    ),
    (
        consent_for_unknown_scope,
        ("unknown_consent_scope", "scope", f"scope must be 'all' or an agency: {SCOPES}"),
    ),
    (information_blank, ("information_required", "information", "information must not be blank")),
    (
        deadline_unknown_key,
        (
            "unknown_deadline",
            "deadline.key",
            "the deadline key names no deadline of this case",
        ),
    ),
    (
        rung_unknown_deadline,
        ("unknown_deadline", "deadline_key", "the case has no such deadline"),
    ),
    (
        breach_unknown_deadline,
        ("unknown_deadline", "deadline_key", "the case has no such deadline"),
    ),
    (
        breach_not_passed,
        (
            "deadline_not_passed",
            "deadline_key",
            "the deadline's legal latest day has not passed",
        ),
    ),
    (
        unknown_command,
        ("unknown_command", None, "this command is not part of the case domain"),
    ),
    (
        decline_after_acute,
        (
            "acute_requires_investigation",
            "open_investigation",
            "the protection assessment was acute (or an immediate custody is in force): "
            "the investigation opens at once (open_investigation: true)",
        ),
    ),
    (
        conclude_without_views,
        (
            "child_views_required",
            "views",
            "record the child's views, or why the child was not heard (record_child_views), "
            "before concluding the investigation",
        ),
    ),
    (
        young_adult_without_basis,
        (
            "young_adult_basis_required",
            "young_adult_basis",
            "the young person is 18, 19 or 20: an investigation needs their consent "
            "(young_adult_basis: consent) unless care under LVU 3 § may apply "
            "(young_adult_basis: lvu_3)",
        ),
    ),
    (
        lvu_3_for_a_twenty_year_old,
        (
            "lvu_3_not_applicable",
            "young_adult_basis",
            "LVU 3 § reaches only those who have not turned 20 "
            "(LVU 1 § third paragraph): the investigation needs the young person's consent",
        ),
    ),
    (
        basis_for_a_child,
        (
            "young_adult_basis_not_applicable",
            "young_adult_basis",
            "young_adult_basis applies only to a young person of 18, 19 or 20",
        ),
    ),
    (
        custody_before_assessment,
        (
            "custody_not_open",
            None,
            "an immediate custody is recorded after the protection assessment and before "
            "the investigation is concluded",
        ),
    ),
    (custody_twice, ("custody_in_force", None, "an immediate custody is already in force")),
    (
        custody_decided_in_future,
        ("decided_in_future", "decided_at", "decided_at must not be in the future"),
    ),
    (
        custody_carried_out_in_future,
        (
            "carried_out_out_of_order",
            "carried_out_at",
            "carried_out_at must be between decided_at and now",
        ),
    ),
    (
        custody_carried_out_before_decided,
        (
            "carried_out_out_of_order",
            "carried_out_at",
            "carried_out_at must be between decided_at and now",
        ),
    ),
    (
        custody_for_a_twenty_year_old,
        (
            "lvu_not_applicable",
            "subject.birth_date",
            "LVU reaches only those who have not turned 20",
        ),
    ),
    (
        filing_without_custody,
        ("no_custody", None, "there is no immediate custody in force to file for"),
    ),
    (filing_twice, ("already_filed", "filing", "this filing is already recorded")),
    (feedback_not_owed, ("no_feedback_owed", None, "no feedback to the reporter is owed")),
    (feedback_blank, ("content_required", "content", "content must not be blank")),
    (
        informed_without_investigation,
        ("no_investigation", None, "no investigation has been opened"),
    ),
    (
        informed_twice,
        ("already_informed", "party", "this party's information is recorded"),
    ),
    (views_without_investigation, NOT_INVESTIGATING),
    (
        views_and_reason,
        (
            "views_or_reason",
            "views",
            "give either views (the child's views) or reason_not_heard, not both",
        ),
    ),
    (
        neither_views_nor_reason,
        (
            "views_or_reason",
            "views",
            "give either views (the child's views) or reason_not_heard, not both",
        ),
    ),
    (views_blank, ("views_required", "views", "views must not be blank")),
    (
        reason_not_heard_blank,
        ("reason_not_heard_required", "reason_not_heard", "reason_not_heard must not be blank"),
    ),
    (
        join_without_investigation,
        (
            "no_open_investigation",
            None,
            "a report joins only a running investigation; otherwise open a case for it",
        ),
    ),
    (
        join_received_in_future,
        ("received_in_future", "received_at", "received_at must not be in the future"),
    ),
    (join_blank, ("summary_required", "summary", "summary must not be blank")),
    (
        extend_pre_after_acute,
        (
            "acute_no_extension",
            None,
            "after an acute protection assessment the investigation opens at once",
        ),
    ),
    (
        extend_pre_when_decided,
        ("no_pre_assessment", None, "there is no pre-assessment under way"),
    ),
    (
        extend_pre_by_an_officer,
        (
            "unit_manager_required",
            "decided_by_role",
            "a unit manager (or head of division) decides the extension",
        ),
    ),
    (extend_pre_blank, ("reasons_required", "reasons", "reasons must not be blank")),
    (
        extend_pre_not_later,
        ("extension_not_later", "until", "until must be after the pre-assessment's last day"),
    ),
    (
        escalation_report_without_rung,
        ("missing_rung", "rung", "an escalation report names its rung"),
    ),
]


@pytest.mark.parametrize(
    ("refused", "expected"), REFUSALS, ids=[step.__name__ for step, _ in REFUSALS]
)
def test_a_refusal_names_its_rule_its_field_and_one_sentence(
    refused: Callable[[], None], expected: tuple[str, str | None, str]
) -> None:
    with pytest.raises(Rejected) as info:
        refused()
    code, field, message = expected
    assert info.value.to_dict() == {"code": code, "field": field, "message": message}
    assert str(info.value) == f"{code}: {message}"


def test_a_filing_after_the_custody_lapsed_names_the_lapse() -> None:
    """LVU 9 §: once the LVU 7 § week passed unmet the custody has ended, and a filing is
    refused as ``custody_lapsed`` (not ``no_custody``). Decided Monday 2 March 2026, the
    week ends Monday 9 March, a working day; the breach is recorded on Tuesday 10 March."""
    case = _in_custody()
    [decided] = [e for e in case.events if isinstance(e, cases.ImmediateCustodyDecided)]
    week = cases.compute_deadline(
        cases.DeadlineKind.CUSTODY_SUBMISSION, decided.decided_at, policy=case.policy
    )
    assert week.legal_latest == datetime(2026, 3, 9, 23, 59, 59, 999999, tzinfo=STHLM)
    case.do(cases.RecordDeadline(deadline=week), after=timedelta(0))
    case.do(
        cases.RecordBreach(deadline_key=week.key),
        after=datetime(2026, 3, 10, 9, 0, tzinfo=STHLM) - case.now,
    )
    assert not case.s.custody_in_force
    with pytest.raises(Rejected) as info:
        case.do(cases.RecordCourtFiling(filing=cases.CourtFiling.CARE_APPLIED, decided_by="o"))
    assert info.value.to_dict() == {
        "code": "custody_lapsed",
        "field": None,
        "message": "there is no immediate custody in force to file for",
    }
