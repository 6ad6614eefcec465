"""Consultations with other agencies, consent, and what each agency may receive."""

from __future__ import annotations

from datetime import timedelta

import pytest

import cases
from cases import Agency, DeadlineKind, LegalBasis, Rejected
from cases import CaseStateName as S
from tests.cases.case_builders import Case, types


def asked(
    agency: Agency = Agency.SCHOOL, basis: LegalBasis = LegalBasis.DUTY_TO_INFORM, **kw: object
) -> tuple[Case, str]:
    case = Case(**kw)  # type: ignore[arg-type]
    case.assess()
    return case, case.ask(agency, basis)


def test_consultation_ids_follow_the_case_number() -> None:
    case = Case()
    first = case.ask(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM)
    second = case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)
    assert first == "case-MAL-2026-0042:consultation-1"
    assert second == "case-MAL-2026-0042:consultation-2"
    assert [c.consultation_id for c in case.s.open_consultations()] == [first, second]


def test_an_agency_answer_meets_the_consultation_deadline() -> None:
    case, cid = asked()
    case.set_deadline(
        DeadlineKind.CONSULTATION, case.now, agency=Agency.SCHOOL, key=f"consultation:{cid}"
    )
    case.do(cases.AcknowledgeConsultation(agency=Agency.SCHOOL))
    events = case.do(cases.AnswerConsultation(agency=Agency.SCHOOL, answer="attends rarely"))
    assert types(events) == ["ConsultationAnswered", "DeadlineMet"]
    assert case.s.consultations[cid].status is cases.ConsultationStatusName.ANSWERED
    assert case.s.open_consultations() == []
    assert case.s.deadline_is_settled(f"consultation:{cid}")


def test_an_answer_from_an_agency_that_was_not_asked_is_rejected() -> None:
    case, _ = asked()
    with pytest.raises(Rejected) as info:
        case.do(cases.AnswerConsultation(agency=Agency.POLICE, answer="x"))
    assert (info.value.code, info.value.field) == ("agency_not_consulted", "agency")


def test_an_answer_to_an_answered_consultation_is_rejected() -> None:
    case, _ = asked()
    case.do(cases.AnswerConsultation(agency=Agency.SCHOOL, answer="first"))
    with pytest.raises(Rejected) as info:
        case.do(cases.AnswerConsultation(agency=Agency.SCHOOL, answer="second"))
    assert info.value.code == "consultation_closed"


def test_acknowledging_twice_is_rejected() -> None:
    case, _ = asked()
    case.do(cases.AcknowledgeConsultation(agency=Agency.SCHOOL))
    with pytest.raises(Rejected) as info:
        case.do(cases.AcknowledgeConsultation(agency=Agency.SCHOOL))
    assert info.value.code == "already_acknowledged"


def test_a_decline_closes_the_consultation() -> None:
    case, cid = asked()
    case.do(cases.DeclineConsultation(agency=Agency.SCHOOL, reason="no records"))
    assert case.s.consultations[cid].status is cases.ConsultationStatusName.DECLINED
    with pytest.raises(Rejected):
        case.do(cases.DeclineConsultation(agency=Agency.SCHOOL, reason="again"))


def test_an_agency_message_naming_another_agencys_consultation_is_rejected() -> None:
    case, cid = asked()
    with pytest.raises(Rejected) as info:
        case.do(cases.AnswerConsultation(agency=Agency.POLICE, answer="x", consultation_id=cid))
    assert info.value.code == "agency_not_consulted"


def test_an_expired_consultation_lets_the_case_proceed_without_the_answer() -> None:
    case, cid = asked()
    events = case.do(
        cases.ReportConsultationOutcome(
            consultation_id=cid, agency=Agency.SCHOOL, outcome=cases.ConsultationOutcomeKind.EXPIRED
        )
    )
    assert types(events) == ["ConsultationExpired"]
    assert case.s.open_consultations() == []
    again = case.do(
        cases.ReportConsultationOutcome(
            consultation_id=cid, agency=Agency.SCHOOL, outcome=cases.ConsultationOutcomeKind.EXPIRED
        )
    )
    assert again == []


