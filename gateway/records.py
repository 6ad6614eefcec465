"""The gateway's rows: the audit log of every call and the first result per Idempotency-Key.

Neither holds personal data: the audit row names agency, route, consultation id, status and
outcome, and for a codec call the caller's OIDC subject, the namespace and how many payloads
were answered (never a payload); an idempotency record keeps the response body, which holds ids and outcomes only,
and a keyed digest of the request body (`RequestDigests`), which tells a retry from a reuse
of the key without revealing the body to anyone holding only the database.

An Idempotency-Key is scoped to the calling agency and names one call: its route, its
consultation and its body. Records are never expired here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from infra.keys import MasterKeys

_DIGEST_LABEL = b"samverkan gateway: idempotency request digest v1"


class RequestDigests:
    """HMAC-SHA256 digests of request bodies, ``"<key id>:<hex>"``.

    The HMAC key of each master key id is derived from that master key (HMAC with a label
    of its own, so it is never the key that wraps data keys): no key is stored in the
    database, and a digest made before a master-key rotation is checked with its own key as
    long as that master key is configured.
    """

    def __init__(self, keys: Mapping[str, bytes], active_id: str) -> None:
        self._keys = {
            kid: hmac.new(raw, _DIGEST_LABEL, hashlib.sha256).digest() for kid, raw in keys.items()
        }
        self._active_id = active_id

    @classmethod
    def from_master_keys(cls, master_keys: MasterKeys) -> RequestDigests:
        """Digests under keys derived from ``master_keys`` (the active one makes new ones)."""
        return cls(master_keys.keys, master_keys.active_id)

    @classmethod
    def for_this_process(cls) -> RequestDigests:
        """Digests under a random key of this process only (an app built without keys):
        after a restart, older digests cannot be checked and replay as before."""
        kid = f"process.{secrets.token_hex(4)}"
        return cls({kid: secrets.token_bytes(32)}, kid)

    def _mac(self, key: bytes, request: bytes) -> str:
        return hmac.new(key, request, hashlib.sha256).hexdigest()

    def of(self, request: bytes) -> str:
        """The digest of ``request`` under the active key."""
        return f"{self._active_id}:{self._mac(self._keys[self._active_id], request)}"

    def matches(self, digest: str | None, request: bytes) -> bool:
        """Whether ``digest`` was made of ``request``. A digest that cannot be checked (none:
        a record from before migration 0005; or its master key is no longer configured)
        counts as a match, so such a record replays as it did before."""
        if digest is None:
            return True
        kid, _, mac = digest.partition(":")
        key = self._keys.get(kid)
        return key is None or hmac.compare_digest(mac, self._mac(key, request))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One gateway call.

    ``agency`` is who made an agency API call (its API key's agency); ``subject`` is who made
    a codec call (the OIDC token's ``sub``), so an agency call leaves it ``None``.
    ``namespace`` is the municipality a codec call named, when the endpoint serves it;
    ``payload_count`` how many payloads a codec call answered (0 when refused).
    """

    agency: str | None
    method: str
    route: str
    consultation_id: str | None
    status: int
    outcome: str
    request_id: str
    subject: str | None = None
    namespace: str | None = None
    payload_count: int | None = None


@dataclass(frozen=True, slots=True)
class IdempotentResult:
    """The first answer given to a call with this Idempotency-Key."""

    route: str
    consultation_id: str
    status: int
    body: dict[str, Any]
    #: `RequestDigests` digest of the request body (``None`` in records from before it).
    request_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Remembered:
    """What `GatewayRecords.audit_and_remember` kept, and the call's audited outcome:
    the call's own outcome, ``idempotent_replay`` (another call with this key and the same
    request kept its result first) or ``idempotency_key_reused`` (another request did)."""

    result: IdempotentResult
    outcome: str


REPLAY = "idempotent_replay"
REUSED = "idempotency_key_reused"  # both spelled out in the statement below

_AUDIT_AND_REMEMBER = """
WITH kept AS (
    INSERT INTO idempotency_records
        (agency, idempotency_key, route, consultation_id, status, body, request_digest)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $10)
    ON CONFLICT DO NOTHING
    RETURNING route, consultation_id, status, body::text AS body, request_digest,
        $8::text AS outcome
), earlier AS (
    SELECT route, consultation_id, status, body::text AS body, request_digest,
        CASE WHEN route = $3 AND consultation_id = $4
                AND (request_digest IS NULL OR request_digest = $10)
            THEN 'idempotent_replay' ELSE 'idempotency_key_reused' END AS outcome
    FROM idempotency_records
    WHERE agency = $1 AND idempotency_key = $2 AND NOT EXISTS (SELECT FROM kept)
), answer AS (
    SELECT * FROM kept UNION ALL SELECT * FROM earlier
), audited AS (
    INSERT INTO gateway_audit (agency, method, route, consultation_id, status, outcome, request_id,
        subject, namespace, payload_count)
    SELECT $1, $7, $3, $4,
        coalesce(
            (SELECT CASE WHEN outcome = 'idempotency_key_reused' THEN 422 ELSE status END
             FROM answer LIMIT 1),
            $5
        ),
        coalesce((SELECT outcome FROM answer LIMIT 1), 'idempotent_replay'), $9,
        $11, $12, $13
)
SELECT route, consultation_id, status, body, request_digest, outcome FROM answer
"""


def _result(row: asyncpg.Record) -> IdempotentResult:
    return IdempotentResult(
        row["route"],
        row["consultation_id"],
        row["status"],
        json.loads(row["body"]),
        row["request_digest"],
    )


class GatewayRecords:
    """Audit log and idempotency records in PostgreSQL (migrations 0003, 0005, 0007)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def audit(self, entry: AuditEntry) -> None:
        """Record one call."""
        await self._pool.execute(
            "INSERT INTO gateway_audit (agency, method, route, consultation_id, status, outcome, "
            "request_id, subject, namespace, payload_count) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            entry.agency,
            entry.method,
            entry.route,
            entry.consultation_id,
            entry.status,
            entry.outcome,
            entry.request_id,
            entry.subject,
            entry.namespace,
            entry.payload_count,
        )

    async def first_result(self, agency: str, key: str) -> IdempotentResult | None:
        """The recorded result of ``agency``'s call with Idempotency-Key ``key``."""
        row = await self._pool.fetchrow(
            "SELECT route, consultation_id, status, body::text AS body, request_digest "
            "FROM idempotency_records WHERE agency = $1 AND idempotency_key = $2",
            agency,
            key,
        )
        return None if row is None else _result(row)

    async def audit_and_remember(
        self, entry: AuditEntry, key: str, result: IdempotentResult
    ) -> Remembered:
        """Keep ``result`` for ``entry.agency``'s Idempotency-Key ``key`` (unless a concurrent
        call kept one first) and record the call, in one statement.

        The audit row carries the kept result's status, outcome ``idempotent_replay`` when
        it was another call's with the same route, consultation and request digest, else
        status 422 and outcome ``idempotency_key_reused``.
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
            result.request_digest,
            entry.subject,
            entry.namespace,
            entry.payload_count,
        )
        if row is None:  # kept by a call that committed after this statement's snapshot
            kept = await self.first_result(entry.agency, key)
            if kept is None:
                return Remembered(result, REPLAY)
            same = (kept.route, kept.consultation_id) == (result.route, result.consultation_id)
            if same and kept.request_digest in (None, result.request_digest):
                return Remembered(kept, REPLAY)
            return Remembered(kept, REUSED)
        return Remembered(_result(row), row["outcome"])
