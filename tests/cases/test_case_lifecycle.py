"""Decisions along the statutory path of a case (DESIGN §2) and what decide refuses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import cases
from cases import CaseStateName as S
from cases import DeadlineKind, Policy, Rejected
from tests.cases.case_builders import T0, Case, open_case, types


def rejected(case: Case, command: cases.Command) -> Rejected:
    with pytest.raises(Rejected) as info:
        case.do(command)
    return info.value


def test_opening_a_case_records_the_report_received() -> None:
    events = cases.decide(None, open_case(), now=T0)
    assert types(events) == ["ReportReceived"]
    state = cases.apply(None, events[0])
    assert state.state is S.RECEIVED
    assert state.version == 1


def test_opening_an_open_case_again_is_rejected() -> None:
    case = Case()
    assert rejected(case, open_case()).code == "case_already_opened"


def test_a_command_before_the_case_is_opened_is_rejected() -> None:
    with pytest.raises(Rejected) as info:
        cases.decide(None, cases.StartFollowUp(decided_by="x"), now=T0)
    assert info.value.code == "case_not_opened"


def test_recording_the_protection_deadline_starts_the_protection_assessment() -> None:
    case = Case()
    case.set_deadline(DeadlineKind.PROTECTION_ASSESSMENT, T0)
    assert case.s.state is S.PROTECTION_ASSESSMENT


def test_protection_assessment_meets_its_deadline_and_leads_to_pre_assessment() -> None:
    case = Case()
    case.set_deadline(DeadlineKind.PROTECTION_ASSESSMENT, T0)
    events = case.assess(acute=False)
    assert types(events) == ["ProtectionAssessed", "DeadlineMet"]
    assert case.s.state is S.PRE_ASSESSMENT
    assert case.s.deadline_status["protection_assessment"].label == "met"


def test_acute_protection_assessment_leads_to_immediate_protection() -> None:
    case = Case()
    case.assess(acute=True)
    assert case.s.state is S.IMMEDIATE_PROTECTION
    case.pre_assess(open_investigation=True)
    assert case.s.state is S.INVESTIGATION


def test_recording_the_protection_assessment_twice_is_rejected() -> None:
    case = Case()
    case.assess()
    error = rejected(
        case, cases.RecordProtectionAssessment(acute=False, reasoning="again", decided_by="o")
    )
    assert error.code == "protection_assessment_already_recorded"


def test_protection_assessment_without_reasoning_is_rejected() -> None:
    case = Case()
    error = rejected(
        case, cases.RecordProtectionAssessment(acute=False, reasoning="  ", decided_by="o")
    )
    assert (error.code, error.field) == ("reasoning_required", "reasoning")


def test_deciding_pre_assessment_before_protection_assessment_is_rejected() -> None:
    case = Case()
    error = rejected(
        case, cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="o")
    )
    assert error.code == "protection_assessment_pending"


def test_deciding_pre_assessment_twice_is_rejected() -> None:
    case = Case()
    case.assess()
    case.pre_assess()
    error = rejected(
        case, cases.DecidePreAssessment(open_investigation=False, reasons="r", decided_by="o")
    )
    assert error.code == "pre_assessment_already_decided"


def test_pre_assessment_without_reasons_is_rejected() -> None:
    case = Case()
    case.assess()
    error = rejected(
        case, cases.DecidePreAssessment(open_investigation=True, reasons="", decided_by="o")
    )
    assert error.field == "reasons"


def test_opening_an_investigation_for_a_mandatory_reporter_sends_feedback() -> None:
    case = Case(mandatory_reporter=True)
    case.assess()
    events = case.pre_assess(open_investigation=True)
    assert types(events) == ["InvestigationOpened", "DeadlineMet", "FeedbackSent"]
    feedback = events[-1]
    assert isinstance(feedback, cases.FeedbackSent)
    assert feedback.investigation_opened is True
    assert feedback.legal_reference is not None and feedback.legal_reference.sfs == "2025:400"


def test_declining_an_investigation_for_a_mandatory_reporter_sends_feedback() -> None:
    case = Case(mandatory_reporter=True)
    case.assess()
    events = case.pre_assess(open_investigation=False)
    assert types(events) == ["InvestigationDeclined", "DeadlineMet", "FeedbackSent"]
    assert case.s.state is S.DECIDED


def test_no_feedback_is_sent_to_a_reporter_without_the_duty_to_report() -> None:
    case = Case(mandatory_reporter=False)
    case.assess()
    assert "FeedbackSent" not in types(case.pre_assess(open_investigation=True))


def test_a_late_decision_meets_its_deadline_late() -> None:
    case = Case()
    case.set_deadline(DeadlineKind.PRE_ASSESSMENT, T0)
    case.assess()
    events = case.do(
        cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="o"),
        after=timedelta(days=30),
    )
    met = next(e for e in events if isinstance(e, cases.DeadlineMet))
    assert met.late is True
    assert case.s.deadline_status["pre_assessment"].label == "met_late"


def investigating(**kw: object) -> Case:
    case = Case(**kw)  # type: ignore[arg-type]
    case.assess()
    case.pre_assess(open_investigation=True)
    case.set_deadline(DeadlineKind.INVESTIGATION, case.now)
    return case


def test_concluding_meets_the_investigation_deadline() -> None:
    case = investigating()
    events = case.conclude()
    assert types(events) == ["InvestigationConcluded", "DeadlineMet"]
    assert case.s.state is S.DECIDED
    assert case.s.outcome is cases.InvestigationOutcome.INTERVENTION


def test_concluding_without_an_open_investigation_is_rejected() -> None:
    case = Case()
    case.assess()
    error = rejected(
        case,
        cases.ConcludeInvestigation(
            outcome=cases.InvestigationOutcome.NO_INTERVENTION, decided_by="o"
        ),
    )
    assert error.code == "no_open_investigation"


def extend(
    case: Case, until: date, reasons: str = "waiting for BUP assessment"
) -> list[cases.DomainEvent]:
    return case.do(cases.ExtendInvestigation(until=until, reasons=reasons, decided_by="m"))


def test_extending_the_investigation_records_the_new_last_day() -> None:
    case = investigating()  # opened 2026-03-02: four months end 2026-07-02
    events = extend(case, date(2026, 8, 14))
    assert types(events) == ["InvestigationExtended"]
    assert case.s.investigation_extended_until == date(2026, 8, 14)
    assert case.s.extension_count == 1


def test_extending_without_reasons_is_rejected() -> None:
    case = investigating()
    with pytest.raises(Rejected) as info:
        extend(case, date(2026, 8, 14), reasons=" ")
    assert (info.value.code, info.value.field) == ("reasons_required", "reasons")


def test_extending_to_a_day_not_after_the_current_deadline_is_rejected() -> None:
    case = investigating()
    with pytest.raises(Rejected) as info:
        extend(case, date(2026, 7, 2))
    assert (info.value.code, info.value.field) == ("extension_not_later", "until")


def test_extending_past_the_policy_maximum_length_is_rejected() -> None:
    case = investigating()  # eight months from 2026-03-02 is 2026-11-02
    extend(case, date(2026, 11, 2))
    case2 = investigating()
    with pytest.raises(Rejected) as info:
        extend(case2, date(2026, 11, 3))
    assert info.value.code == "extension_too_long"


def test_extending_more_often_than_the_policy_allows_is_rejected() -> None:
    policy = Policy.from_toml("[extension]\nmax_extensions = 1\n")
    case = investigating(policy=policy)
    extend(case, date(2026, 8, 1))
    case.set_deadline(DeadlineKind.INVESTIGATION, case.now, until=date(2026, 8, 1))
    with pytest.raises(Rejected) as info:
        extend(case, date(2026, 9, 1))
    assert info.value.code == "too_many_extensions"


def test_an_extension_must_be_later_than_the_extended_deadline() -> None:
    case = investigating()
    extend(case, date(2026, 8, 14))
    case.set_deadline(DeadlineKind.INVESTIGATION, case.now, until=date(2026, 8, 14))
    with pytest.raises(Rejected) as info:
        extend(case, date(2026, 8, 1))
    assert info.value.code == "extension_not_later"


def test_closing_with_an_investigation_still_open_is_rejected() -> None:
    case = investigating()
    assert rejected(case, cases.CloseCase(reason="r", decided_by="m")).code == "investigation_open"


def test_closing_before_the_pre_assessment_decision_is_rejected() -> None:
    case = Case()
    case.assess()
    assert rejected(case, cases.CloseCase(reason="r", decided_by="m")).code == (
        "pre_assessment_pending"
    )


def test_closing_expires_open_consultations_and_closes_the_case() -> None:
    case = investigating()
    cid = case.ask(cases.Agency.SCHOOL, cases.LegalBasis.DUTY_TO_INFORM)
    case.conclude()
    events = case.close()
    assert types(events) == ["ConsultationExpired", "CaseClosed"]
    assert case.s.state is S.CLOSED
    assert case.s.consultations[cid].status is cases.ConsultationStatusName.EXPIRED
    assert case.s.closed_at == case.now


def test_follow_up_comes_after_a_decision_and_before_closing() -> None:
    case = investigating()
    assert rejected(case, cases.StartFollowUp(decided_by="m")).code == "not_decided"
    case.conclude()
    case.do(cases.StartFollowUp(decided_by="m"))
    assert case.s.state is S.FOLLOW_UP
    case.close()
    assert case.s.state is S.CLOSED


@pytest.mark.parametrize(
    "command",
    [
        cases.AddInformation(source="school", information="new"),
        cases.ChangeConsent(given=True, scope="all", by_whom="guardian"),
        cases.StartFollowUp(decided_by="m"),
        cases.CloseCase(reason="again", decided_by="m"),
        cases.RecordBreach(deadline_key="pre_assessment"),
    ],
)
def test_anything_after_closed_is_rejected(command: cases.Command) -> None:
    case = Case()
    case.assess()
    case.pre_assess(open_investigation=False)
    case.close()
    assert rejected(case, command).code == "case_closed"


def test_information_added_is_recorded_without_changing_the_state() -> None:
    case = Case()
    before = case.s.state
    case.do(cases.AddInformation(source="police", information="seen at a meeting"))
    assert case.s.state is before
    assert isinstance(case.events[-1], cases.InformationAdded)


def test_blank_information_is_rejected() -> None:
    case = Case()
    assert rejected(case, cases.AddInformation(source="police", information=" ")).field == (
        "information"
    )


def test_rejections_never_carry_personal_data() -> None:
    case = Case()
    subject = case.s.subject
    messages = []
    for command in [
        cases.DecidePreAssessment(open_investigation=True, reasons=subject.name, decided_by="o"),
        cases.RequestConsultation(
            agency=cases.Agency.CVE,
            legal_basis=cases.LegalBasis.NONE,
            questions=f"about {subject.name}",
            requested_by="o",
        ),
        cases.ConcludeInvestigation(outcome=cases.InvestigationOutcome.TRANSFER, decided_by="o"),
    ]:
        with pytest.raises(Rejected) as info:
            case.do(command)
        messages.append(str(info.value))
    for message in messages:
        assert subject.name not in message
        assert subject.personal_identity_number not in message