def test_a_failed_delivery_is_recorded_as_expired_for_that_cause() -> None:
    case, cid = asked()
    events = case.do(
        cases.ReportConsultationOutcome(
            consultation_id=cid, agency=Agency.SCHOOL, outcome=cases.ConsultationOutcomeKind.FAILED
        )
    )
    expired = events[0]
    assert isinstance(expired, cases.ConsultationExpired)
    assert expired.cause is cases.ExpiryCause.DELIVERY_FAILED


def test_a_legal_basis_not_permitted_for_the_agency_is_rejected() -> None:
    case = Case()
    with pytest.raises(Rejected) as info:
        case.ask(Agency.SAPO, LegalBasis.CONSENT)
    assert (info.value.code, info.value.field) == ("legal_basis_not_permitted", "legal_basis")


def test_osl_10_18a_is_refused_for_a_person_aged_21_or_more() -> None:
    case = Case(
        subject={
            "personal_identity_number": "19990101-0000",
            "name": "Vuxen Testsson",
            "birth_date": "1999-01-01",
        }
    )
    with pytest.raises(Rejected) as info:
        case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)
    assert info.value.code == "legal_basis_not_applicable"


def test_questions_to_cve_naming_the_subject_are_rejected() -> None:
    case = Case()
    with pytest.raises(Rejected) as info:
        case.ask(Agency.CVE, LegalBasis.NONE, questions="How do we talk to Testperson?")
    assert (info.value.code, info.value.field) == ("personal_data_to_cve", "questions")
    with pytest.raises(Rejected):
        case.ask(Agency.CVE, LegalBasis.NONE, questions="Is 201203150004 at risk?")


def test_cve_receives_no_personal_data_and_no_disclosure_is_recorded() -> None:
    case = Case()
    cid = case.ask(Agency.CVE, LegalBasis.NONE, questions="Method advice for a 14-year-old?")
    request, record = cases.disclosure_for(
        case.s, cid, decided_by="o", harm_assessment="", now=case.now
    )
    assert record is None
    assert request.fields == ()
    assert not request.contains_personal_data
    text = str(request.payload)
    subject = case.s.subject
    for value in (
        subject.name,
        subject.personal_identity_number,
        subject.birth_date.isoformat(),
        case.s.summary,
    ):
        assert value not in text


def test_school_receives_identity_and_questions_but_not_the_summary() -> None:
    case, cid = asked(Agency.SCHOOL, LegalBasis.DUTY_TO_INFORM)
    request, record = cases.disclosure_for(
        case.s, cid, decided_by="o", harm_assessment="no harm", now=case.now
    )
    assert set(request.fields) == {
        "subject_name",
        "personal_identity_number",
        "birth_date",
        "questions",
    }
    assert "summary" not in request.payload
    assert record is not None
    assert record.recipient is Agency.SCHOOL
    assert record.legal_basis is LegalBasis.DUTY_TO_INFORM
    assert record.fields == request.fields
    assert record.harm_result is cases.HarmResult.NO_HARM
    assert record.disclosed_at == case.now and record.decided_by == "o"


def test_police_under_osl_10_18a_never_receive_the_summary_and_get_its_legal_reference() -> None:
    case, cid = asked(Agency.POLICE, LegalBasis.OSL_10_18A)
    request, record = cases.disclosure_for(
        case.s, cid, decided_by="o", harm_assessment="no harm", now=case.now
    )
    assert "summary" not in request.fields and "summary" not in request.payload
    assert record is not None and record.legal_reference is not None
    assert (record.legal_reference.chapter, record.legal_reference.section) == (10, "18 a")


