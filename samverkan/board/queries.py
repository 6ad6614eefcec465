"""What the coordinator board shows, read from the ``board`` read models (one query per
panel, by municipality, on the partial indexes of migration 0006). No personal data: case
numbers, plain-words states and deadline names, agencies and times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from cases.deadlines import working_days_late
from cases.workdays import end_of_day, local_date, working_days_between

#: Each state in plain words, in the order a case passes them.
STATE_WORDS = {
    "received": "Received",
    "protection_assessment": "Protection assessment",
    "immediate_protection": "Immediate protection",
    "pre_assessment": "Pre-assessment",
    "investigation": "Investigation",
    "decided": "Decided",
    "follow_up": "Follow-up",
    "closed": "Closed",
}
DUE_SOON = timedelta(days=7)

_MUNICIPALITIES = "SELECT DISTINCT municipality FROM board_cases ORDER BY municipality"
_BY_STATE = """
SELECT state, count(*) AS n FROM board_cases
WHERE municipality = $1 AND state <> 'closed' GROUP BY state
"""
_DUE_SOON = """
SELECT case_number, name, legal_latest FROM board_deadlines
WHERE municipality = $1 AND pending AND NOT suspended
  AND legal_latest >= $2 AND legal_latest < $3
ORDER BY legal_latest, case_number, key
"""
_OVERDUE = """
SELECT case_number, name, legal_latest, legal_reference FROM board_deadlines
WHERE municipality = $1 AND pending AND NOT suspended AND legal_latest < $2
ORDER BY legal_latest, case_number, key
"""
_WAITING = """
SELECT agency, case_number, consultation_id, status, requested_at FROM board_consultations
WHERE municipality = $1 AND status IN ('requested', 'acknowledged')
ORDER BY agency, requested_at, case_number
"""
_ESCALATED = """
SELECT case_number, name, escalation_rungs, legal_latest FROM board_deadlines
WHERE municipality = $1 AND pending AND cardinality(escalation_rungs) > 0
ORDER BY legal_latest, case_number, key
"""


@dataclass(frozen=True, slots=True)
class DueItem:
    """A pending deadline of a case: its name, last moment and, if past, how late."""

    case_number: str
    deadline: str
    legal_latest: datetime
    working_days_late: int = 0
    legal_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A consultation waiting for an agency, with its age in days."""

    agency: str
    case_number: str
    consultation: str
    status: str
    requested_at: datetime
    age_days: float


@dataclass(frozen=True, slots=True)
class Escalated:
    """A pending deadline whose escalation ladder has fired (not yet resolved)."""

    case_number: str
    deadline: str
    highest_rung: int
    rungs: int
    legal_latest: datetime


@dataclass(frozen=True, slots=True)
class Board:
    """Everything one municipality's board shows, as of ``now``."""

    municipality: str
    now: datetime
    open_by_state: list[tuple[str, int]]
    due_soon: list[DueItem]
    overdue: list[DueItem]
    waiting: dict[str, list[Waiting]]
    escalated: list[Escalated]

    @property
    def open_cases(self) -> int:
        """How many cases are open."""
        return sum(n for _, n in self.open_by_state)


def working_days_late_by_day(days: set[date], now: datetime) -> dict[date, int]:
    """`working_days_late` of a deadline past at ``now`` whose last day is each of ``days``,
    counted once over the whole span (latest day first, each adding the working days up to
    the one after it) instead of once per row: thousands of overdue rows over years of days
    would otherwise take most of a page's time."""
    found: dict[date, int] = {}
    later: date | None = None
    for day in sorted(days, reverse=True):
        if later is None:
            found[day] = working_days_late(end_of_day(day), now)
        else:
            found[day] = found[later] + working_days_between(
                day + timedelta(days=1), later + timedelta(days=1)
            )
        later = day
    return found


async def municipalities(pool: asyncpg.Pool) -> list[str]:
    """Every municipality with a case in the read model."""
    return [r["municipality"] for r in await pool.fetch(_MUNICIPALITIES)]


async def read_board(pool: asyncpg.Pool, municipality: str, now: datetime) -> Board:
    """The board of ``municipality`` as of ``now`` (one connection, one snapshot)."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        by_state = {r["state"]: int(r["n"]) for r in await conn.fetch(_BY_STATE, municipality)}
        soon = await conn.fetch(_DUE_SOON, municipality, now, now + DUE_SOON)
        late = await conn.fetch(_OVERDUE, municipality, now)
        waiting_rows = await conn.fetch(_WAITING, municipality)
        escalated_rows = await conn.fetch(_ESCALATED, municipality)
    order = list(STATE_WORDS)
    late_by_day = working_days_late_by_day({local_date(r["legal_latest"]) for r in late}, now)

    def days_late(legal_latest: datetime) -> int:
        return late_by_day[local_date(legal_latest)]

    waiting: dict[str, list[Waiting]] = {}
    for r in waiting_rows:
        waiting.setdefault(r["agency"], []).append(
            Waiting(
                agency=r["agency"],
                case_number=r["case_number"],
                consultation=r["consultation_id"].rpartition(":")[2],
                status=r["status"],
                requested_at=r["requested_at"],
                age_days=(now - r["requested_at"]).total_seconds() / 86400,
            )
        )
    return Board(
        municipality=municipality,
        now=now,
        open_by_state=sorted(by_state.items(), key=lambda item: order.index(item[0])),
        due_soon=[DueItem(r["case_number"], r["name"], r["legal_latest"]) for r in soon],
        overdue=[
            DueItem(
                r["case_number"],
                r["name"],
                r["legal_latest"],
                days_late(r["legal_latest"]),
                r["legal_reference"],
            )
            for r in late
        ],
        waiting=waiting,
        escalated=[
            Escalated(
                r["case_number"],
                r["name"],
                max(r["escalation_rungs"]),
                len(r["escalation_rungs"]),
                r["legal_latest"],
            )
            for r in escalated_rows
        ],
    )
