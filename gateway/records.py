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

    async def remember(self, agency: str, key: str, result: IdempotentResult) -> IdempotentResult:
        """Keep ``result`` unless a concurrent call kept one first; the kept result."""
        await self._pool.execute(
            "INSERT INTO idempotency_records (agency, idempotency_key, route, consultation_id, "
            "status, body) VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING",
            agency,
            key,
            result.route,
            result.consultation_id,
            result.status,
            json.dumps(result.body),
        )
        kept = await self.first_result(agency, key)
        return kept if kept is not None else result
