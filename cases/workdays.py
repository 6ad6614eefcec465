"""The Swedish working-day calendar and the date arithmetic of the time-limits act.

Lag (1930:173) om beräkning av lagstadgad tid: a period counted in months ends on the
same date number of the last month, or on that month's last day when it has no such
date; a last day that falls on a Saturday, Sunday, public holiday, Midsummer Eve
(midsommarafton), Christmas Eve (julafton) or New Year's Eve (nyårsafton) moves to the
next day that is none of these. Those are the non-working days here.

Public holidays and the three eves come from the ``holidays`` package (Sweden, categories
``public`` and ``de_facto``, Swedish names), never from a hand-written table; the package
version is recorded on every deadline (`calendar_version`). All local times are
Europe/Stockholm.
"""

from __future__ import annotations

import calendar as _calendar
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from holidays.countries.sweden import Sweden
from holidays.version import __version__ as _holidays_version

STOCKHOLM = ZoneInfo("Europe/Stockholm")
END_OF_DAY = time(23, 59, 59, 999_999)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def calendar_version() -> str:
    """The name and version of the holiday calendar, e.g. ``holidays-0.109``."""
    return f"holidays-{_holidays_version}"


@lru_cache(maxsize=64)
def _holidays_of(year: int) -> dict[date, str]:
    table = Sweden(
        years=year, include_sundays=False, categories=("public", "de_facto"), language="sv"
    )
    return {day: str(name) for day, name in table.items()}


def holiday_name(day: date) -> str | None:
    """The Swedish name of the public holiday or statutory eve on ``day``, if any."""
    return _holidays_of(day.year).get(day)


def non_working_reason(day: date) -> str | None:
    """Why ``day`` is not a working day (the holiday's name, or the weekday), else None."""
    name = holiday_name(day)
    if name is not None:
        return name
    if day.weekday() >= 5:
        return _WEEKDAY_NAMES[day.weekday()]
    return None


def is_working_day(day: date) -> bool:
    """True for a weekday that is neither a public holiday nor Midsummer, Christmas or
    New Year's Eve."""
    return non_working_reason(day) is None


def next_working_day_on_or_after(day: date) -> tuple[date, tuple[str, ...]]:
    """The first working day on or after ``day``, and the named days skipped to reach it.

    Each skipped day reads like ``2026-12-25 Juldagen`` or ``2026-12-27 Sunday``.
    """
    skipped: list[str] = []
    while (reason := non_working_reason(day)) is not None:
        skipped.append(f"{day.isoformat()} {reason}")
        day += timedelta(days=1)
    return day, tuple(skipped)


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself when ``count`` is 0).

    ``day`` itself is never counted, working day or not: one working day after a Friday
    is the next Monday that is a working day.

    Raises:
        ValueError: ``count`` is negative.
    """
    if count < 0:
        raise ValueError("count of working days must not be negative")
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(first: date, end: date) -> int:
    """How many working days lie in ``[first, end)``."""
    count = 0
    day = first
    while day < end:
        if is_working_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, ending on the same date number or on the
    month's last day when it has none (lag 1930:173, 2 §)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def local_date(moment: datetime) -> date:
    """The Stockholm calendar date of an aware instant."""
    return moment.astimezone(STOCKHOLM).date()


def end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in Stockholm (23:59:59.999999 local time)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=STOCKHOLM)


def at_local(day: date, clock: time) -> datetime:
    """``day`` at wall-clock ``clock`` in Stockholm."""
    return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=STOCKHOLM)
