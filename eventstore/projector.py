"""`Projector`: keeps the projections (read models) up to date, rebuilds them, reports lag.

Each projection has a checkpoint row in ``projection_checkpoints``. A batch runs in one
transaction: lock the checkpoint row (``FOR UPDATE``, so two projectors never process the
same projection at once), read the next events after it (the store's order has no holes,
see `eventstore.postgres`), fold each through `cases.apply`, write the rows, move the
checkpoint, commit. The state a case had before the batch is folded from its earlier
events (or taken from an in-memory cache of folded states, keyed by case and version:
events never change, so a cached state never goes stale). Folded states are never stored,
so no personal data is copied out of the events table. A crash
anywhere leaves rows and checkpoint together, and the next batch starts where it ends.

`run` catches up, then follows live: every append ``NOTIFY``s ``samverkan_events``; the
projector ``LISTEN``s and also polls every ``poll_interval`` seconds, so a lost notification
or a lost listening connection only delays it. An event a projection cannot read (an
unknown type, a schema version from the future) stops that projection with a
`ProjectionError` naming the position: skipping it would leave a hole in the read model.

`rebuild` empties a projection and replays every event in one transaction, so readers see
the old rows until the new ones commit (cost: one long transaction while it runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from cases import CaseState, DomainEvent, Envelope, EventRejected, apply, open_envelope

from .errors import EventStoreError
from .postgres import _READ_ALL, NOTIFY_CHANNEL, recorded_from_row
from .projections import default_projections
from .projections.base import Change, Connection, Projection
from .store import RecordedEvent

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with counts of events replayed so far and in all."""


class ProjectionError(EventStoreError):
    """A projection cannot process an event; it stops there (no event is ever skipped)."""


class UnknownProjection(EventStoreError, ValueError):
    """No projection has that name."""


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """Where a projection stands: its checkpoint and how many events it has yet to process."""

    name: str
    position: int
    lag: int
    updated_at: datetime | None


_CASE_BEFORE = (
    "SELECT type, schema_version, data::text AS data, event_id, case_id, version, occurred_at,"
    " actor FROM events WHERE case_id = $1 AND version < $2 ORDER BY version"
)
_LOCK_CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE"
_MOVE_CHECKPOINT = (
    "UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1"
)
_ENSURE_CHECKPOINTS = (
    "INSERT INTO projection_checkpoints (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING"
)
_STATUS = """
SELECT c.name, c.position, c.updated_at,
       (SELECT count(*) FROM events e WHERE e.position > c.position) AS lag
FROM projection_checkpoints c WHERE c.name = ANY($1::text[])
"""


