"""The gateway's rows: the audit log of every call and the first result per Idempotency-Key.

Neither holds personal data: the audit row names agency, route, consultation id, status and
outcome; an idempotency record keeps the response body, which holds ids and outcomes only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One gateway call."""

    agency: str | None
    method: str
    route: str
    consultation_id: str | None
    status: int
    outcome: str
    request_id: str


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    """The first answer given to a call with this Idempotency-Key."""

    route: str
    consultation_id: str
    status: int
    body: dict[str, Any]


_AUDIT_AND_REMEMBER = """
WITH kept AS (
    INSERT INTO idempotency_records (agency, idempotency_key, route, consultation_id, status, body)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb)
    ON CONFLICT DO NOTHING
    RETURNING route, consultation_id, status, body::text AS body
), earlier AS (
    SELECT route, consultation_id, status, body::text AS body FROM idempotency_records
    WHERE agency = $1 AND idempotency_key = $2 AND NOT EXISTS (SELECT FROM kept)
), answer AS (
    SELECT * FROM kept UNION ALL SELECT * FROM earlier
), audited AS (
    INSERT INTO gateway_audit (agency, method, route, consultation_id, status, outcome, request_id)
    SELECT $1, $7, $3, $4, coalesce((SELECT status FROM answer LIMIT 1), $5),
        CASE WHEN EXISTS (SELECT FROM kept) THEN $8 ELSE 'idempotent_replay' END, $9
)
SELECT route, consultation_id, status, body FROM answer
"""


class GatewayRecords:
    """Audit log and idempotency records in PostgreSQL (migration 0003)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def audit(self, entry: AuditEntry) -> None:
        """Record one call."""
        await self._pool.execute(
            "INSERT INTO gateway_audit (agency, method, route, consultation_id, status, outcome, "
            "request_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            entry.agency,
            entry.method,
            entry.route,
            entry.consultation_id,
            entry.status,
            entry.outcome,
            entry.request_id,
        )

    async def first_result(self, agency: str, key: str) -> IdempotentResult | None:
        """The recorded result of ``agency``'s call with Idempotency-Key ``key``."""
        row = await self._pool.fetchrow(
            "SELECT route, consultation_id, status, body::text AS body FROM idempotency_records "
            "WHERE agency = $1 AND idempotency_key = $2",
            agency,
            key,
        )
        if row is None:
            return None
        return IdempotentResult(
            row["route"], row["consultation_id"], row["status"], json.loads(row["body"])
        )

    async def audit_and_remember(
        self, entry: AuditEntry, key: str, result: IdempotentResult
    ) -> IdempotentResult:
        """Keep ``result`` for ``entry.agency``'s Idempotency-Key ``key`` (unless a concurrent
        call kept one first) and record the call, in one statement; the kept result.

        The audit row carries the kept result's status (outcome ``idempotent_replay`` when it
        was another call's).
        """
        if entry.agency is None:
            raise ValueError("an idempotency record needs the calling agency")
        row = await self._pool.fetchrow(
            _AUDIT_AND_REMEMBER,
            entry.agency,
            key,
            result.route,
            result.consultation_id,
            result.status,
            json.dumps(result.body),
            entry.method,
            entry.outcome,
            entry.request_id,
        )
        if row is None:  # kept by a call that committed after this statement's snapshot
            kept = await self.first_result(entry.agency, key)
            return kept if kept is not None else result
        return IdempotentResult(
            row["route"], row["consultation_id"], row["status"], json.loads(row["body"])
        )
