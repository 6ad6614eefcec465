"""``case_summary``: one row per case — state, municipality, next deadline, overdue count,
open consultations — the supervisor's overview, folded with `cases.apply`."""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from .base import Change, Projection, Statement, Writes

_UPSERT = """
INSERT INTO case_summary (case_id, case_number, municipality, state, urgent, next_deadline_key,
    next_deadline_at, overdue_count, open_consultations, escalations_raised,
    next_expected_action, version, last_event_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (case_id) DO UPDATE SET
    case_number = excluded.case_number, municipality = excluded.municipality,
    state = excluded.state, urgent = excluded.urgent,
    next_deadline_key = excluded.next_deadline_key, next_deadline_at = excluded.next_deadline_at,
    overdue_count = excluded.overdue_count, open_consultations = excluded.open_consultations,
    escalations_raised = excluded.escalations_raised,
    next_expected_action = excluded.next_expected_action, version = excluded.version,
    last_event_at = excluded.last_event_at
"""


class CaseSummaryProjection(Projection):
    """Where each case stands. ``overdue_count`` is as of the case's last event, so a
    rebuild reproduces every row exactly; the ``deadlines`` read model answers "now"."""

    name: ClassVar[str] = "case_summary"
    tables: ClassVar[tuple[str, ...]] = ("case_summary",)

    async def project(self, writes: Writes, change: Change) -> None:
        """Upsert the case's row from the state after the event (the batch's last one wins)."""
        writes.replace(change.case_id, partial(_summary_row, change))


def _summary_row(change: Change) -> list[Statement]:
    state = change.folded()
    as_of = change.recorded.envelope.occurred_at
    due = state.next_deadline()
    row = (
        change.case_id,
        state.case_number,
        state.municipality,
        state.state.value,
        state.urgent,
        due.key if due is not None else None,
        due.legal_latest if due is not None else None,
        state.overdue_count(as_of),
        len(state.open_consultations()),
        len(state.escalations_raised),
        state.next_expected_action(),
        change.recorded.envelope.version,
        as_of,
    )
    return [(_UPSERT, row)]
