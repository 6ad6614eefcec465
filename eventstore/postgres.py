"""`PostgresEventStore`: the event store on PostgreSQL through an asyncpg pool.

Appends
    The common case is **one round trip**: a single autocommit statement (`_APPEND`) that
    inserts the batch with ``INSERT .. SELECT FROM unnest(..)`` only if the case is at
    ``expected_version`` (a ``WHERE`` on ``max(version)``), returning the new positions.
    Only when that statement returns no rows (the case is at another version: a stale
    writer, or a retry of a batch already recorded) or raises ``UniqueViolationError`` (a
    reused event id, or a writer that got the same version first; the statement's snapshot
    predates its wait for the append lock, so ``UNIQUE (case_id, version)`` is what catches
    that race) does the append run the careful path: one transaction that looks up the
    batch's event ids (a retry returns the original result and writes nothing, see
    `resolve_retry`), compares the case's version (`WrongExpectedVersion`) and inserts. A
    statement that fails writes nothing; at most it leaves a position unused (a harmless
    hole). asyncpg prepares each statement once per connection and caches it.

    Every envelope is read as a domain event (`check_batch`) before anything is sent;
    ``validated=True`` skips only that reading, for a caller that has just done it
    (`EncryptingEventStore`), never the structural checks.

Gap-free global order: the append lock
    A reader that keeps a checkpoint by ``position`` must never see position n+1 before
    position n commits, or it skips n for ever. With a plain identity column that happens:
    transaction A draws 10, transaction B draws 11 and commits first. We chose to serialise
    appenders: a statement trigger on ``events`` takes one transaction-scoped advisory lock
    before any position is drawn, and holds it to commit. PostgreSQL makes a commit visible
    before it releases the transaction's locks, so every position below a visible one is
    already visible or rolled back (a rolled-back position is a harmless, permanent hole).
    Readers need no filter and checkpoints stay a single number.

    Cost: appends from all cases run one at a time, so throughput is bounded by one
    append's lock-to-commit time. On the fast path the statement is its own transaction,
    so the lock is taken and released inside the server (insert, then commit flush) and no
    client round trip happens while it is held; on the careful path it is held across the
    client's ``COMMIT`` round trip. Measured on the shared 2-core machine (benchmark 2,
    docs/benchmarks.md, 8 writers): about 500-950 appends per second of one event and
    4,500-6,500 events per second in appends of ten, 0.6-0.9 of raw ``INSERT`` transactions
    into the same table without the lock (the five-round-trip transaction this replaced
    managed 0.4-0.5); ``python -m bench.profile 10`` (8 writers, nothing else running)
    reaches ~12,000 events per second. Batching events per workflow step amortises the lock
    further. A case process appends a few dozen events over months, far below
    that bound. The alternative, a transaction-id watermark (``xid8`` column and
    ``pg_snapshot_xmin(pg_current_snapshot())``), lets appends run in parallel but orders
    readers by (transaction id, position), needs a two-part checkpoint, and holds every
    reader back behind the oldest open transaction in the whole database; we did not need
    the extra write throughput to justify that.

    Because the lock sits in a trigger, any writer that inserts into ``events`` (a repair
    script, a migration) is serialised too. Each append also ``NOTIFY``s channel
    ``samverkan_events`` (delivered at commit) so projectors wake up at once. (A fast-path
    statement that inserts nothing still fires the statement trigger: it briefly takes the
    lock and sends a notification that wakes projectors to find nothing new; harmless.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from cases import Envelope

from .errors import WrongExpectedVersion
from .store import AppendResult, RecordedEvent, check_batch, resolve_retry

NOTIFY_CHANNEL = "samverkan_events"

_COLUMNS = (
    "SELECT position, event_id, case_id, version, type, schema_version, occurred_at,"
    " recorded_at, actor, data::text AS data FROM events"
)
_BY_EVENT_IDS = _COLUMNS + " WHERE event_id = ANY($1::uuid[])"
_CASE_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE case_id = $1"
_INSERT = """
INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at, actor, data)
SELECT e.event_id, $1, e.version, e.type, e.schema_version, e.occurred_at, e.actor, e.data::jsonb
FROM unnest($2::uuid[], $3::int[], $4::text[], $5::int[], $6::timestamptz[], $7::text[], $8::text[])
    AS e(event_id, version, type, schema_version, occurred_at, actor, data)
ORDER BY e.version
RETURNING position, version
"""
# The fast path: the same insert, guarded by the version check, in one autocommit statement.
_APPEND = """
INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at, actor, data)
SELECT e.event_id, $1, e.version, e.type, e.schema_version, e.occurred_at, e.actor, e.data::jsonb
FROM unnest($2::uuid[], $3::int[], $4::text[], $5::int[], $6::timestamptz[], $7::text[], $8::text[])
    AS e(event_id, version, type, schema_version, occurred_at, actor, data)
