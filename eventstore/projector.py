"""`Projector`: keeps the projections (read models) up to date, rebuilds them, reports lag.

Each projection has a checkpoint row in ``projection_checkpoints``. A batch runs in one
transaction: lock the checkpoint rows (``FOR UPDATE SKIP LOCKED``, so two projectors never
process the same projection at once, and a projection being rebuilt does not hold up the
others), read the next events after the lowest checkpoint (the store's order has no holes,
see `eventstore.postgres`), open and fold each event **once** through `cases.apply` for
every projection that stands at that checkpoint, let each projection state its rows
(`Writes`: a case's rows are stated by its last event in the batch), write them with one
``executemany`` per statement, move the checkpoints, commit. Projections at different
checkpoints (one just rebuilt, say) run in separate batches until they meet. The state a
case had before the batch is folded from its earlier events (one query for all such cases)
or taken from an in-memory cache of folded states, keyed by case and version: events never
change, so a cached state never goes stale. Folded states are never stored, so no personal
data is copied out of the events table. A crash anywhere leaves rows and checkpoints
together, and the next batch starts where they end.

`run` catches up in batches of ``batch_size``, then follows live in batches of at most
``live_batch_size`` (an event's lag includes its whole batch, so smaller is sooner) until a
batch comes back full: then it is behind, and catches up in batches of ``batch_size`` again
(fewer round trips and commits per event) until it reaches the head. Every
append ``NOTIFY``s ``samverkan_events``; the projector ``LISTEN``s and also polls every
``poll_interval`` seconds, so a lost notification or a lost listening connection only
delays it. An event a projection cannot read (an unknown type, a schema version from the
future) stops the projections of its batch with a `ProjectionError` naming the position:
skipping it would leave a hole in the read model.

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
from .projections.base import Change, Connection, Projection, Writes
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


_CASES_BEFORE = """
SELECT e.type, e.schema_version, e.data::text AS data, e.event_id, e.case_id, e.version,
       e.occurred_at, e.actor
