"""`PostgresEventStore`: the event store on PostgreSQL through an asyncpg pool.

Appends
    The common case is **one round trip, shared**: the appends under way at once (from the
    coroutines of this process) are sent together, up to ``max_group`` of distinct cases, as
    one autocommit statement (`_APPEND_GROUP`, the batches as one ``jsonb`` parameter) that
    inserts each batch only if its case is at its ``expected_version`` and returns each
    inserted case's positions: one append lock, one commit for the group. While a group is in
    flight the next appends queue, so under load the groups grow by themselves and a lone
    writer still gets one statement per append. Only when an append's batch was not inserted
    (its case is at another version: a stale writer, or a retry of a batch already recorded)
    or the group's statement failed in the database (``UniqueViolationError``: a reused event
    id, or a writer that got the same version first, the statement's snapshot predating its
    wait for the append lock; or a value ``jsonb`` refuses) does that append run the careful
    path, alone: one transaction that looks up the batch's event ids (a retry returns the
    original result and writes nothing, see `resolve_retry`), compares the case's version
    (`WrongExpectedVersion`) and inserts. So a refused append never fails the others of its
    group. A statement that fails writes nothing; at most it leaves a position unused (a
    harmless hole). asyncpg prepares each statement once per connection and caches it.

    Every envelope is read as a domain event (`check_batch`) before anything is sent;
    ``validated=True`` skips only that reading, for a caller that has just done it
    (`EncryptingEventStore`), never the structural checks.

Sealed personal fields
    `EncryptingEventStore` hands an append the batch's sealed personal fields (``sealed``);
    they go into ``event_personal_data`` in the same statement as the events (a group with
    any sealed field runs `_APPEND_GROUP_SEALED`, whose second insert writes the fields of
    the batches it inserted) or in the careful path's transaction. So a crash or a failure
    at any point leaves either nothing or the events with every personal field. A retry
    of a recorded batch writes whichever of its fields are missing (``ON CONFLICT DO
    NOTHING``): events recorded before their fields rode along (the vault was written after
    the events, and a crash in between lost it) get them back from the retry.

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
    statement's lock-to-commit time, which grouping spreads over every append under way. On
    the fast path the statement is its own transaction, so the lock is taken and released
    inside the server (insert, then commit flush) and no client round trip happens while it
    is held; on the careful path it is held across the client's ``COMMIT`` round trip.
    Benchmark 2 (docs/benchmarks.md, 8 writers) compares the store with this very statement
    sent raw, grouped the same way, in autocommit, into a copy of the table without the lock:
    on the shared 2-core machine the two are within each other's noise (ratios 0.5-1.4 per
    repetition), so the lock and the checks cost little next to the commit flush; without
    the grouping (one append per statement) the same raw statement is 1.3-1.7 times slower
    than the store. Batching events per workflow
    step amortises the lock
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

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic_core import to_json

from cases import Envelope

from .errors import InvalidAppend, WrongExpectedVersion
from .store import AppendResult, RecordedEvent, SealedField, check_batch, resolve_retry

NOTIFY_CHANNEL = "samverkan_events"

_COLUMNS = (
    "SELECT position, event_id, case_id, version, type, schema_version, occurred_at,"
    " recorded_at, actor, data::text AS data FROM events"
)
_BY_EVENT_IDS = _COLUMNS + " WHERE event_id = ANY($1::uuid[])"
_CASE_VERSION = "SELECT coalesce(max(version), 0) FROM events WHERE case_id = $1"
# The batch travels as one jsonb array (`_batch_json`): one parameter instead of one array
# per column (asyncpg's per-element array encoding was most of an append's client time), and
# PostgreSQL parses it when the statement is bound, before the append lock is taken.
_INSERT = """
INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at, actor, data)
SELECT e.event_id, $1, e.version, e.type, e.schema_version, e.occurred_at, e.actor, e.data
FROM jsonb_to_recordset($2::jsonb) AS e(event_id uuid, version int, type text,
    schema_version int, occurred_at timestamptz, actor text, data jsonb)
