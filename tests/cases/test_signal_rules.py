"""How a case's signals become events (`cases.decide_signal`): notices and consultation reports.

A malformed or refused signal is recorded as ``SignalRejected`` (fields and rules, never a
value) instead of failing the workflow; a refused delivery is escalated to the officer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import cases
from cases import Agency, DeadlineKind, LegalBasis, ReportKind, Role
from tests.cases.case_builders import Case, types


def _signal(case: Case, signal: str, body: Any) -> cases.SignalOutcome:
    case.now += timedelta(minutes=1)
    outcome = cases.decide_signal(case.s, signal, body, now=case.now, policy=case.policy)
    for event in outcome.events:
        case.state = cases.apply(case.state, event)
    return outcome


def _consulted(agency: Agency = Agency.POLICE) -> tuple[Case, str]:
    case = Case()
    case.assess()
    cid = case.ask(agency, LegalBasis.OSL_10_18A)
    case.set_deadline(DeadlineKind.CONSULTATION, case.now, agency=agency, key=f"consultation:{cid}")
    return case, cid


def _report(cid: str, kind: ReportKind, case: Case, **kw: Any) -> dict[str, Any]:
    body = {"consultation_id": cid, "agency": "police", "kind": kind.value, "at": case.now}
    return {**body, **kw}


def _rejection(outcome: cases.SignalOutcome) -> cases.SignalRejected:
    [event] = outcome.events
    assert isinstance(event, cases.SignalRejected)
    assert outcome.actor == cases.SIGNAL_ACTOR and outcome.rung is None
    return event


# -- notices ------------------------------------------------------------------------------


def test_information_is_added_for_its_source() -> None:
    case = Case()
    outcome = _signal(
        case, "add_information", {"source": "school", "information": "Absent all week."}
    )
    assert types(outcome.events) == ["InformationAdded"]
    assert outcome.actor == "school"


def test_blank_information_is_a_rejected_signal_naming_the_field() -> None:
    case = Case()
    rejected = _rejection(
        _signal(case, "add_information", {"source": "school", "information": " "})
    )
    assert rejected.signal == "add_information"
    assert [(e.field, e.code) for e in rejected.errors] == [("information", "information_required")]


def test_a_malformed_notice_is_rejected_with_field_paths_and_never_its_values() -> None:
    case = Case()
    secret = "Testperson Exempelsson 20120315-0004"
    body = {"source": "school", "information": secret, "extra": secret}
    rejected = _rejection(_signal(case, "add_information", body))
    assert [(e.field, e.code) for e in rejected.errors] == [("extra", "extra_forbidden")]
    assert "Testperson" not in rejected.model_dump_json()
    assert rejected.at == case.now


def test_consent_given_resumes_a_waiting_consultation_attributed_to_no_person() -> None:
    case = Case()
    cid = case.ask(Agency.SCHOOL, LegalBasis.CONSENT)
    outcome = _signal(
        case, "consent_changed", {"given": True, "scope": "school", "by_whom": "guardian"}
    )
    assert types(outcome.events) == ["ConsentChanged", "ClockResumed"]
    assert outcome.actor == "system:consent"  # by_whom is personal: never the actor
    assert f"consultation:{cid}" not in case.s.suspended_clocks


def test_consent_for_an_unknown_scope_is_rejected() -> None:
    case = Case()
    body = {"given": True, "scope": "neighbours", "by_whom": "guardian"}
    rejected = _rejection(_signal(case, "consent_changed", body))
    assert [(e.field, e.code) for e in rejected.errors] == [("scope", "enum")]


# -- consultation reports -----------------------------------------------------------------


def test_a_delivery_is_recorded_for_the_agency() -> None:
    case, cid = _consulted()
    outcome = _signal(case, "consultation_report", _report(cid, ReportKind.DELIVERED, case))
    assert types(outcome.events) == ["ConsultationDelivered"]
    assert outcome.actor == "agency:police" and outcome.rung is None
    assert case.s.consultations[cid].delivered_at is not None


def test_an_answer_is_recorded_and_meets_the_consultation_deadline() -> None:
    case, cid = _consulted()
    body = _report(cid, ReportKind.ANSWERED, case, detail="Known to SSPF.")
    outcome = _signal(case, "consultation_report", body)
    assert types(outcome.events) == ["ConsultationAnswered", "DeadlineMet"]
    assert case.s.deadline_is_settled(f"consultation:{cid}")


def test_acknowledged_declined_and_expired_reports_record_their_outcomes() -> None:
    case, cid = _consulted()
    acknowledged = _signal(case, "consultation_report", _report(cid, ReportKind.ACKNOWLEDGED, case))
    assert types(acknowledged.events) == ["ConsultationAcknowledged"]
    case2, cid2 = _consulted()
    declined = _signal(
        case2, "consultation_report", _report(cid2, ReportKind.DECLINED, case2, detail="No remit.")
    )
    assert types(declined.events) == ["ConsultationDeclined", "DeadlineMet"]
    case3, cid3 = _consulted()
    expired = _signal(case3, "consultation_report", _report(cid3, ReportKind.EXPIRED, case3))
    [event] = expired.events
    assert isinstance(event, cases.ConsultationExpired)
    assert event.cause is cases.ExpiryCause.NO_ANSWER


def test_an_escalation_raises_the_reported_rung_once_and_names_it_to_notify() -> None:
    case, cid = _consulted()
    rung = cases.ScheduledRung(
        deadline_key=f"consultation:{cid}",
        rung_index=1,
        rung_name="remind_agency",
        fire_at=case.now,
        role=Role.OFFICER,
        action=cases.EscalationAction.REMIND,
    )
    body = _report(cid, ReportKind.ESCALATED, case, rung=rung.model_dump(mode="json"))
    first = _signal(case, "consultation_report", body)
    assert types(first.events) == ["EscalationRaised"]
    assert first.rung == rung
    again = _signal(case, "consultation_report", body)
    assert again.events == [] and again.rung is None


def test_an_escalation_report_without_its_rung_is_rejected() -> None:
    case, cid = _consulted()
    rejected = _rejection(
        _signal(case, "consultation_report", _report(cid, ReportKind.ESCALATED, case))
    )
    assert [(e.field, e.code) for e in rejected.errors] == [("rung", "missing_rung")]


def test_a_refused_delivery_is_escalated_to_the_officer_at_once_and_the_consultation_expires() -> (
    None
):
    case, cid = _consulted()
    body = _report(cid, ReportKind.DELIVERY_FAILED, case, error_type="AgencyRejected")
    outcome = _signal(case, "consultation_report", body)
    raised, expired = outcome.events
    assert isinstance(raised, cases.EscalationRaised)
    assert (raised.deadline_key, raised.rung_index, raised.rung_name, raised.role) == (
        f"consultation:{cid}",
        cases.DELIVERY_FAILED_RUNG,
        "delivery_failed",
        Role.OFFICER,
    )
    assert isinstance(expired, cases.ConsultationExpired)
    assert expired.cause is cases.ExpiryCause.DELIVERY_FAILED
    assert outcome.actor == "agency:police"
    assert outcome.rung is not None
    assert (outcome.rung.rung_index, outcome.rung.fire_at) == (cases.DELIVERY_FAILED_RUNG, case.now)
    assert outcome.rung.action is cases.EscalationAction.NOTIFY
    repeated = _signal(case, "consultation_report", body)
    assert repeated.events == [] and repeated.rung is None


def test_a_report_from_an_agency_that_was_not_asked_is_rejected() -> None:
    case, cid = _consulted()
    body = {**_report(cid, ReportKind.ANSWERED, case, detail="x"), "agency": "school"}
    rejected = _rejection(_signal(case, "consultation_report", body))
    assert [(e.field, e.code) for e in rejected.errors] == [
        ("consultation_id", "agency_not_consulted")
    ]


def test_a_malformed_report_is_rejected_naming_the_bad_field() -> None:
    case, cid = _consulted()
    body = {**_report(cid, ReportKind.ANSWERED, case), "kind": "shrugged"}
    rejected = _rejection(_signal(case, "consultation_report", body))
    assert rejected.signal == "consultation_report"
    assert [(e.field, e.code) for e in rejected.errors] == [("kind", "enum")]


def test_a_report_is_the_json_a_consultation_sends() -> None:
    case, cid = _consulted()
    report = cases.ConsultationReport(
        consultation_id=cid, agency=Agency.POLICE, kind=ReportKind.DELIVERED, at=case.now
    )
    assert set(report.model_dump(mode="json")) == {
        "consultation_id",
        "agency",
        "kind",
        "at",
        "detail",
        "rung",
        "error_type",
    }
    outcome = _signal(case, "consultation_report", report.model_dump(mode="json"))
    assert types(outcome.events) == ["ConsultationDelivered"]
