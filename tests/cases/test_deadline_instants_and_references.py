"""What a computed deadline and its ladder carry besides their days: the instants in
Stockholm time, the key, the provision cited, the calendar, and exact refusals.

Hand-checked dates (Stockholm): a report received Monday 2 March 2026 has its
pre-assessment due Monday 16 March 2026 (14 days, a working day); the first working day
after it is Tuesday 17 March; Saturday 21 and Sunday 22 March are not working days. March
2026 is winter time (+01:00), summer time starts Sunday 29 March.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

import pytest

import cases
from cases import Agency, DeadlineKind, Policy, compute_deadline, escalation_schedule, suspend
from cases.deadlines import default_key, working_days_late
from cases.policy import LegalReference
from cases.workdays import add_working_days, calendar_version
from tests.cases.case_builders import STHLM

POLICY = Policy.default()
MONDAY = datetime(2026, 3, 2, 10, 15, tzinfo=STHLM)


def _end(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59, 999_999), tzinfo=STHLM)


class _NoOffset(tzinfo):
    """A time zone that cannot say its offset: the instant is not known."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None


def test_a_consultation_without_an_agency_has_the_unknown_key() -> None:
    assert default_key(DeadlineKind.CONSULTATION) == "consultation:unknown"
    assert default_key(DeadlineKind.CONSULTATION, Agency.POLICE) == "consultation:police"
    assert default_key(DeadlineKind.PRE_ASSESSMENT) == "pre_assessment"


def test_a_start_whose_zone_gives_no_offset_is_refused() -> None:
    start = datetime(2026, 3, 2, 10, 15, tzinfo=_NoOffset())
    with pytest.raises(ValueError, match=r"^start must be an aware datetime$"):
        compute_deadline(DeadlineKind.PRE_ASSESSMENT, start, policy=POLICY)


def test_a_consultation_deadline_needs_its_agency_in_those_words() -> None:
    with pytest.raises(ValueError, match=r"^a consultation deadline needs its agency$"):
        compute_deadline(DeadlineKind.CONSULTATION, MONDAY, policy=POLICY)


def test_a_consultation_is_not_acute_unless_asked() -> None:
    """The police answer in 5 working days, 1 when acute: from Monday 2 March 2026 that is
    Monday 9 March, acute Tuesday 3 March."""
    ordinary = compute_deadline(
        DeadlineKind.CONSULTATION, MONDAY, policy=POLICY, agency=Agency.POLICE
    )
    acute = compute_deadline(
        DeadlineKind.CONSULTATION, MONDAY, policy=POLICY, agency=Agency.POLICE, acute=True
    )
    assert ordinary.legal_latest == _end(date(2026, 3, 9))
    assert acute.legal_latest == _end(date(2026, 3, 3))
    assert ordinary.agency is Agency.POLICE


def test_a_deadline_starts_in_stockholm_time_whatever_zone_the_clock_gave() -> None:
    start = MONDAY.astimezone(UTC)
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, start, policy=POLICY)
    assert deadline.start == MONDAY
    assert deadline.start.tzinfo == STHLM
    assert deadline.start.isoformat() == "2026-03-02T10:15:00+01:00"


def _policy_citing_extensions() -> Policy:
    own = {
        "investigation_extension": (
            LegalReference(
                act="SoL", sfs="2025:400", chapter=20, section="9 a", valid_from=date(2025, 7, 1)
            ),
        ),
        "pre_assessment_extension": (
            LegalReference(
                act="SoL", sfs="2025:400", chapter=20, section="2 a", valid_from=date(2025, 7, 1)
            ),
        ),
    }
    return POLICY.model_copy(update={"legal_references": {**POLICY.legal_references, **own}})


def test_an_extended_investigation_cites_the_extension_rule_and_a_first_one_the_main_rule() -> None:
    policy = _policy_citing_extensions()
    first = compute_deadline(DeadlineKind.INVESTIGATION, MONDAY, policy=policy)
    extended = compute_deadline(
        DeadlineKind.INVESTIGATION, MONDAY, policy=policy, until=date(2026, 8, 31)
    )
    assert first.legal_reference is not None
    assert first.legal_reference.cite() == "SoL (2025:400) 20 kap. 9 §"
    assert extended.legal_reference is not None
    assert extended.legal_reference.cite() == "SoL (2025:400) 20 kap. 9 a §"
    assert extended.legal_latest == _end(date(2026, 8, 31))  # Monday 31 August 2026


def test_a_consultation_cites_no_provision() -> None:
    deadline = compute_deadline(
        DeadlineKind.CONSULTATION, MONDAY, policy=POLICY, agency=Agency.SCHOOL
    )
    assert deadline.legal_reference is None


