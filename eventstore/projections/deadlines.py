"""``deadlines``: every deadline of every case — target, legal latest, met or breached and
when, escalation rungs raised — the compliance read model, folded with `cases.apply`."""

from __future__ import annotations

from typing import Any, ClassVar

from cases import CaseState, DeadlineStatus

from .base import Change, Projection, Writes

_DELETE = "DELETE FROM deadlines WHERE case_id = $1"
_INSERT = """
INSERT INTO deadlines (case_id, key, kind, agency, start, target, legal_latest, moved_because,
    calendar, status, met_at, breached_at, suspended, escalation_rungs)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
"""


def _relevant(state: CaseState) -> tuple[object, ...]:
    return (
        state.deadlines,
        state.deadline_status,
        state.escalations_raised,
        state.suspended_clocks,
    )


class DeadlinesProjection(Projection):
    """One row per (case, deadline key); a re-set deadline replaces its row."""

    name: ClassVar[str] = "deadlines"
    tables: ClassVar[tuple[str, ...]] = ("deadlines",)

    async def project(self, writes: Writes, change: Change) -> None:
        """Rewrite the case's rows when anything about its deadlines changed."""
        before, after = change.before, change.folded()
        if before is not None and _relevant(before) == _relevant(after):
            return
        rows: list[tuple[str, tuple[Any, ...]]] = [(_DELETE, (change.case_id,))]
        for key, d in sorted(after.deadlines.items()):
            status = after.deadline_status.get(key, DeadlineStatus())
            rows.append(
                (
                    _INSERT,
                    (
                        change.case_id,
                        key,
                        d.kind.value,
                        d.agency.value if d.agency is not None else None,
                        d.start,
                        d.target,
                        d.legal_latest,
                        list(d.moved_because),
                        d.calendar,
                        status.label,
                        status.met_at,
                        status.breached_at,
                        key in after.suspended_clocks,
                        sorted(rung for k, rung in after.escalations_raised if k == key),
                    ),
                )
            )
        writes.replace(change.case_id, rows)