ORDER BY e.version
RETURNING position, version
"""
# The sealed personal fields of a batch's events (each row's ``sealed`` array, ciphertext in
# hex), written beside the events: rows already there are kept, so a retry writes only what
# is missing.
_INSERT_SEALED = """
INSERT INTO event_personal_data (event_id, field, case_id, key_id, ciphertext)
SELECT e.event_id, s.field, $1, s.key_id, decode(s.ciphertext, 'hex')
FROM jsonb_to_recordset($2::jsonb) AS e(event_id uuid, sealed jsonb)
CROSS JOIN LATERAL jsonb_to_recordset(e.sealed) AS s(field text, key_id text, ciphertext text)
ON CONFLICT DO NOTHING
"""


# The fast path: the batches of one or more appends (each of another case) inserted in one
# autocommit statement, each only if its case is at its ``expected`` version (one append lock,
# one commit for the group); answers with each inserted case's positions in version order.
_APPEND_GROUP = """
WITH batch AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(case_id text, expected int, event_id uuid,
        version int, type text, schema_version int, occurred_at timestamptz, actor text,
        data jsonb)
),
ready AS (
    SELECT c.case_id FROM (SELECT DISTINCT case_id, expected FROM batch) AS c
    WHERE (SELECT coalesce(max(v.version), 0) FROM events v WHERE v.case_id = c.case_id)
        = c.expected
),
appended AS (
    INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at, actor, data)
    SELECT e.event_id, e.case_id, e.version, e.type, e.schema_version, e.occurred_at, e.actor,
        e.data
    FROM batch e JOIN ready USING (case_id)
    ORDER BY e.case_id, e.version
    RETURNING case_id, position, version
)
SELECT case_id, array_agg(position ORDER BY version) AS positions FROM appended GROUP BY case_id
"""
# `_APPEND_GROUP` for a group with sealed personal fields: the same statement inserts the
# fields of the batches it inserts (``vaulted``), so they are written with their events or
# not at all.
_APPEND_GROUP_SEALED = """
WITH batch AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS e(case_id text, expected int, event_id uuid,
        version int, type text, schema_version int, occurred_at timestamptz, actor text,
        data jsonb, sealed jsonb)
),
ready AS MATERIALIZED (
    SELECT c.case_id FROM (SELECT DISTINCT case_id, expected FROM batch) AS c
    WHERE (SELECT coalesce(max(v.version), 0) FROM events v WHERE v.case_id = c.case_id)
        = c.expected
),
appended AS (
    INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at, actor, data)
    SELECT e.event_id, e.case_id, e.version, e.type, e.schema_version, e.occurred_at, e.actor,
        e.data
    FROM batch e JOIN ready USING (case_id)
    ORDER BY e.case_id, e.version
    RETURNING case_id, position, version
),
vaulted AS (
    INSERT INTO event_personal_data (event_id, field, case_id, key_id, ciphertext)
    SELECT e.event_id, s.field, e.case_id, s.key_id, decode(s.ciphertext, 'hex')
    FROM batch e JOIN ready USING (case_id)
    CROSS JOIN LATERAL jsonb_to_recordset(e.sealed) AS s(field text, key_id text, ciphertext text)
    ON CONFLICT DO NOTHING
)
SELECT case_id, array_agg(position ORDER BY version) AS positions FROM appended GROUP BY case_id
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


def _sealed_by_event(
    case_id: str, envelopes: Sequence[Envelope], sealed: Sequence[SealedField]
) -> dict[UUID, list[dict[str, str]]]:
    """Each event's sealed fields as rows of its ``sealed`` array; refuses a field of another
    case or of an event not in the batch (it would be dropped without a word)."""
    ids = {e.event_id for e in envelopes}
    by_event: dict[UUID, list[dict[str, str]]] = {}
    for f in sealed:
        if f.case_id != case_id or f.event_id not in ids:
            raise InvalidAppend(f"case {case_id}: a sealed field names no event of the batch")
        by_event.setdefault(f.event_id, []).append(
            {"field": f.field, "key_id": f.key_id, "ciphertext": f.ciphertext.hex()}
        )
    return by_event


def _batch_json(
    case_id: str,
    expected_version: int,
    envelopes: Sequence[Envelope],
    sealed: dict[UUID, list[dict[str, str]]] | None = None,
) -> str:
    """The batch as a JSON array of rows, the form `_INSERT`, `_INSERT_SEALED` and the group
    statements read, built by pydantic-core in one call (far cheaper than one array
    parameter per column); an event with sealed fields carries them as ``sealed``. NaN and
    infinities stay JSON constants, which ``jsonb`` refuses, as it refused them before."""
    rows: list[dict[str, Any]] = [
        {
            "case_id": case_id,
            "expected": expected_version,
            "event_id": e.event_id,
            "version": e.version,
            "type": e.type,
            "schema_version": e.schema_version,
            "occurred_at": e.occurred_at,
            "actor": e.actor,
            "data": e.data,
        }
        for e in envelopes
    ]
    if sealed:
        for row in rows:
            if (fields := sealed.get(row["event_id"])) is not None:
                row["sealed"] = fields
    return to_json(rows, inf_nan_mode="constants").decode()