def test_a_suspension_refuses_to_resume_before_it_began_in_those_words() -> None:
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, MONDAY, policy=POLICY)
    with pytest.raises(ValueError, match=r"^resumed_at must not be before suspended_from$"):
        suspend(deadline, MONDAY, MONDAY - timedelta(microseconds=1))


def test_a_suspended_deadline_records_the_calendar_that_moved_it() -> None:
    """Suspended Monday 2 to Wednesday 4 March 2026: two working days, so the
    pre-assessment due Monday 16 March moves to Wednesday 18 March."""
    recorded = compute_deadline(DeadlineKind.PRE_ASSESSMENT, MONDAY, policy=POLICY)
    older = recorded.model_copy(update={"calendar": "holidays-0.1"})
    moved = suspend(older, MONDAY, datetime(2026, 3, 4, 9, 0, tzinfo=STHLM))
    assert moved.legal_latest == _end(date(2026, 3, 18))
    assert moved.calendar == calendar_version()
    assert moved.calendar != "holidays-0.1"


def test_working_days_late_is_zero_up_to_the_last_instant_of_the_legal_latest_day() -> None:
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, MONDAY, policy=POLICY)
    due = deadline.legal_latest
    assert due == _end(date(2026, 3, 16))
    assert deadline.working_days_late(due) == 0
    assert working_days_late(due, due) == 0
    assert working_days_late(due, due - timedelta(days=3)) == 0
    assert working_days_late(due, due + timedelta(microseconds=1)) == 1  # Tuesday 17 March
    friday = datetime(2026, 3, 20, 12, 0, tzinfo=STHLM)
    assert deadline.working_days_late(friday) == 4
    assert deadline.working_days_late(friday + timedelta(days=1)) == 4  # Saturday 21 March
    assert deadline.working_days_late(friday + timedelta(days=3)) == 5  # Monday 23 March


def test_counting_working_days_backwards_is_refused_in_those_words() -> None:
    with pytest.raises(ValueError, match=r"^count of working days must not be negative$"):
        add_working_days(date(2026, 3, 2), -1)


def _ladder(offset: str, anchor: str = "start") -> Policy:
    return Policy.from_toml(
        f'[[ladders.pre_assessment]]\nname = "only"\nanchor = "{anchor}"\nrole = "officer"\n'
        f'action = "remind"\noffset = {offset}\n'
    )


def test_a_rung_minutes_after_its_anchor_fires_that_many_minutes_later_in_stockholm_time() -> None:
    policy = _ladder("{ hours = 1, minutes = 30 }")
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, MONDAY.astimezone(UTC), policy=policy)
    [rung] = escalation_schedule(deadline, policy)
    assert rung.fire_at == datetime(2026, 3, 2, 11, 45, tzinfo=STHLM)
    assert rung.fire_at.tzinfo == STHLM
    assert rung.fire_at.isoformat() == "2026-03-02T11:45:00+01:00"


def test_an_elapsed_rung_that_crosses_midnight_rolls_by_the_stockholm_date() -> None:
    """Anchored at the end of Friday 20 March 2026 (a target), one minute later is Saturday
    21 March 00:00:59.999999 in Stockholm, still Friday 23:00 in UTC: a Saturday, so it
    rolls to Monday 23 March, keeping the time of day."""
    policy = _ladder("{ minutes = 1, roll_to_working_day = true }", anchor="target")
    deadline = compute_deadline(
        DeadlineKind.PRE_ASSESSMENT, datetime(2026, 3, 6, 9, 0, tzinfo=STHLM), policy=policy
    )
    assert deadline.target == _end(date(2026, 3, 20))
    [rung] = escalation_schedule(deadline, policy)
    assert rung.fire_at == datetime(2026, 3, 23, 0, 0, 59, 999_999, tzinfo=STHLM)
    assert rung.fire_at.tzinfo == STHLM


def test_a_deadline_kind_without_a_ladder_has_no_rungs() -> None:
    policy = POLICY.model_copy(update={"ladders": {}})
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, MONDAY, policy=policy)
    assert escalation_schedule(deadline, policy) == []


def test_every_default_rung_fires_in_stockholm_time() -> None:
    for kind in (DeadlineKind.PROTECTION_ASSESSMENT, DeadlineKind.PRE_ASSESSMENT):
        deadline = compute_deadline(kind, MONDAY.astimezone(UTC), policy=POLICY)
        rungs = escalation_schedule(deadline, POLICY)
        assert rungs
        assert all(r.fire_at.tzinfo == STHLM for r in rungs)
        assert isinstance(rungs[0], cases.ScheduledRung)
