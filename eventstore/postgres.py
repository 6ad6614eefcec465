"""`PostgresEventStore`: the event store on PostgreSQL through an asyncpg pool.

Appends
    One transaction per batch: look up the batch's event ids (a retry returns the original
    result and writes nothing), compare the case's last version with ``expected_version``,
    then insert every row with one ``INSERT .. SELECT FROM unnest(..)``. ``UNIQUE (case_id,
    version)`` and ``UNIQUE (event_id)`` catch a writer that slipped in between check and
    insert: the transaction is rolled back and the checks run again, which turn it into
    `WrongExpectedVersion` (or, for a concurrent retry of the same batch, its result).
    asyncpg prepares each statement once per connection and caches it (statement cache).

Gap-free global order: the append lock
    A reader that keeps a checkpoint by ``position`` must never see position n+1 before
    position n commits, or it skips n for ever. With a plain identity column that happens:
    transaction A draws 10, transaction B draws 11 and commits first. We chose to serialise
    appenders: a statement trigger on ``events`` takes one transaction-scoped advisory lock
    before any position is drawn, and holds it to commit. PostgreSQL makes a commit visible
    before it releases the transaction's locks, so every position below a visible one is
    already visible or rolled back (a rolled-back position is a harmless, permanent hole).
    Readers need no filter and checkpoints stay a single number.

    Cost: appends from all cases run one at a time, so throughput is bounded by
    one append transaction's lock-to-commit time (an insert plus a commit flush: roughly
    0.3-2 ms, i.e. some hundreds to a few thousand appends per second; batching events per
    workflow step amortises it). A case process appends a few dozen events over months,
    far below that bound. The alternative, a transaction-id watermark (``xid8`` column and
    ``pg_snapshot_xmin(pg_current_snapshot())``), lets appends run in parallel but orders
    readers by (transaction id, position), needs a two-part checkpoint, and holds every
    reader back behind the oldest open transaction in the whole database; we did not need
    the extra write throughput to justify that.

    Because the lock sits in a trigger, any writer that inserts into ``events`` (a repair
    script, a migration) is serialised too. Each append also ``NOTIFY``s channel
    ``samverkan_events`` (delivered at commit) so projectors wake up at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

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
_READ_CASE = _COLUMNS + " WHERE case_id = $1 AND version > $2 ORDER BY version"
_READ_ALL = _COLUMNS + " WHERE position > $1 ORDER BY position LIMIT $2"
_LAST_POSITION = "SELECT coalesce(max(position), 0) FROM events"

_RETRIES_AFTER_RACE = 3


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


def _insert_args(envelopes: Sequence[Envelope]) -> list[Any]:
    return [
        [e.event_id for e in envelopes],
        [e.version for e in envelopes],
        [e.type for e in envelopes],
        [e.schema_version for e in envelopes],
        [e.occurred_at for e in envelopes],
        [e.actor for e in envelopes],
        [json.dumps(e.data, separators=(",", ":")) for e in envelopes],
    ]


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
        self, case_id: str, expected_version: int, envelopes: Sequence[Envelope]
    ) -> AppendResult:
        """Append ``envelopes`` to a case at ``expected_version``; see `EventStore.append`."""
        check_batch(case_id, expected_version, envelopes)
        envelopes = list(envelopes)
        ids = [e.event_id for e in envelopes]
        async with self._pool.acquire() as conn:
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
                        rows = await conn.fetch(_INSERT, case_id, *_insert_args(envelopes))
                except asyncpg.UniqueViolationError:
                    continue  # another writer committed between our checks and insert
                positions = tuple(r["position"] for r in sorted(rows, key=lambda r: r["version"]))
                return AppendResult(
                    case_id=case_id, last_version=envelopes[-1].version, positions=positions
                )
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
