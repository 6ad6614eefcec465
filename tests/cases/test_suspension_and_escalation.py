"""Clock suspensions and escalation ladders (DESIGN §2)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

import cases
from cases import Agency, DeadlineKind, Policy, compute_deadline, escalation_schedule, suspend
from tests.cases.case_builders import STHLM

POLICY = Policy.default()


def at(day: date, clock: time = time(9, 0)) -> datetime:
    return datetime.combine(day, clock, tzinfo=STHLM)


def school_deadline(day: date = date(2026, 3, 2)) -> cases.Deadline:
    return compute_deadline(
        DeadlineKind.CONSULTATION,
        at(day),
        policy=POLICY,
        agency=Agency.SCHOOL,
        key="consultation:case-X:consultation-1",
    )


def test_suspension_pushes_the_deadline_by_the_suspended_working_days() -> None:
    deadline = school_deadline()  # due 2026-03-09
    pushed = suspend(deadline, at(date(2026, 3, 3)), at(date(2026, 3, 5)))  # Tue, Wed stood still
    assert pushed.target.date() == date(2026, 3, 11)
    assert pushed.legal_latest.date() == date(2026, 3, 11)
    assert pushed.suspended_working_days == 2
    assert pushed.moved_because == ("clock suspended 2026-03-03 to 2026-03-05: 2 working days",)


def test_suspension_over_a_weekend_only_changes_nothing() -> None:
    deadline = school_deadline()
    assert suspend(deadline, at(date(2026, 3, 7)), at(date(2026, 3, 9))) == deadline


def test_suspension_within_one_day_changes_nothing() -> None:
    deadline = school_deadline()
    assert (
        suspend(deadline, at(date(2026, 3, 3), time(9)), at(date(2026, 3, 3), time(15))) == deadline
    )


def test_suspension_that_lands_on_a_holiday_is_moved_and_says_why() -> None:
    deadline = school_deadline(date(2026, 3, 26))  # due 2026-04-02, the day before Good Friday
    pushed = suspend(deadline, at(date(2026, 3, 27)), at(date(2026, 3, 30)))  # Friday stood still
    assert pushed.target.date() == date(2026, 4, 7)
    assert pushed.moved_because[0].startswith("clock suspended 2026-03-27")


def test_two_suspensions_add_up_and_are_both_named() -> None:
    deadline = school_deadline()
    once = suspend(deadline, at(date(2026, 3, 3)), at(date(2026, 3, 4)))
    twice = suspend(once, at(date(2026, 3, 5)), at(date(2026, 3, 6)))
    assert twice.suspended_working_days == 2
    assert len([m for m in twice.moved_because if m.startswith("clock suspended")]) == 2


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    offset=st.integers(min_value=0, max_value=10),
    length=st.integers(min_value=0, max_value=20),
)
def test_suspension_moves_target_by_exactly_the_suspended_working_time(
    start: date, offset: int, length: int
) -> None:
    deadline = school_deadline(start)
    first = start + timedelta(days=offset)
    pushed = suspend(deadline, at(first), at(first + timedelta(days=length)))
    suspended = cases.working_days_between(first, first + timedelta(days=length))
    old, new = deadline.target.date(), pushed.target.date()
    assert cases.working_days_between(old + timedelta(days=1), new + timedelta(days=1)) == suspended
    assert pushed.legal_latest >= pushed.target


def schedule(kind: DeadlineKind, start: datetime, **kw: object) -> dict[str, datetime]:
    deadline = compute_deadline(kind, start, policy=POLICY, **kw)  # type: ignore[arg-type]
    return {r.rung_name: r.fire_at.astimezone(STHLM) for r in escalation_schedule(deadline, POLICY)}


def test_protection_ladder_reminds_after_two_hours_then_unit_manager_then_on_call() -> None:
    fire = schedule(DeadlineKind.PROTECTION_ASSESSMENT, at(date(2026, 3, 2), time(9, 0)))
    assert fire == {
        "remind_officer": at(date(2026, 3, 2), time(11, 0)),
        "unit_manager": at(date(2026, 3, 2), time(15, 0)),
        "on_call": datetime.combine(date(2026, 3, 2), time(23, 59, 59, 999_999), tzinfo=STHLM),
    }


def test_two_hours_are_elapsed_time_across_the_change_to_summer_time() -> None:
    fire = schedule(DeadlineKind.PROTECTION_ASSESSMENT, at(date(2026, 3, 29), time(1, 30)))
    assert fire["remind_officer"] == at(date(2026, 3, 29), time(4, 30))


def test_pre_assessment_ladder_fires_on_days_10_and_12_and_at_breach() -> None:
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, at(date(2026, 3, 2)), policy=POLICY)
    rungs = escalation_schedule(deadline, POLICY)
    assert [(r.rung_name, r.role, r.action) for r in rungs] == [
        ("remind_officer", cases.Role.OFFICER, cases.EscalationAction.REMIND),
        ("unit_manager", cases.Role.UNIT_MANAGER, cases.EscalationAction.NOTIFY),
        ("breach", cases.Role.HEAD_OF_DIVISION, cases.EscalationAction.DEVIATION_REPORT),
    ]
    assert rungs[0].fire_at == at(date(2026, 3, 12), time(8, 0))
    assert rungs[1].fire_at == at(date(2026, 3, 16), time(8, 0))  # day 12 is a Saturday
    assert rungs[2].fire_at == deadline.legal_latest


def test_investigation_ladder_asks_for_an_extension_decision_at_three_months() -> None:
    fire = schedule(DeadlineKind.INVESTIGATION, at(date(2026, 3, 2)))
    assert fire["extension_decision_due"] == at(date(2026, 6, 2), time(8, 0))
    assert fire["breach"].date() == date(2026, 7, 2)


def test_consultation_ladder_reminds_then_contacts_then_proceeds_without_answer() -> None:
    fire = schedule(DeadlineKind.CONSULTATION, at(date(2026, 3, 2)), agency=Agency.SCHOOL)
    assert [d.date() for d in fire.values()] == [
        date(2026, 3, 9),
        date(2026, 3, 12),
        date(2026, 3, 16),
    ]
    assert list(fire) == ["remind_agency", "agency_contact_person", "proceed_without_answer"]


def test_rung_indexes_follow_the_policy_ladder() -> None:
    deadline = compute_deadline(
        DeadlineKind.PROTECTION_ASSESSMENT, at(date(2026, 3, 2), time(14)), policy=POLICY
    )
    rungs = escalation_schedule(deadline, POLICY)
    assert sorted(r.rung_index for r in rungs) == [0, 1, 2]
    assert all(r.deadline_key == "protection_assessment" for r in rungs)


def test_a_ladder_from_the_policy_file_replaces_the_default() -> None:
    policy = Policy.from_toml(
        '[[ladders.pre_assessment]]\nname = "only"\nanchor = "target"\nrole = "officer"\n'
        'action = "remind"\noffset = { days = 0, at = 09:00:00 }\n'
    )
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, at(date(2026, 3, 2)), policy=policy)
    rungs = escalation_schedule(deadline, policy)
    assert [(r.rung_name, r.fire_at) for r in rungs] == [("only", at(date(2026, 3, 16), time(9)))]
