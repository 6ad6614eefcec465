"""``open_consultations``: every consultation still waiting for an agency, per agency, with
its due time (the ``consultation:<id>`` deadline) and when the agency's system accepted it
(``delivered_at``, migration 0009), folded with `cases.apply`."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Change, Projection, Writes

_DELETE = "DELETE FROM open_consultations WHERE case_id = $1"
_INSERT = """
INSERT INTO open_consultations (case_id, consultation_id, agency, status, legal_basis, acute,
    requested_at, acknowledged_at, due, delivered_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


class OpenConsultationsProjection(Projection):
    """Open consultations (requested or acknowledged); a row goes when the consultation ends."""

    name: ClassVar[str] = "open_consultations"
    tables: ClassVar[tuple[str, ...]] = ("open_consultations",)

    async def project(self, writes: Writes, change: Change) -> None:
        """Rewrite the case's rows when its consultations or deadlines changed."""
        before, after = change.before, change.folded()
        if (
            before is not None
            and before.consultations == after.consultations
            and before.deadlines == after.deadlines
        ):
            return
        rows: list[tuple[str, tuple[Any, ...]]] = [(_DELETE, (change.case_id,))]
        for c in after.open_consultations():
            deadline = after.deadlines.get(f"consultation:{c.consultation_id}")
            rows.append(
                (
                    _INSERT,
                    (
                        change.case_id,
                        c.consultation_id,
                        c.agency.value,
                        c.status.value,
                        c.legal_basis.value,
                        c.acute,
                        c.requested_at,
                        c.acknowledged_at,
                        deadline.legal_latest if deadline is not None else None,
                        c.delivered_at,
                    ),
                )
            )
        writes.replace(change.case_id, rows)
