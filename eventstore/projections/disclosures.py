"""``disclosures``: the audit log of every disclosure of personal data — legal basis, harm
assessment result, recipient, field names, time, decider (DESIGN §2). Append-only; it needs
no fold. The harm assessment's text is personal data and stays in the event."""

from __future__ import annotations

import json
from typing import ClassVar

from cases import DisclosureRecorded

from .base import Change, Projection, Writes

_INSERT = """
INSERT INTO disclosures (position, event_id, case_id, consultation_id, recipient, legal_basis,
    legal_reference, harm_result, fields, disclosed_at, decided_by, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
"""


class DisclosuresProjection(Projection):
    """One row per `DisclosureRecorded` event, keyed by its global position."""

    name: ClassVar[str] = "disclosures"
    tables: ClassVar[tuple[str, ...]] = ("disclosures",)
    folds: ClassVar[bool] = False

    async def project(self, writes: Writes, change: Change) -> None:
        """Insert a row for a disclosure; every other event is ignored."""
        event = change.event
        if not isinstance(event, DisclosureRecorded):
            return
        reference = (
            json.dumps(event.legal_reference.model_dump(mode="json"))
            if event.legal_reference is not None
            else None
        )
        writes.add(
            _INSERT,
            change.recorded.position,
            change.recorded.envelope.event_id,
            change.case_id,
            event.consultation_id,
            event.recipient.value,
            event.legal_basis.value,
            reference,
            event.harm_result.value,
            list(event.fields),
            event.disclosed_at,
            event.decided_by,
            change.recorded.recorded_at,
        )
