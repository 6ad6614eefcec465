"""``board``: the coordinator board's and the compliance report's read models, folded with
`cases.apply` — one row per case (``board_cases``), per deadline (``board_deadlines``: plain
words name, whether still pending, escalation rungs raised, decided extension, legal
reference) and per consultation, open or ended (``board_consultations``).

Each row carries the case's municipality and number, so a board page reads one table per
panel, by municipality, without joins. No personal data: the deadline's name is
`cases.state.deadline_name` (kind, agency and consultation number), never the subject, the
summary or a consultation's questions.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from cases import CaseState, DeadlineKind, DeadlineStatus, Policy
from cases.deadlines import Deadline
from cases.policy import deadline_rule
from cases.state import deadline_name
from cases.workdays import local_date

from .base import Change, Projection, Statement, Writes

_DELETES = (
    "DELETE FROM board_cases WHERE case_id = $1",
    "DELETE FROM board_deadlines WHERE case_id = $1",
    "DELETE FROM board_consultations WHERE case_id = $1",
)
_CASE = """
INSERT INTO board_cases (case_id, case_number, municipality, state, urgent, received_at, closed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
_DEADLINE = """
INSERT INTO board_deadlines (case_id, key, case_number, municipality, kind, name, start,
    legal_latest, status, met_at, pending, suspended, extended, escalation_rungs,
    legal_reference)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
"""
_CONSULTATION = """
INSERT INTO board_consultations (case_id, consultation_id, case_number, municipality, agency,
    status, requested_at, ended_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_POLICY = Policy.default()


def _extended(state: CaseState, deadline: Deadline) -> bool:
    if deadline.kind is DeadlineKind.INVESTIGATION:
        return state.extension_count > 0
    if deadline.kind is DeadlineKind.PRE_ASSESSMENT:
        return state.pre_assessment_extended_until is not None
    return False


def legal_reference(state: CaseState, deadline: Deadline) -> str | None:
    """The provision behind ``deadline`` in plain citation form: the one it recorded, else
    the default policy's for the day its period started; None for an agreed time limit."""
    if deadline.legal_reference is not None:
        return deadline.legal_reference.label()
    rule = deadline_rule(deadline.kind, extended=_extended(state, deadline))
    if rule is None:
        return None
    found = _POLICY.resolve(rule, on=local_date(deadline.start))
    return found.label() if found is not None else None


class BoardProjection(Projection):
    """A case's rows are rewritten from the state after its last event of a batch."""

    name: ClassVar[str] = "board"
    tables: ClassVar[tuple[str, ...]] = ("board_cases", "board_deadlines", "board_consultations")

    async def project(self, writes: Writes, change: Change) -> None:
        """State the case's rows as of this event (the batch's last event of a case wins)."""
        writes.replace(change.case_id, partial(_rows, change))


def _rows(change: Change) -> list[Statement]:
    state = change.folded()
    case_id = change.case_id
    rows: list[Statement] = [(sql, (case_id,)) for sql in _DELETES]
    number, municipality = state.case_number, state.municipality
    rows.append(
        (
            _CASE,
            (
                case_id,
                number,
                municipality,
                state.state.value,
                state.urgent,
                state.received_at,
                state.closed_at,
            ),
        )
    )
    for key, d in sorted(state.deadlines.items()):
        status = state.deadline_status.get(key, DeadlineStatus())
        rows.append(
            (
                _DEADLINE,
                (
                    case_id,
                    key,
                    number,
                    municipality,
                    d.kind.value,
                    deadline_name(d),
                    d.start,
                    d.legal_latest,
                    status.label,
                    status.met_at,
                    not state.deadline_is_settled(key),
                    key in state.suspended_clocks,
                    _extended(state, d),
                    sorted(rung for k, rung in state.escalations_raised if k == key),
                    legal_reference(state, d),
                ),
            )
        )
    for c in state.consultations.values():
        ended = c.answered_at or c.declined_at or c.expired_at
        rows.append(
            (
                _CONSULTATION,
                (
                    case_id,
                    c.consultation_id,
                    number,
                    municipality,
                    c.agency.value,
                    c.status.value,
                    c.requested_at,
                    ended,
                ),
            )
        )
    return rows