FROM unnest($1::text[], $2::int[]) AS w(case_id, version)
JOIN events e ON e.case_id = w.case_id AND e.version < w.version
ORDER BY e.case_id, e.version
"""
_LOCK_CHECKPOINT = "SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE"
_LOCK_CHECKPOINTS = """
SELECT name, position FROM projection_checkpoints WHERE name = ANY($1::text[])
ORDER BY name FOR UPDATE SKIP LOCKED
"""
_MOVE_CHECKPOINTS = (
    "UPDATE projection_checkpoints SET position = $2, updated_at = now()"
    " WHERE name = ANY($1::text[])"
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
        live_batch_size: int = 100,
        poll_interval: float = 2.0,
        channel: str | None = NOTIFY_CHANNEL,
    ) -> None:
        """Run ``projections`` (default: all) on ``pool``.

        Args:
            batch_size: events per transaction while catching up and rebuilding.
            live_batch_size: events per transaction while `run` follows live.
            poll_interval: seconds between polls when no notification arrives.
            channel: the channel appends notify; ``None`` polls only.
        """
        self._pool = pool
        chosen = list(projections) if projections is not None else default_projections()
        self._projections = {p.name: p for p in chosen}
        self._batch_size = batch_size
        self._live_batch_size = live_batch_size
        self._limit = batch_size
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
        """Process every event committed so far, for every projection; returns how many.

        The count is of (projection, event) pairs: four projections over ten events is 40.
        """
        await self._ensure_checkpoints()
        total = 0
        while processed := await self._next_batch(list(self._projections.values())):
            total += processed
        return total

    async def _next_batch(self, projections: Sequence[Projection]) -> int:
        """One batch for those of ``projections`` at the lowest checkpoint; (projection,
        event) pairs processed, 0 when all are at the head (or held by another projector)."""
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetch(_LOCK_CHECKPOINTS, [p.name for p in projections])
            if not locked:
                return 0
            position: int = min(r["position"] for r in locked)
            at = {r["name"] for r in locked if r["position"] == position}
            group = [p for p in projections if p.name in at]
            rows = await conn.fetch(_READ_ALL, position, self._limit)
            if not rows:
                return 0
            if len(rows) == self._limit:
                # a full batch: behind, so catch up in big batches until `run` finds the head
                self._limit = self._batch_size
            recorded = [recorded_from_row(r) for r in rows]
            await _project_batch(conn, group, recorded, self._cache)
            await conn.execute(_MOVE_CHECKPOINTS, [p.name for p in group], recorded[-1].position)
            return len(recorded) * len(group)

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
                await _project_batch(conn, [projection], recorded, self._cache)
                done += len(recorded)
                position = recorded[-1].position
                if progress is not None:
                    progress(done, max(total, done))
            await conn.execute(_MOVE_CHECKPOINTS, [name], position)
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

    async def cases_by_state(self) -> dict[str, int]:
        """How many cases stand in each state, from the ``case_summary`` read model."""
        rows = await self._pool.fetch(
            "SELECT state, count(*) AS n FROM case_summary GROUP BY state"
        )
        return {row["state"]: int(row["n"]) for row in rows}

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
                self._limit = self._live_batch_size  # caught up once: now follow in small steps
                if wake.is_set():
                    continue  # events arrived while catching up: no need to wait
                waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
                _, pending = await asyncio.wait(
                    waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in pending:
                    waiter.cancel()
        finally:
            self._limit = self._batch_size
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


async def _states_before(
    conn: Connection, first: dict[str, int], cache: FoldCache, label: str
) -> dict[str, CaseState | None]:
    """Each case's state before version ``first[case]`` (None before its first event).

    Cached states are used as they are; the others are folded from one query for all.
    """
    states: dict[str, CaseState | None] = {}
    missing: dict[str, int] = {}
    for case_id, version in first.items():
        if version <= 1:
            states[case_id] = None
        elif (cached := cache.get(case_id, version - 1)) is not None:
            states[case_id] = cached
        else:
            missing[case_id] = version
    if not missing:
        return states
    folded: dict[str, CaseState | None] = dict.fromkeys(missing)
    rows = await conn.fetch(_CASES_BEFORE, list(missing), list(missing.values()))
    for row in rows:
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
        case_id = envelope.case_id
        folded[case_id] = _fold_one(label, folded[case_id], envelope, position=None)
    for case_id, version in missing.items():
        state = folded[case_id]
        if state is None or state.version != version - 1:
            raise ProjectionError(
                f"projection {label}: case {case_id} has no complete history before "
                f"version {version}"
            )
        cache.put(case_id, version - 1, state)
        states[case_id] = state
    return states


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
    conn: Connection,
    projections: Sequence[Projection],
    recorded: Sequence[RecordedEvent],
    cache: FoldCache,
) -> None:
    """Open and fold ``recorded`` (in global order) once, project it into every one of
    ``projections`` and write their rows on ``conn``."""
    label = ", ".join(p.name for p in projections)
    folds = any(p.folds for p in projections)
    states: dict[str, CaseState | None] = {}
    if folds:
        first: dict[str, int] = {}
        for item in recorded:
            first.setdefault(item.envelope.case_id, item.envelope.version)
        states = await _states_before(conn, first, cache, label)
    changes: list[Change] = []
    for item in recorded:
        envelope = item.envelope
        event = _open(label, envelope, item.position)
        if not folds:
            changes.append(Change(item, event, None, None))
            continue
        case_id = envelope.case_id
        before = states[case_id]
        if envelope.version != (before.version if before is not None else 0) + 1:
            raise ProjectionError(
                f"projection {label} stopped at position {item.position}: case "
                f"{case_id} version {envelope.version} is out of sequence"
            )
        after = _fold_one(label, before, envelope, item.position, event)
        states[case_id] = after
        changes.append(Change(item, event, before, after))
    for projection in projections:
        writes = Writes()
        for change in changes:
            if projection.folds:
                await projection.project(writes, change)
            else:
                await projection.project(writes, Change(change.recorded, change.event, None, None))
        await writes.flush(conn)
    for case_id, state in states.items():
        if state is not None:
            cache.put(case_id, state.version, state)