@dataclass(slots=True)
class _Queued:
    """An append waiting for the next group."""

    case_id: str
    batch: str
    sealed: bool
    done: asyncio.Future[tuple[int, ...] | None]


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

    def __init__(self, pool: asyncpg.Pool, *, max_group: int = 64) -> None:
        """A store on ``pool``; up to ``max_group`` concurrent appends share one statement."""
        self._pool = pool
        self._max_group = max_group
        self._queue: list[_Queued] = []
        self._flusher: asyncio.Task[None] | None = None

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
        """Close the pool (after the appends under way)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await self._pool.close()

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
        sealed: Sequence[SealedField] = (),
    ) -> AppendResult:
        """Append ``envelopes`` to a case at ``expected_version``; see `EventStore.append`.

        One round trip, shared with the other appends under way (module docstring), when
        the case is at ``expected_version`` and the event ids are new; a retry or a conflict
        takes the careful path. ``sealed``: personal fields of these events, written to
        ``event_personal_data`` with them (a retry writes those missing).

        Raises:
            InvalidAppend: also for a sealed field of another case or event.
        """
        check_batch(case_id, expected_version, envelopes, read_events=not validated)
        envelopes = list(envelopes)
        fields = _sealed_by_event(case_id, envelopes, sealed)
        batch = _batch_json(case_id, expected_version, envelopes, fields)
        queued = _Queued(case_id, batch, bool(fields), asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        positions = await queued.done
        if positions is not None:
            return AppendResult(
                case_id=case_id, last_version=envelopes[-1].version, positions=positions
            )
        async with self._pool.acquire() as conn:
            return await self._append_carefully(
                conn, case_id, expected_version, envelopes, batch, sealed=bool(fields)
            )

    async def _flush(self) -> None:
        """Send the queued appends, a group per statement, until the queue is empty."""
        try:
            while self._queue:
                await asyncio.sleep(0)  # let appends that are about to queue join this group
                group = self._next_group()
                if group:
                    await self._send(group)
        finally:
            self._flusher = None

    def _next_group(self) -> list[_Queued]:
        """Up to ``max_group`` queued appends, of distinct cases, in arrival order."""
        group: list[_Queued] = []
        cases: set[str] = set()
        rest: list[_Queued] = []
        for queued in self._queue:
            if queued.done.done():
                continue  # its caller was cancelled before it was sent: never sent
            if len(group) < self._max_group and queued.case_id not in cases:
                group.append(queued)
                cases.add(queued.case_id)
            else:
                rest.append(queued)
        self._queue = rest
        return group

    async def _send(self, group: list[_Queued]) -> None:
        """One statement for ``group``; each append learns its positions, or None for the
        careful path (its case was at another version, or the statement failed in the
        database: a reused event id, a racing writer, a value ``jsonb`` refuses)."""
        parts = [queued.batch[1:-1] for queued in group]
        statement = _APPEND_GROUP_SEALED if any(q.sealed for q in group) else _APPEND_GROUP
        try:
            rows = await self._pool.fetch(statement, "[" + ",".join(parts) + "]")
        except asyncpg.PostgresError:
            rows = []  # nothing was written; each append finds out alone on the careful path
        except Exception as exc:  # a lost connection: each caller gets the error (and retries)
            for queued in group:
                if not queued.done.done():
                    queued.done.set_exception(exc)
            return
        except BaseException:  # cancelled (the loop is closing): so are the appends
            for queued in group:
                queued.done.cancel()
            raise
        inserted = {row["case_id"]: tuple(row["positions"]) for row in rows}
        for queued in group:
            if not queued.done.done():
                queued.done.set_result(inserted.get(queued.case_id))

    async def _append_carefully(
        self,
        conn: Connection,
        case_id: str,
        expected_version: int,
        envelopes: list[Envelope],
        batch: str,
        *,
        sealed: bool,
    ) -> AppendResult:
        """The transactional path: retry lookup, version check, insert (the events, and their
        sealed fields when ``sealed``; for a retry, the sealed fields still missing)."""
        ids = [e.event_id for e in envelopes]
        for _ in range(_RETRIES_AFTER_RACE):
            try:
                async with conn.transaction():
                    recorded = await conn.fetch(_BY_EVENT_IDS, ids)
                    if recorded:
                        retried = resolve_retry(
                            case_id, envelopes, [recorded_from_row(r) for r in recorded]
                        )
                        if sealed:
                            await conn.execute(_INSERT_SEALED, case_id, batch)
                        return retried
                    current: int = await conn.fetchval(_CASE_VERSION, case_id)
                    if current != expected_version:
                        raise WrongExpectedVersion(case_id, expected_version, current)
                    rows = await conn.fetch(_INSERT, case_id, batch)
                    if sealed:
                        await conn.execute(_INSERT_SEALED, case_id, batch)
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
