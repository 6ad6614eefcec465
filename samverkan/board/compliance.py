"""Compliance over time, per month (Swedish time), from the ``board`` read models.

- **Protection assessments the same day**: of the protection-assessment deadlines whose
  period started in the month and that are decided (or overdue), the share met on the day
  the report arrived.
- **Pre-assessments within 14 days** and **investigations within 4 months or a decided
  extension**: of those deadlines started in the month and decided (or overdue), the share
  met by ``legal_latest`` (an extension re-sets the investigation's ``legal_latest``).
- **Consultation answer time per agency**: of consultations requested in the month and
  answered, the median and 90th percentile (nearest rank) of days from request to answer;
  with how many were answered, ended otherwise, or are still waiting.
- **Reports**: cases received in the month.

Months group deadlines by the day their period started, so a decision made after the
period still counts in its month. A deadline still pending and not yet due at ``as_of``
(when the figures are read) is not decided yet, so it counts in no share; one settled
without a decision (the case closed before it was due) neither; one overdue counts as late.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from cases.workdays import STOCKHOLM, local_date

SHARE_KINDS = {
    "protection_assessment": "Protection assessments made the same day",
    "pre_assessment": "Pre-assessments decided within 14 days (by legal latest)",
    "investigation": "Investigations concluded within 4 months or a decided extension",
}

_REPORTS = """
SELECT received_at FROM board_cases
WHERE municipality = $1 AND received_at >= $2 AND received_at < $3
"""
_DEADLINES = """
SELECT kind, start, legal_latest, status, met_at, pending, extended, legal_reference
FROM board_deadlines
WHERE municipality = $1 AND kind = ANY($4::text[]) AND start >= $2 AND start < $3
"""
_CONSULTATIONS = """
SELECT agency, status, requested_at, ended_at FROM board_consultations
WHERE municipality = $1 AND requested_at >= $2 AND requested_at < $3
"""


@dataclass(frozen=True, slots=True)
class ShareRow:
    """One month of a share: deadlines decided (or overdue) and how many on time."""

    month: str
    counted: int
    on_time: int
    extended: int = 0

    @property
    def share(self) -> float | None:
        """``on_time / counted``; None for a month with nothing counted."""
        return self.on_time / self.counted if self.counted else None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One month and agency of consultation answer times (days)."""

    month: str
    agency: str
    answered: int
    median_days: float | None
    p90_days: float | None
    ended_otherwise: int
    waiting: int


@dataclass(frozen=True, slots=True)
class Compliance:
    """A municipality's figures for the months from ``start`` through ``end``."""

    municipality: str
    start: date
    end: date
    as_of: datetime
    months: list[str]
    shares: dict[str, list[ShareRow]]
    answers: list[AnswerRow]
    reports: list[tuple[str, int]]
    references: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of ``moment``'s day in Sweden."""
    return local_date(moment).strftime("%Y-%m")


def months_between(start: date, end: date) -> list[str]:
    """Every month from ``start``'s through ``end``'s, as ``YYYY-MM``."""
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def local_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The first moment of ``start`` and the first moment after ``end``, Swedish time."""
    first = datetime(start.year, start.month, start.day, tzinfo=STOCKHOLM)
    after = end + timedelta(days=1)
    return first, datetime(after.year, after.month, after.day, tzinfo=STOCKHOLM)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of non-empty ``values``."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def _on_time(kind: str, row: Any) -> bool:
    met_at = row["met_at"]
    if met_at is None:
        return False
    if kind == "protection_assessment":
        return bool(local_date(met_at) == local_date(row["start"]))
    return bool(met_at <= row["legal_latest"])


def _counted(row: Any, as_of: datetime) -> bool:
    if row["met_at"] is not None:
        return True
    overdue = row["legal_latest"] < as_of
    return bool(overdue and (row["pending"] or row["status"] == "breached"))


def compute(
    municipality: str,
    start: date,
    end: date,
    as_of: datetime,
    reports: list[Any],
    deadlines: list[Any],
    consultations: list[Any],
) -> Compliance:
    """The figures from read-model rows (mappings with the columns of the queries above)."""
    months = months_between(start, end)
    shares: dict[str, list[ShareRow]] = {}
    references: dict[str, dict[str, int]] = {}
    for kind in SHARE_KINDS:
        per: dict[str, list[int]] = {m: [0, 0, 0] for m in months}
        for row in deadlines:
            if row["kind"] != kind:
                continue
            if row["legal_reference"]:
                cited = references.setdefault(kind, {})
                cited[row["legal_reference"]] = cited.get(row["legal_reference"], 0) + 1
            if not _counted(row, as_of):
                continue
            counts = per.setdefault(month_of(row["start"]), [0, 0, 0])
            counts[0] += 1
            counts[1] += _on_time(kind, row)
            counts[2] += bool(row["extended"])
        shares[kind] = [ShareRow(m, *per[m]) for m in months]
    times: dict[tuple[str, str], list[float]] = {}
    other: dict[tuple[str, str], list[int]] = {}
    for row in consultations:
        key = (month_of(row["requested_at"]), row["agency"])
        counts = other.setdefault(key, [0, 0])
        times.setdefault(key, [])
        if row["status"] == "answered" and row["ended_at"] is not None:
            days = (row["ended_at"] - row["requested_at"]).total_seconds() / 86400
            times[key].append(days)
        elif row["status"] in ("requested", "acknowledged"):
            counts[1] += 1
        else:
            counts[0] += 1
    answers = [
        AnswerRow(
            month=month,
            agency=agency,
            answered=len(days),
            median_days=statistics.median(days) if days else None,
            p90_days=percentile(days, 90) if days else None,
            ended_otherwise=other[(month, agency)][0],
            waiting=other[(month, agency)][1],
        )
        for (month, agency), days in sorted(times.items())
    ]
    per_month = dict.fromkeys(months, 0)
    for row in reports:
        month = month_of(row["received_at"])
        per_month[month] = per_month.get(month, 0) + 1
    return Compliance(
        municipality=municipality,
        start=start,
        end=end,
        as_of=as_of,
        months=months,
        shares=shares,
        answers=answers,
        reports=[(m, per_month[m]) for m in months],
        references={kind: sorted(cited.items()) for kind, cited in sorted(references.items())},
    )


async def read_compliance(
    pool: asyncpg.Pool, municipality: str, start: date, end: date, now: datetime
) -> Compliance:
    """The figures of ``municipality`` for the days ``start`` through ``end`` (Swedish time),
    as of ``now``."""
    first, after = local_bounds(start, end)
    as_of = now
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        reports = await conn.fetch(_REPORTS, municipality, first, after)
        deadlines = await conn.fetch(_DEADLINES, municipality, first, after, list(SHARE_KINDS))
        consultations = await conn.fetch(_CONSULTATIONS, municipality, first, after)
    return compute(municipality, start, end, as_of, reports, deadlines, consultations)