class Projector:
    """Runs a set of projections against the events in one PostgreSQL database."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        projections: Sequence[Projection] | None = None,
        *,
        batch_size: int = 500,
        poll_interval: float = 2.0,
        channel: str | None = NOTIFY_CHANNEL,
    ) -> None:
        """Run ``projections`` (default: all) on ``pool``.

        Args:
            batch_size: events per transaction.
            poll_interval: seconds between polls when no notification arrives.
            channel: the channel appends notify; ``None`` polls only.
        """
        self._pool = pool
        chosen = list(projections) if projections is not None else default_projections()
        self._projections = {p.name: p for p in chosen}
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._checkpoints_ready = False
        self._cache = FoldCache()
        self._channel = channel

    @property
    def names(self) -> list[str]:
        """The projections' names, in the order they run."""
        return list(self._projections)

    def projection(self, name: str) -> Projection:
        """The projection called ``name``; `UnknownProjection` if there is none."""
        try:
            return self._projections[name]
        except KeyError:
            known = ", ".join(self._projections)
            raise UnknownProjection(f"no projection {name!r}; known: {known}") from None

    async def _ensure_checkpoints(self) -> None:
        if not self._checkpoints_ready:
            await self._pool.execute(_ENSURE_CHECKPOINTS, self.names)
            self._checkpoints_ready = True

    async def catch_up(self) -> int:
        """Process every event committed so far, for every projection; returns how many."""
        await self._ensure_checkpoints()
        total = 0
        for projection in self._projections.values():
            while processed := await self._next_batch(projection):
                total += processed
        return total

    async def _next_batch(self, projection: Projection) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            position: int = await conn.fetchval(_LOCK_CHECKPOINT, projection.name)
            rows = await conn.fetch(_READ_ALL, position, self._batch_size)
            if not rows:
                return 0
            recorded = [recorded_from_row(r) for r in rows]
            await _project_batch(conn, projection, recorded, self._cache)
            await conn.execute(_MOVE_CHECKPOINT, projection.name, recorded[-1].position)
            return len(recorded)

    async def rebuild(self, name: str, progress: Progress | None = None) -> int:
        """Empty projection ``name`` and replay every event into it; returns how many.

        Runs in one transaction: readers see the old rows until the rebuilt ones commit.
        """
        projection = self.projection(name)
        await self._ensure_checkpoints()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.fetchval(_LOCK_CHECKPOINT, name)
            for table in projection.tables:
                # table names are class constants of our projections, never input
                await conn.execute(f'DELETE FROM "{table}"')  # noqa: S608
            total: int = await conn.fetchval("SELECT count(*) FROM events")
            done, position = 0, 0
            if progress is not None:
                progress(0, total)
            while rows := await conn.fetch(_READ_ALL, position, self._batch_size):
                recorded = [recorded_from_row(r) for r in rows]
                await _project_batch(conn, projection, recorded, self._cache)
                done += len(recorded)
                position = recorded[-1].position
                if progress is not None:
                    progress(done, max(total, done))
            await conn.execute(_MOVE_CHECKPOINT, name, position)
        log.info("projection rebuilt", extra={"projection": name, "events": done})
        return done

    async def status(self) -> list[ProjectionStatus]:
        """Each projection's checkpoint and lag (events after it), in run order."""
        await self._ensure_checkpoints()
        rows = await self._pool.fetch(_STATUS, self.names)
        by_name = {r["name"]: r for r in rows}
        return [
            ProjectionStatus(
                name=name,
                position=by_name[name]["position"],
                lag=by_name[name]["lag"],
                updated_at=by_name[name]["updated_at"],
            )
            for name in self.names
        ]

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Catch up, then follow new events until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        wake = asyncio.Event()

        def on_notify(*_: Any) -> None:
            wake.set()

        listener: PoolConnectionProxy | None = None
        try:
            while not stop.is_set():
                if self._channel is not None and (listener is None or listener.is_closed()):
                    listener = await self._listen(listener, on_notify)
                wake.clear()
                await self.catch_up()
                waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
                _, pending = await asyncio.wait(
                    waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in pending:
                    waiter.cancel()
        finally:
            if listener is not None:
                await self._release(listener, on_notify)

    async def _listen(
        self, previous: PoolConnectionProxy | None, callback: Callable[..., None]
    ) -> PoolConnectionProxy | None:
        if previous is not None:
            await self._release(previous, callback)
        failures = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
        try:
            conn = await self._pool.acquire()
        except failures:
            log.warning("cannot listen for new events; polling until the next try")
            return None
        try:
            await conn.add_listener(self._channel or NOTIFY_CHANNEL, callback)
        except failures:
            log.warning("cannot listen for new events; polling until the next try")
            await self._release(conn, callback)
            return None
        return conn

    async def _release(self, conn: PoolConnectionProxy, callback: Callable[..., None]) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await conn.remove_listener(self._channel or NOTIFY_CHANNEL, callback)
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self._pool.release(conn)


class FoldCache:
    """Folded case states by (case, version), least recently used dropped first."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._states: OrderedDict[tuple[str, int], CaseState] = OrderedDict()
        self._capacity = capacity

    def get(self, case_id: str, version: int) -> CaseState | None:
        """The state of ``case_id`` after ``version``, if cached."""
        state = self._states.get((case_id, version))
        if state is not None:
            self._states.move_to_end((case_id, version))
        return state

    def put(self, case_id: str, version: int, state: CaseState) -> None:
        """Remember the state of ``case_id`` after ``version``."""
        self._states[(case_id, version)] = state
        self._states.move_to_end((case_id, version))
        while len(self._states) > self._capacity:
            self._states.popitem(last=False)


async def _state_before(
    conn: Connection, case_id: str, version: int, cache: FoldCache, projection: str
) -> CaseState | None:
    """The case's state after ``version - 1`` (None before its first event)."""
    if version <= 1:
        return None
    cached = cache.get(case_id, version - 1)
    if cached is not None:
        return cached
    state: CaseState | None = None
    for row in await conn.fetch(_CASE_BEFORE, case_id, version):
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
        state = _fold_one(projection, state, envelope, position=None)
    if state is None or state.version != version - 1:
        raise ProjectionError(
            f"projection {projection}: case {case_id} has no complete history before "
            f"version {version}"
        )
    cache.put(case_id, version - 1, state)
    return state


def _open(projection: str, envelope: Envelope, position: int | None) -> DomainEvent:
    where = f"position {position}" if position is not None else f"version {envelope.version}"
    try:
        return open_envelope(envelope)
    except EventRejected as exc:
        raise ProjectionError(f"projection {projection} stopped at {where}: {exc}") from None


def _fold_one(
    projection: str,
    state: CaseState | None,
    envelope: Envelope,
    position: int | None,
    event: DomainEvent | None = None,
) -> CaseState:
    if event is None:
        event = _open(projection, envelope, position)
    try:
        return apply(state, event)
    except Exception as exc:
        where = f"position {position}" if position is not None else f"version {envelope.version}"
        raise ProjectionError(
            f"projection {projection} stopped at {where} of case {envelope.case_id}: "
            f"{envelope.type} does not apply ({type(exc).__name__})"
        ) from None


async def _project_batch(
    conn: Connection, projection: Projection, recorded: Sequence[RecordedEvent], cache: FoldCache
) -> None:
    """Fold and project ``recorded`` (in global order) on ``conn``."""
    states: dict[str, CaseState | None] = {}
    for item in recorded:
        envelope = item.envelope
        case_id = envelope.case_id
        if not projection.folds:
            event = _open(projection.name, envelope, item.position)
            await projection.project(conn, Change(item, event, None, None))
            continue
        if case_id not in states:
            base = await _state_before(conn, case_id, envelope.version, cache, projection.name)
            states[case_id] = base
            if base is not None:
                cache.put(case_id, base.version, base)
        before = states[case_id]
        if envelope.version != (before.version if before is not None else 0) + 1:
            raise ProjectionError(
                f"projection {projection.name} stopped at position {item.position}: case "
                f"{case_id} version {envelope.version} is out of sequence"
            )
        event = _open(projection.name, envelope, item.position)
        after = _fold_one(projection.name, before, envelope, item.position, event)
        states[case_id] = after
        await projection.project(conn, Change(item, event, before, after))
    for case_id, state in states.items():
        if state is not None:
            cache.put(case_id, state.version, state)
