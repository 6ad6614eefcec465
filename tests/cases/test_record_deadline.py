"""Which deadlines a step starts, and recording them with `RecordDeadline` through `decide`.

The case workflow computes each deadline these rules name in a local activity and records
it with `RecordDeadline`; it builds no ``DeadlineSet`` itself.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import cases
from cases import Agency, DeadlineKind, LegalBasis, Rejected
from cases import CaseStateName as S
from tests.cases.case_builders import Case, types


def _deadline(case: Case, kind: DeadlineKind, **kw: object) -> cases.Deadline:
    return cases.compute_deadline(kind, case.now, policy=case.policy, **kw)  # type: ignore[arg-type]


def test_recording_a_new_deadline_decides_one_deadline_set_carrying_it() -> None:
    case = Case()
    deadline = _deadline(case, DeadlineKind.PRE_ASSESSMENT)
    [event] = case.do(cases.RecordDeadline(deadline=deadline))
    assert isinstance(event, cases.DeadlineSet)
    assert event.deadline == deadline
    assert case.s.deadlines["pre_assessment"] == deadline


def test_the_protection_deadline_starts_the_protection_assessment() -> None:
    case = Case()
    assert case.s.state is S.RECEIVED
    case.set_deadline(DeadlineKind.PROTECTION_ASSESSMENT, case.s.received_at)
    assert case.s.state is S.PROTECTION_ASSESSMENT


def test_a_moved_deadline_is_recorded_again() -> None:
    case = Case()
    case.assess()
    case.pre_assess(open_investigation=True)
    first = case.set_deadline(DeadlineKind.INVESTIGATION, case.now)
    later = _deadline(case, DeadlineKind.INVESTIGATION, until=first.target.date() + timedelta(30))
    assert later != first
    assert types(case.do(cases.RecordDeadline(deadline=later))) == ["DeadlineSet"]
    assert case.s.deadlines["investigation"] == later


def test_a_deadline_key_the_case_does_not_know_is_rejected() -> None:
    case = Case()
    deadline = _deadline(case, DeadlineKind.PROTECTION_ASSESSMENT).model_copy(
        update={"key": "protection"}
    )
    with pytest.raises(Rejected) as info:
        case.do(cases.RecordDeadline(deadline=deadline))
    assert (info.value.code, info.value.field) == ("unknown_deadline", "deadline.key")


def test_a_requested_consultations_deadline_is_recorded() -> None:
    case = Case()
    cid = case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)
    deadline = _deadline(
        case, DeadlineKind.CONSULTATION, agency=Agency.POLICE, key=f"consultation:{cid}"
    )
    assert types(case.do(cases.RecordDeadline(deadline=deadline))) == ["DeadlineSet"]


def test_a_closed_case_records_no_deadline() -> None:
    case = Case()
    case.assess()
    case.pre_assess(open_investigation=False)
    case.close()
    with pytest.raises(Rejected) as info:
        case.do(cases.RecordDeadline(deadline=_deadline(case, DeadlineKind.PRE_ASSESSMENT)))
    assert info.value.code == "case_closed"


# -- which deadlines a step starts -------------------------------------------------------


def test_a_report_starts_the_protection_and_pre_assessment_deadlines_from_receipt() -> None:
    case = Case()
    started = cases.deadlines_at_report(case.s)
    assert [(d.kind, d.start) for d in started] == [
        (DeadlineKind.PROTECTION_ASSESSMENT, case.s.received_at),
        (DeadlineKind.PRE_ASSESSMENT, case.s.received_at),
    ]
    assert all(d.until is None and d.agency is None and d.key is None for d in started)


def test_an_opened_investigation_starts_its_deadline_from_now() -> None:
    case = Case()
    case.assess()
    events = case.pre_assess(open_investigation=True)
    later = case.now + timedelta(seconds=5)
    [started] = cases.deadlines_started_by(events, now=later)
    assert started == cases.DeadlineToSet(DeadlineKind.INVESTIGATION, later)


def test_an_extension_moves_the_investigation_deadline_to_its_day() -> None:
    case = Case()
    case.assess()
    case.pre_assess(open_investigation=True)
    case.set_deadline(DeadlineKind.INVESTIGATION, case.now)
    until = date(2026, 8, 31)
    events = case.do(
        cases.ExtendInvestigation(until=until, reasons="awaiting BUP", decided_by="officer-1")
    )
    [started] = cases.deadlines_started_by(events, now=case.now)
    assert (started.kind, started.start, started.until) == (
        DeadlineKind.INVESTIGATION,
        case.now,
        until,
    )


def test_steps_that_open_no_investigation_start_no_deadline() -> None:
    case = Case()
    steps = [case.assess(), case.pre_assess(open_investigation=False), case.close()]
    assert all(cases.deadlines_started_by(events, now=case.now) == [] for events in steps)


def test_a_consultations_deadline_runs_from_delivery_for_its_agency() -> None:
    case = Case()
    cid = case.ask(Agency.POLICE, LegalBasis.OSL_10_18A, acute=True)
    delivery = case.now + timedelta(minutes=3)
    started = cases.consultation_deadline(case.s.consultations[cid], now=delivery)
    assert started == cases.DeadlineToSet(
        DeadlineKind.CONSULTATION,
        delivery,
        agency=Agency.POLICE,
        acute=True,
        key=f"consultation:{cid}",
    )


# -- which consultations may go out -------------------------------------------------------


def test_ready_consultations_are_the_requested_ones_not_yet_started_nor_waiting_for_consent() -> (
    None
):
    case = Case()
    case.assess()
    police = case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)
    school = case.ask(Agency.SCHOOL, LegalBasis.CONSENT)  # no consent yet: its clock waits
    bup = case.ask(Agency.BUP, LegalBasis.OSL_26_9)
    assert f"consultation:{school}" in case.s.suspended_clocks
    assert [c.consultation_id for c in cases.consultations_ready(case.s)] == [police, bup]

    case.set_deadline(
        DeadlineKind.CONSULTATION, case.now, agency=Agency.POLICE, key=f"consultation:{police}"
    )
    assert [c.consultation_id for c in cases.consultations_ready(case.s)] == [bup]

    case.do(cases.ChangeConsent(given=True, scope="all", by_whom="guardian"))
    assert [c.consultation_id for c in cases.consultations_ready(case.s)] == [school, bup]


def test_an_ended_consultation_is_never_ready() -> None:
    case = Case()
    cid = case.ask(Agency.POLICE, LegalBasis.OSL_10_18A)
    case.do(cases.DeclineConsultation(agency=Agency.POLICE, reason="no remit"))
    assert cid not in [c.consultation_id for c in cases.consultations_ready(case.s)]