WHERE (SELECT coalesce(max(version), 0) FROM events WHERE case_id = $1) = $9::int
ORDER BY e.version
RETURNING position, version
"""
_READ_CASE = _COLUMNS + " WHERE case_id = $1 AND version > $2 ORDER BY version"
_READ_ALL = _COLUMNS + " WHERE position > $1 ORDER BY position LIMIT $2"
_LAST_POSITION = "SELECT coalesce(max(position), 0) FROM events"

_RETRIES_AFTER_RACE = 3

Connection = asyncpg.Connection | PoolConnectionProxy


def recorded_from_row(row: asyncpg.Record) -> RecordedEvent:
    """A `RecordedEvent` from a row selected with the store's column list."""
    envelope = Envelope(
        event_id=row["event_id"],
        case_id=row["case_id"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        occurred_at=row["occurred_at"],
        actor=row["actor"],
        data=json.loads(row["data"]),
    )
    return RecordedEvent(
        position=row["position"], envelope=envelope, recorded_at=row["recorded_at"]
    )


_encode_json = json.JSONEncoder(separators=(",", ":")).encode  # built once, not per call


def _insert_args(envelopes: Sequence[Envelope]) -> list[Any]:
    return [
        [e.event_id for e in envelopes],
        [e.version for e in envelopes],
        [e.type for e in envelopes],
        [e.schema_version for e in envelopes],
        [e.occurred_at for e in envelopes],
        [e.actor for e in envelopes],
        [_encode_json(e.data) for e in envelopes],
    ]


def _result(
    case_id: str, envelopes: Sequence[Envelope], rows: list[asyncpg.Record]
) -> AppendResult:
    positions = tuple(r["position"] for r in sorted(rows, key=lambda r: r["version"]))
    return AppendResult(case_id=case_id, last_version=envelopes[-1].version, positions=positions)


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool for the event store (and projector) on ``dsn``."""
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)


class PostgresEventStore:
    """An `EventStore` on PostgreSQL. The schema comes from `eventstore.migrate`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        """The asyncpg pool the store runs on."""
        return self._pool

    @classmethod
    async def connect(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 10
    ) -> PostgresEventStore:
        """A store on a new pool for ``dsn``; close it with `close`."""
        return cls(await create_pool(dsn, min_size=min_size, max_size=max_size))

    async def close(self) -> None:
        """Close the pool."""
        await self._pool.close()

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
    ) -> AppendResult:
        """Append ``envelopes`` to a case at ``expected_version``; see `EventStore.append`.

        One round trip when the case is at ``expected_version`` and the event ids are new;
        a retry or a conflict takes the careful path (module docstring).
        """
        check_batch(case_id, expected_version, envelopes, read_events=not validated)
        envelopes = list(envelopes)
        args = _insert_args(envelopes)
        async with self._pool.acquire() as conn:
            try:
                rows = await conn.fetch(_APPEND, case_id, *args, expected_version)
            except asyncpg.UniqueViolationError:
                rows = []  # a reused event id or a racing writer: the careful path tells which
            if rows:
                return _result(case_id, envelopes, rows)
            return await self._append_carefully(conn, case_id, expected_version, envelopes, args)

    async def _append_carefully(
        self,
        conn: Connection,
        case_id: str,
        expected_version: int,
        envelopes: list[Envelope],
        args: list[Any],
    ) -> AppendResult:
        """The transactional path: retry lookup, version check, insert."""
        ids = args[0]
        for _ in range(_RETRIES_AFTER_RACE):
            try:
                async with conn.transaction():
                    recorded = await conn.fetch(_BY_EVENT_IDS, ids)
                    if recorded:
                        return resolve_retry(
                            case_id, envelopes, [recorded_from_row(r) for r in recorded]
                        )
                    current: int = await conn.fetchval(_CASE_VERSION, case_id)
                    if current != expected_version:
                        raise WrongExpectedVersion(case_id, expected_version, current)
                    rows = await conn.fetch(_INSERT, case_id, *args)
            except asyncpg.UniqueViolationError:
                continue  # another writer committed between our checks and insert
            return _result(case_id, envelopes, rows)
        raise WrongExpectedVersion(case_id, expected_version, None)

    async def read_case(self, case_id: str, *, after_version: int = 0) -> list[Envelope]:
        """The case's envelopes after ``after_version``, in version order, as stored."""
        rows = await self._pool.fetch(_READ_CASE, case_id, after_version)
        return [recorded_from_row(r).envelope for r in rows]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position`` in global order, with no holes."""
        rows = await self._pool.fetch(_READ_ALL, after_position, limit)
        return [recorded_from_row(r) for r in rows]

    async def last_position(self) -> int:
        """The position of the last committed event (0 when empty)."""
        position: int = await self._pool.fetchval(_LAST_POSITION)
        return position

    async def case_version(self, case_id: str) -> int:
        """The case's last version (0 when it has no events)."""
        version: int = await self._pool.fetchval(_CASE_VERSION, case_id)
        return version
