"""Deadlines under lag 1930:173 with the Swedish holiday calendar (DESIGN §2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cases
from cases import Agency, DeadlineKind, Policy, compute_deadline
from tests.cases.case_builders import STHLM

POLICY = Policy.default()


def due(kind: DeadlineKind, day: date, clock: time = time(9, 0), **kw: object) -> cases.Deadline:
    start = datetime.combine(day, clock, tzinfo=STHLM)
    return compute_deadline(kind, start, policy=POLICY, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 4, 3), "Långfredagen"),
        (date(2026, 4, 6), "Annandag påsk"),
        (date(2026, 5, 14), "Kristi himmelsfärdsdag"),
        (date(2026, 6, 19), "Midsommarafton"),
        (date(2026, 6, 20), "Midsommardagen"),
        (date(2026, 10, 31), "Alla helgons dag"),
        (date(2026, 12, 24), "Julafton"),
        (date(2026, 12, 25), "Juldagen"),
        (date(2026, 12, 26), "Annandag jul"),
        (date(2026, 12, 31), "Nyårsafton"),
        (date(2027, 1, 1), "Nyårsdagen"),
        (date(2027, 1, 6), "Trettondedag jul"),
        (date(2025, 6, 6), "Nationaldagen"),
        (date(2026, 5, 1), "Första maj"),
    ],
)
def test_public_holidays_and_statutory_eves_are_not_working_days(day: date, name: str) -> None:
    assert not cases.is_working_day(day)
    assert cases.non_working_reason(day) == name


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 2),  # Maundy Thursday: a half day for banks, a working day in law
        date(2026, 4, 30),  # Walpurgis Night
        date(2025, 6, 9),  # Whit Monday: no longer a public holiday since 2005
        date(2026, 5, 15),  # the squeeze day after Ascension
        date(2026, 12, 23),
        date(2026, 1, 5),  # Twelfth Night
    ],
)
def test_eves_and_squeeze_days_outside_the_act_are_working_days(day: date) -> None:
    assert cases.is_working_day(day)


def test_saturdays_and_sundays_are_named_by_weekday() -> None:
    assert cases.non_working_reason(date(2026, 3, 7)) == "Saturday"
    assert cases.non_working_reason(date(2026, 3, 8)) == "Sunday"


def test_pre_assessment_ending_on_good_friday_moves_past_easter_monday() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 3, 20))
    assert deadline.target.date() == date(2026, 4, 3)
    assert deadline.legal_latest.date() == date(2026, 4, 7)
    assert deadline.moved_because == (
        "2026-04-03 Långfredagen",
        "2026-04-04 Saturday",
        "2026-04-05 Påskdagen",
        "2026-04-06 Annandag påsk",
    )


def test_pre_assessment_ending_on_ascension_day_moves_to_friday() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 4, 30))
    assert (deadline.target.date(), deadline.legal_latest.date()) == (
        date(2026, 5, 14),
        date(2026, 5, 15),
    )


def test_pre_assessment_ending_on_midsummer_eve_moves_to_monday() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 6, 5))
    assert deadline.legal_latest.date() == date(2026, 6, 22)
    assert deadline.moved_because[:2] == ("2026-06-19 Midsommarafton", "2026-06-20 Midsommardagen")


def test_pre_assessment_ending_on_all_saints_day_moves_to_monday() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 10, 17))
    assert deadline.legal_latest.date() == date(2026, 11, 2)
    assert deadline.moved_because[0] == "2026-10-31 Alla helgons dag"


def test_pre_assessment_over_christmas_moves_to_the_next_weekday() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 12, 10))
    assert deadline.target.date() == date(2026, 12, 24)
    assert deadline.legal_latest.date() == date(2026, 12, 28)


def test_pre_assessment_ending_on_new_years_eve_moves_into_the_new_year() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 12, 17))
    assert deadline.legal_latest.date() == date(2027, 1, 4)
    assert deadline.moved_because == (
        "2026-12-31 Nyårsafton",
        "2027-01-01 Nyårsdagen",
        "2027-01-02 Saturday",
        "2027-01-03 Sunday",
    )


def test_pre_assessment_ending_on_national_day_moves() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2025, 5, 23))
    assert deadline.target.date() == date(2025, 6, 6)
    assert deadline.legal_latest.date() == date(2025, 6, 9)


def test_a_deadline_on_a_working_day_is_not_moved() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 3, 2))
    assert deadline.target == deadline.legal_latest
    assert deadline.moved_because == ()


def test_a_deadline_ends_at_the_end_of_its_stockholm_day() -> None:
    deadline = due(DeadlineKind.PRE_ASSESSMENT, date(2026, 3, 2))
    local = deadline.target.astimezone(STHLM)
    assert (local.hour, local.minute, local.second, local.microsecond) == (23, 59, 59, 999_999)
    assert deadline.calendar.startswith("holidays-")


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2027, 10, 31), 4, date(2028, 2, 29)),
        (date(2026, 10, 31), 4, date(2027, 2, 28)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 4, date(2026, 12, 31)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 11, 15), 4, date(2027, 3, 15)),
    ],
)
def test_month_periods_end_on_the_same_date_or_the_months_last_day(
    start: date, months: int, end: date
) -> None:
    assert cases.add_months(start, months) == end


def test_investigation_from_october_31_ends_on_leap_day() -> None:
    deadline = due(DeadlineKind.INVESTIGATION, date(2027, 10, 31))
    assert deadline.target.date() == date(2028, 2, 29)
    assert deadline.legal_latest.date() == date(2028, 2, 29)


def test_investigation_ending_on_a_sunday_moves_to_monday() -> None:
    deadline = due(DeadlineKind.INVESTIGATION, date(2026, 1, 5))  # 2026-05-05 is a Tuesday
    assert deadline.target.date() == date(2026, 5, 5)
    deadline = due(DeadlineKind.INVESTIGATION, date(2026, 2, 28))  # 2026-06-28 is a Sunday
    assert deadline.legal_latest.date() == date(2026, 6, 29)


def test_an_extended_investigation_ends_on_its_new_last_day() -> None:
    deadline = due(DeadlineKind.INVESTIGATION, date(2026, 3, 2), until=date(2026, 8, 15))
    assert deadline.target.date() == date(2026, 8, 15)
    assert deadline.legal_latest.date() == date(2026, 8, 17)


def test_protection_assessment_before_cut_off_is_due_the_same_day() -> None:
    deadline = due(DeadlineKind.PROTECTION_ASSESSMENT, date(2026, 3, 2), time(14, 59))
    assert deadline.target.date() == date(2026, 3, 2)
    assert deadline.legal_latest.date() == date(2026, 3, 2)


def test_protection_assessment_after_cut_off_is_due_the_next_day() -> None:
    deadline = due(DeadlineKind.PROTECTION_ASSESSMENT, date(2026, 3, 2), time(15, 0))
    assert deadline.target.date() == date(2026, 3, 3)


def test_late_protection_assessment_on_a_friday_is_legally_due_on_the_saturday() -> None:
    # "genast": lag 1930:173 does not move it to Monday 9 March (the old, wrong reading)
    deadline = due(DeadlineKind.PROTECTION_ASSESSMENT, date(2026, 3, 6), time(16, 30))
    assert deadline.target.date() == date(2026, 3, 7)
    assert deadline.legal_latest.date() == date(2026, 3, 7)
    assert deadline.moved_because == ()


def test_protection_cut_off_comes_from_the_policy() -> None:
    policy = Policy.from_toml("[time_limits]\nprotection_cutoff = 12:00:00\n")
    start = datetime(2026, 3, 2, 13, 0, tzinfo=STHLM)
    deadline = compute_deadline(DeadlineKind.PROTECTION_ASSESSMENT, start, policy=policy)
    assert deadline.target.date() == date(2026, 3, 3)


def test_cut_off_is_read_in_stockholm_time() -> None:
    start = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # 13:30 in Stockholm
    deadline = compute_deadline(DeadlineKind.PROTECTION_ASSESSMENT, start, policy=POLICY)
    assert deadline.target.date() == date(2026, 3, 2)


def test_consultation_answer_time_counts_working_days_per_agency() -> None:
    assert due(DeadlineKind.CONSULTATION, date(2026, 3, 2), agency=Agency.SCHOOL).target.date() == (
        date(2026, 3, 9)
    )
    assert due(DeadlineKind.CONSULTATION, date(2026, 3, 2), agency=Agency.BUP).target.date() == (
        date(2026, 3, 16)
    )


def test_an_acute_police_consultation_is_due_the_next_working_day() -> None:
    deadline = due(DeadlineKind.CONSULTATION, date(2026, 4, 2), agency=Agency.POLICE, acute=True)
    assert deadline.target.date() == date(2026, 4, 7)  # over Easter
    assert deadline.key == "consultation:police"


def test_a_consultation_deadline_needs_its_agency() -> None:
    with pytest.raises(ValueError, match="agency"):
        due(DeadlineKind.CONSULTATION, date(2026, 3, 2))


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        compute_deadline(DeadlineKind.PRE_ASSESSMENT, datetime(2026, 3, 2), policy=POLICY)


def test_add_working_days_skips_weekends_and_holidays() -> None:
    assert cases.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert cases.add_working_days(date(2026, 3, 6), 0) == date(2026, 3, 6)
    with pytest.raises(ValueError):
        cases.add_working_days(date(2026, 3, 6), -1)


# -- properties ---------------------------------------------------------------------------

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2031, 12, 31))
# not the protection assessment ("genast") nor LVU 7 § / 8 §: lag 1930:173 does not move them
kinds = st.sampled_from([k for k in DeadlineKind if k not in cases.models.NOT_MOVED_BY_CALENDAR])
clocks = st.times()


@settings(max_examples=300, deadline=None)
@given(
    day=days, clock=clocks, kind=kinds, agency=st.sampled_from(list(Agency)), acute=st.booleans()
)
def test_legal_latest_is_the_first_working_day_on_or_after_target(
    day: date, clock: time, kind: DeadlineKind, agency: Agency, acute: bool
) -> None:
    deadline = due(kind, day, clock, agency=agency, acute=acute)
    assert deadline.legal_latest >= deadline.target
    legal = deadline.legal_latest.astimezone(STHLM).date()
    target = deadline.target.astimezone(STHLM).date()
    assert cases.is_working_day(legal)
    skipped = target
    while skipped < legal:
        assert not cases.is_working_day(skipped)
        skipped += timedelta(days=1)
    assert len(deadline.moved_because) == (legal - target).days


@settings(max_examples=300, deadline=None)
@given(day=days, months=st.integers(min_value=0, max_value=60))
def test_month_arithmetic_keeps_the_date_or_takes_the_months_last_day(
    day: date, months: int
) -> None:
    end = cases.add_months(day, months)
    assert (end.year * 12 + end.month) - (day.year * 12 + day.month) == months
    next_day = end + timedelta(days=1)
    assert end.day == day.day or (end.day < day.day and next_day.day == 1)


@settings(max_examples=200, deadline=None)
@given(day=days, count=st.integers(min_value=0, max_value=30))
def test_add_working_days_lands_on_a_working_day_count_days_later(day: date, count: int) -> None:
    end = cases.add_working_days(day, count)
    assert cases.working_days_between(day + timedelta(days=1), end + timedelta(days=1)) == count
    if count:
        assert cases.is_working_day(end)