def test_a_request_recorded_without_a_statement_is_recorded_as_stating_nothing() -> None:
    case, cid = asked()
    _, record = cases.disclosure_for(case.s, cid, decided_by="o", harm_assessment=" ", now=case.now)
    assert record is not None
    assert record.statement is None and record.stated_by is None
    assert record.harm_result is cases.HarmResult.NOT_ASSESSED


def test_when_harm_is_found_no_personal_data_is_disclosed() -> None:
    case, cid = asked()
    request, record = cases.disclosure_for(
        case.s, cid, decided_by="o", harm_assessment="harm", now=case.now, harm_found=True
    )
    assert request.fields == () and record is None


def test_recording_a_disclosure_is_an_event_on_the_case() -> None:
    case, cid = asked()
    events = case.do(
        cases.RecordDisclosure(consultation_id=cid, decided_by="o", harm_assessment="no harm")
    )
    assert types(events) == ["DisclosureRecorded"]
    assert case.s.disclosure_count == 1
    assert "questions" in case.s.consultations[cid].disclosed_fields


def test_nothing_is_disclosed_after_the_case_is_closed() -> None:
    case, cid = asked()
    case.pre_assess(open_investigation=False)
    closed = case.s.model_copy(update={"state": S.CLOSED})
    with pytest.raises(Rejected) as info:
        cases.consultation_request(closed, cid)
    assert info.value.code == "case_closed"


def test_consent_based_consultation_waits_for_consent_with_its_clock_suspended() -> None:
    case = Case()
    events = case.do(
        cases.RequestConsultation(
            agency=Agency.SSPF, legal_basis=LegalBasis.CONSENT, questions="plan?", requested_by="o"
        )
    )
    assert types(events) == ["ConsultationRequested", "ClockSuspended"]
    cid = events[0].consultation_id  # type: ignore[attr-defined]
    key = f"consultation:{cid}"
    assert key in case.s.suspended_clocks
    with pytest.raises(Rejected) as info:
        cases.consultation_request(case.s, cid)
    assert info.value.code == "consent_required"
    resumed = case.do(
        cases.ChangeConsent(given=True, scope="sspf", by_whom="guardian and youth"),
        after=timedelta(days=2),
    )
    assert types(resumed) == ["ConsentChanged", "ClockResumed"]
    assert key not in case.s.suspended_clocks
    assert cases.consultation_request(case.s, cid).contains_personal_data


def test_withdrawn_consent_suspends_the_clock_again() -> None:
    case = Case()
    case.do(cases.ChangeConsent(given=True, scope="all", by_whom="guardian"))
    cid = case.ask(Agency.BUP, LegalBasis.CONSENT)
    events = case.do(cases.ChangeConsent(given=False, scope="bup", by_whom="guardian"))
    assert types(events) == ["ConsentChanged", "ClockSuspended"]
    assert f"consultation:{cid}" in case.s.suspended_clocks
    assert not case.s.consent_given(Agency.BUP) and case.s.consent_given(Agency.SCHOOL)


def test_consent_for_an_unknown_scope_is_rejected() -> None:
    case = Case()
    with pytest.raises(Rejected) as info:
        case.do(cases.ChangeConsent.model_construct(given=True, scope="neighbours", by_whom="g"))
    assert info.value.field == "scope"


def test_delivery_is_recorded_once() -> None:
    case, cid = asked()
    sent = case.now
    events = case.do(cases.RecordDelivery(consultation_id=cid, delivered_at=sent))
    assert types(events) == ["ConsultationDelivered"]
    assert case.s.consultations[cid].delivered_at == sent
    assert case.do(cases.RecordDelivery(consultation_id=cid, delivered_at=case.now)) == []


def test_an_acknowledgement_reported_by_the_consultation_is_recorded_once() -> None:
    case, cid = asked()
    report = cases.ReportConsultationOutcome(
        consultation_id=cid,
        agency=Agency.SCHOOL,
        outcome=cases.ConsultationOutcomeKind.ACKNOWLEDGED,
    )
    assert types(case.do(report)) == ["ConsultationAcknowledged"]
    assert case.do(report) == []
