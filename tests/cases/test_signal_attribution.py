"""Whom a signal's events are attributed to and when a refused signal is recorded.

A consultation's reports are the agency's (``agency:<agency>``); a refused signal is
recorded as ``SignalRejected`` at the workflow's ``now`` for ``system:signal``. A new
``add_information`` takes only a listed source; one replayed from before the list reads a
free-text source as ``other``, and a replayed body without a source is refused, not a crash.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import cases
from cases import Agency, DeadlineKind, LegalBasis, ReportKind, Role
from tests.cases.case_builders import Case, types


def _consulted() -> tuple[Case, str]:
    case = Case()
    case.assess()
    cid = case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)
    case.set_deadline(
        DeadlineKind.CONSULTATION, case.now, agency=Agency.POLICE, key=f"consultation:{cid}"
    )
    return case, cid


def _report(case: Case, cid: str, kind: ReportKind, **kw: Any) -> dict[str, Any]:
    return {"consultation_id": cid, "agency": "police", "kind": kind.value, "at": case.now, **kw}


def _decide(case: Case, signal: str, body: Any, **kw: Any) -> cases.SignalOutcome:
    case.now += timedelta(minutes=1)
    return cases.decide_signal(case.s, signal, body, now=case.now, policy=case.policy, **kw)


def test_an_escalation_report_is_the_agencys() -> None:
    case, cid = _consulted()
    rung = cases.ScheduledRung(
        deadline_key=f"consultation:{cid}",
        rung_index=0,
        rung_name="remind_agency",
        fire_at=case.now,
        role=Role.OFFICER,
        action=cases.EscalationAction.REMIND,
    )
    body = _report(case, cid, ReportKind.ESCALATED, rung=rung.model_dump(mode="json"))
    outcome = _decide(case, "consultation_report", body)
    assert types(outcome.events) == ["EscalationRaised"]
    assert outcome.actor == "agency:police"


def test_an_answer_report_is_the_agencys() -> None:
    case, cid = _consulted()
    outcome = _decide(
        case, "consultation_report", _report(case, cid, ReportKind.ANSWERED, detail="ok")
    )
    assert types(outcome.events) == ["ConsultationAnswered", "DeadlineMet"]
    assert outcome.actor == "agency:police"


def test_a_refused_notice_is_recorded_at_now_for_the_system() -> None:
    case = Case()
    outcome = _decide(case, "add_information", {"source": "school", "information": " "})
    [rejected] = outcome.events
    assert isinstance(rejected, cases.SignalRejected)
    assert rejected.at == case.now
    assert outcome.actor == cases.SIGNAL_ACTOR == "system:signal"


def test_a_refused_report_is_recorded_at_now_for_the_system() -> None:
    case, cid = _consulted()
    body = {**_report(case, cid, ReportKind.ANSWERED, detail="x"), "agency": "school"}
    outcome = _decide(case, "consultation_report", body)
    [rejected] = outcome.events
    assert isinstance(rejected, cases.SignalRejected)
    assert rejected.at == case.now
    assert outcome.actor == "system:signal"


def test_a_new_notice_with_a_free_text_source_is_refused() -> None:
    case = Case()
    outcome = _decide(case, "add_information", {"source": "Mormor", "information": "Worried."})
    [rejected] = outcome.events
    assert isinstance(rejected, cases.SignalRejected)
    assert [e.field for e in rejected.errors] == ["source"]


def test_a_replayed_notice_reads_a_free_text_source_as_other() -> None:
    case = Case()
    body = {"source": "Mormor", "information": "Worried."}
    outcome = _decide(case, "add_information", body, strict=False)
    [added] = outcome.events
    assert isinstance(added, cases.InformationAdded)
    assert outcome.actor == "other"


def test_a_replayed_notice_without_a_source_is_refused_naming_it() -> None:
    case = Case()
    outcome = _decide(case, "add_information", {"information": "Worried."}, strict=False)
    [rejected] = outcome.events
    assert isinstance(rejected, cases.SignalRejected)
    assert [(e.field, e.code) for e in rejected.errors] == [("source", "missing")]
