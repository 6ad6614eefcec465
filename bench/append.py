"""Benchmarks 2 and 3: appends per second through the event store, and projection lag.

2. Eight writers append to their own cases, one transaction per batch of 1 or 10 events,
   through `PostgresEventStore.append` (checks, grouping, the store's statement, the append
   lock). The store groups the appends under way into one autocommit statement
   (`eventstore.postgres`); how many appends each statement carried is counted and kept in
   the notes. Baselines on the same server, each measured back to back with its own store
   run (`bench.stats.paired_order`):

   - **raw, grouped like the store**: the store's own statement (`_APPEND_GROUP`, batch JSON
     built by the store's `_batch_json`) aimed at a copy of ``events`` without the
     append-lock trigger (same columns, defaults and indexes), autocommit, the appends under
     way grouped the way the store groups them (one statement in flight, the appends queued
     meanwhile go together) but without the store's checks. The target's baseline: what the
     store costs on top of the same SQL and the same grouping.
   - **raw, one append per statement**: the same statement and table, autocommit, one
     statement per append (8 in flight, one per writer): what grouping buys.
   - **COPY, one per append**: ``copy_records_to_table`` into the same table, autocommit
     (notes only).
   - **eventsourcing**: the `eventsourcing` library's PostgreSQL application recorder (8
     threads, its own table, one transaction per append with its ``LOCK TABLE`` for gap-free
     notification ids).

   After every run, outside the clock, the side's table must hold every event it was given.
3. The same load through the store while a `Projector` follows with the default
   projections: lag from an append's return to the commit of the last projection's batch
   that holds the event.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from bench.report import Row
from bench.stats import paired_order, paired_ratios, percentile, summarize
from cases import (
    ConcernCategory,
    Envelope,
    InformationAdded,
    ReporterKind,
    ReportReceived,
    Subject,
    seal,
)
from eventstore import PostgresEventStore, Projector
from eventstore.postgres import _APPEND_GROUP, _batch_json

WRITERS = 8
EVENTS_PER_CASE = 20
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_COLUMNS = [
    "event_id",
    "case_id",
    "version",
    "type",
    "schema_version",
    "occurred_at",
    "actor",
    "data",
]
RAW_TABLE = "raw_events"
#: The store's fast-path statement with its table renamed: the raw baselines send exactly
#: the store's statement shape (version check per case, insert, positions back).
RAW_APPEND = re.sub(r"\bevents\b", RAW_TABLE, _APPEND_GROUP)

#: Benchmark 2's baselines in the order each repetition runs them (each next to a store run).
BASELINES = ("raw_grouped", "raw", "copy", "eventsourcing")
#: What each side of benchmark 2 sends, for the rows and the notes.
GROUPING = {
    "samverkan": "the store: concurrent appends grouped, one autocommit statement in flight",
    "raw_grouped": "the store's statement, grouped like the store, autocommit, no checks",
    "raw": "the store's statement, one append per statement (8 in flight), autocommit",
    "copy": "COPY, one append per COPY (8 in flight), autocommit",
    "eventsourcing": "eventsourcing insert_events, one transaction per append, LOCK TABLE",
}

Batch = tuple[str, int, list[Envelope]]


@dataclass(frozen=True)
class Run:
    """One timed run of one side: seconds on the clock and statements sent (``None`` where
    the side does not group, i.e. one per append)."""

    seconds: float
    statements: int | None = None


def _event(case_id: str, version: int) -> Any:
    at = T0 + timedelta(minutes=version)
    if version == 1:
        return ReportReceived(
            case_number=case_id,
            municipality="Malmö",
            received_at=T0,
            reporter_kind=ReporterKind.SCHOOL,
            mandatory_reporter=True,
            subject=Subject(
                personal_identity_number="20120315-0004",
                name="Testperson Exempelsson",
                birth_date="2012-03-15",
            ),
            concern_category=ConcernCategory.ONLINE_PROPAGANDA,
            summary="Teacher reports propaganda in class chats.",
            at=T0,
        )
    return InformationAdded(source="school", information=f"Observation {version}.", at=at)


def writer_batches(writer: int, transactions: int, batch: int, tag: str) -> list[Batch]:
    """``transactions`` batches of ``batch`` events for one writer's own cases."""
    out: list[Batch] = []
    case_id, version = "", EVENTS_PER_CASE
    for _ in range(transactions):
        if version + batch > EVENTS_PER_CASE:
            case_id, version = f"B{tag}-{writer}-{uuid.uuid4().hex[:8]}", 0
        envelopes = [
            seal(
                _event(case_id, v),
                event_id=uuid.uuid4(),
                case_id=case_id,
                version=v,
                occurred_at=T0 + timedelta(minutes=v),
                actor="officer-1",
            )
            for v in range(version + 1, version + batch + 1)
        ]
        out.append((case_id, version, envelopes))
        version += batch
    return out


def _records(envelopes: Sequence[Envelope]) -> list[tuple[Any, ...]]:
    return [
        (
            e.event_id,
            e.case_id,
            e.version,
            e.type,
            e.schema_version,
            e.occurred_at,
            e.actor,
            json.dumps(e.data, separators=(",", ":")),
        )
        for e in envelopes
    ]


async def prepare_schema(pool: asyncpg.Pool) -> None:
    """The raw baselines' table: ``events``' columns, defaults, identity and indexes, no
    trigger (so no append lock and no notification)."""
    await pool.execute(f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (LIKE events INCLUDING ALL)")


async def _truncate(pool: asyncpg.Pool, table: str) -> None:
    await pool.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")


async def _check_written(pool: asyncpg.Pool, table: str, work: list[list[Batch]]) -> None:
    """Refuse a run whose table does not hold exactly the events it was given (a baseline
    whose version check failed would insert nothing, fast)."""
    given = sum(len(envelopes) for batches in work for _, _, envelopes in batches)
    written = await pool.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - our table names
    if written != given:
        raise RuntimeError(f"{table}: {written} events written of {given}")


async def _run_writers(work: list[list[Batch]], one: Callable[[Batch], Awaitable[Any]]) -> float:
    """Run each writer's batches in order, all writers at once; seconds taken."""

    async def writer(batches: list[Batch]) -> None:
        for item in batches:
            await one(item)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in work))
    return time.perf_counter() - started


class CountingPool:
    """A pool that counts the statements sent through ``fetch`` (the store's fast path sends
    each group with one ``fetch``); everything else goes to the pool it wraps."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._inner = pool
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._inner.fetch(*args, **kwargs)


async def run_store(pool: asyncpg.Pool, work: list[list[Batch]]) -> Run:
    counting = CountingPool(pool)
    store = PostgresEventStore(counting)  # type: ignore[arg-type]
    await _truncate(pool, "events")

    async def one(item: Batch) -> None:
        await store.append(item[0], item[1], item[2])

    seconds = await _run_writers(work, one)
    await _check_written(pool, "events", work)
    return Run(seconds, counting.statements)


class RawGrouper:
    """The store's grouping without the store: each append's batch JSON (the store's own
    `_batch_json`) is queued; one task sends the queue as one `RAW_APPEND` statement while
    none is in flight, and the appends queued meanwhile go in the next one."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._queue: list[tuple[str, asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None
        self.statements = 0

    async def append(self, case_id: str, expected: int, envelopes: Sequence[Envelope]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((_batch_json(case_id, expected, envelopes)[1:-1], done))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all())
        await done

    async def _send_all(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # as the store: appends about to queue join this group
                group, self._queue = self._queue, []
                self.statements += 1
                try:
                    await self._pool.fetch(RAW_APPEND, "[" + ",".join(b for b, _ in group) + "]")
                except Exception as exc:
                    for _, done in group:
                        done.set_exception(exc)
                    continue
                for _, done in group:
                    done.set_result(None)
        finally:
            self._sender = None


async def run_raw_grouped(pool: asyncpg.Pool, work: list[list[Batch]]) -> Run:
    await _truncate(pool, RAW_TABLE)
    grouper = RawGrouper(pool)

    async def one(item: Batch) -> None:
        await grouper.append(*item)

    seconds = await _run_writers(work, one)
    await _check_written(pool, RAW_TABLE, work)
    return Run(seconds, grouper.statements)


async def run_raw(pool: asyncpg.Pool, work: list[list[Batch]]) -> Run:
    await _truncate(pool, RAW_TABLE)

    # The batch JSON is built inside the clock, as `append` builds its own.
    async def one(item: Batch) -> None:
        await pool.fetch(RAW_APPEND, _batch_json(*item))

    seconds = await _run_writers(work, one)
    await _check_written(pool, RAW_TABLE, work)
    return Run(seconds)


async def run_copy(pool: asyncpg.Pool, work: list[list[Batch]]) -> Run:
    await _truncate(pool, RAW_TABLE)

    async def one(item: Batch) -> None:
        await pool.copy_records_to_table(RAW_TABLE, records=_records(item[2]), columns=_COLUMNS)

    seconds = await _run_writers(work, one)
    await _check_written(pool, RAW_TABLE, work)
    return Run(seconds)


class EventsourcingSide:
    """The `eventsourcing` library's PostgreSQL application recorder on the same server."""

    TABLE = "es_events"

    def __init__(self, dsn: str) -> None:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

        parts = urlsplit(dsn)
        query = parse_qs(parts.query)
        self.datastore = PostgresDatastore(
            dbname=parts.path.lstrip("/"),
            host=query.get("host", [parts.hostname or "127.0.0.1"])[0],
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or "",
            pool_size=WRITERS,
            originator_id_type="text",
        )
        self.recorder = PostgresApplicationRecorder(self.datastore, events_table_name=self.TABLE)
        self.recorder.create_table()

    def close(self) -> None:
        self.datastore.close()

    async def run(self, pool: asyncpg.Pool, work: list[list[Batch]]) -> Run:
        from eventsourcing.persistence import StoredEvent

        await _truncate(pool, self.TABLE)
        prepared = [
            [
                [
                    StoredEvent(
                        originator_id=e.case_id,
                        originator_version=e.version,
                        topic=e.type,
                        state=json.dumps(e.data, separators=(",", ":")).encode(),
                    )
                    for e in envelopes
                ]
                for _, _, envelopes in w
            ]
            for w in work
        ]
        barrier = threading.Barrier(WRITERS + 1)

        def writer(batches: list[Any]) -> None:
            barrier.wait()
            for stored in batches:
                self.recorder.insert_events(stored)

        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(WRITERS) as threads:
            futures = [loop.run_in_executor(threads, writer, w) for w in prepared]
            await loop.run_in_executor(None, barrier.wait)
            started = time.perf_counter()
            await asyncio.gather(*futures)
            seconds = time.perf_counter() - started
        await _check_written(pool, self.TABLE, work)
        return Run(seconds)


def _work(transactions_per_writer: int, batch: int, tag: str) -> list[list[Batch]]:
    return [writer_batches(w, transactions_per_writer, batch, tag) for w in range(WRITERS)]


def append_rows(
    *,
    batch: int,
    label: str,
    events: int,
    appends: int,
    runs: dict[str, dict[str, list[Run]]],
) -> list[Row]:
    """Benchmark 2's rows at one batch size and size from its timed runs.

    ``runs[baseline][side]`` holds the runs of each pair (``side`` is ``"samverkan"`` or
    ``"baseline"``), repetition by repetition; each run moved ``events`` events in
    ``appends`` appends. Rates are events per second; every figure is the paired ratio
    Samverkan / baseline, so above 1 means the store was faster.
    """

    def rates(side_runs: list[Run]) -> list[float]:
        return [events / r.seconds for r in side_runs]

    def per_statement(side_runs: list[Run]) -> dict[str, Any]:
        return summarize([appends / (r.statements or appends) for r in side_runs]).as_json()

    what = f"appends, 8 writers, {batch} event{'s' if batch > 1 else ''}/txn"
    store_rates = {name: rates(sides["samverkan"]) for name, sides in runs.items()}
    base_rates = {name: rates(sides["baseline"]) for name, sides in runs.items()}

    def notes(name: str) -> dict[str, Any]:
        return {
            "events_per_rep": events,
            "appends_per_rep": appends,
            "sides": {"samverkan": GROUPING["samverkan"], "baseline": GROUPING[name]},
            "appends_per_statement": {
                "samverkan": per_statement(runs[name]["samverkan"]),
                "baseline": per_statement(runs[name]["baseline"]),
            },
        }

    def row(name: str, suffix: str, baseline_name: str, figure_name: str, target: str) -> Row:
        return Row(
            bench="2",
            what=f"{what} {suffix}",
            size=label,
            unit="ev/s",
            samverkan=summarize(store_rates[name]),
            baseline=summarize(base_rates[name]),
            baseline_name=baseline_name,
            figure=summarize(paired_ratios(store_rates[name], base_rates[name])),
            figure_name=figure_name,
            target=target,
            notes=notes(name),
        )

    rows = []
    if "raw_grouped" in runs:
        grouped = row("raw_grouped", "vs raw, same grouping", "raw, grouped", "× raw", ">= 0.8")
        rows.append(grouped)
    if "raw" in runs:
        single = row("raw", "vs raw, 1 append/statement", "raw, 1/stmt", "× raw 1/stmt", "")
        if "copy" in runs:
            single.notes.update(
                copy_events_per_s=summarize(base_rates["copy"]).as_json(),
                copy_store_events_per_s=summarize(store_rates["copy"]).as_json(),
                store_vs_copy=summarize(
                    paired_ratios(store_rates["copy"], base_rates["copy"])
                ).as_json(),
                copy_side=GROUPING["copy"],
            )
        rows.append(single)
    if "eventsourcing" in runs:
        rows.append(
            row("eventsourcing", "vs eventsourcing", "eventsourcing", "× eventsourcing", ">= 5")
        )
    return rows


async def bench_append(
    dsn: str,
    *,
    sizes: Sequence[tuple[str, int]],
    reps: int,
    unit_transactions: int,
    with_eventsourcing: bool = True,
) -> list[Row]:
    """Benchmark 2 at each size: ``unit_transactions`` per writer × the size's multiplier."""
    pool = await asyncpg.create_pool(dsn, min_size=WRITERS, max_size=WRITERS)
    await prepare_schema(pool)
    es = EventsourcingSide(dsn) if with_eventsourcing else None
    baselines: dict[str, Callable[[asyncpg.Pool, list[list[Batch]]], Awaitable[Run]]] = {
        "raw_grouped": run_raw_grouped,
        "raw": run_raw,
        "copy": run_copy,
    }
    if es is not None:
        baselines["eventsourcing"] = es.run
    rows: list[Row] = []
    try:
        for batch in (1, 10):
            for label, mult in sizes:
                per_writer = unit_transactions * mult
                runs: dict[str, dict[str, list[Run]]] = {
                    name: {"samverkan": [], "baseline": []} for name in baselines
                }
                for rep, name, side in paired_order(reps, list(baselines)):
                    work = _work(per_writer, batch, f"{rep}{name[:2]}{side[0]}")
                    runner = run_store if side == "samverkan" else baselines[name]
                    runs[name][side].append(await runner(pool, work))
                found = append_rows(
                    batch=batch,
                    label=label,
                    events=per_writer * WRITERS * batch,
                    appends=per_writer * WRITERS,
                    runs=runs,
                )
                rows += found
                for r in found:
                    print(
                        f"  bench 2 {r.what} {label}: {r.samverkan.median:,.0f} vs "
                        f"{r.baseline.median if r.baseline else 0:,.0f} ev/s, "
                        f"{r.figure_name} {r.figure.median:.2f}",
                        flush=True,
                    )
    finally:
        if es is not None:
            es.close()
        await pool.close()
    return rows


class _Timed:
    """Wraps a projection; notes which positions the current batch holds."""

    def __init__(self, inner: Any, sink: list[int]) -> None:
        self._inner = inner
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def project(self, conn: Any, change: Any) -> None:
        self._sink.append(change.recorded.position)
        await self._inner.project(conn, change)


class TimedProjector(Projector):
    """A `Projector` that records when each event's batch committed, per projection."""

    def __init__(self, pool: asyncpg.Pool, **kwargs: Any) -> None:
        from eventstore.projections import default_projections

        self.current: list[int] = []
        self.done: dict[int, float] = {}
        self.per_projection: dict[str, int] = {}
        wrapped = [_Timed(p, self.current) for p in default_projections()]
        super().__init__(pool, wrapped, **kwargs)  # type: ignore[arg-type]

    async def _next_batch(self, projection: Any) -> int:
        self.current.clear()
        processed = await super()._next_batch(projection)
        now = time.perf_counter()
        # an event is projected when the last projection's batch holding it has committed
        for position in self.current:
            self.per_projection[position] = self.per_projection.get(position, 0) + 1
            if self.per_projection[position] == len(self.names):
                self.done[position] = now
        return processed


async def bench_projection_lag(
    dsn: str, *, sizes: Sequence[tuple[str, int]], reps: int, unit_transactions: int
) -> list[Row]:
    """Benchmark 3: lag from append to projected, p50 / p99, under benchmark 2's load."""
    rows: list[Row] = []
    for batch in (1, 10):
        for label, mult in sizes:
            p50s: list[float] = []
            p99s: list[float] = []
            for rep in range(reps):
                db = await _fresh(dsn)
                pool = await asyncpg.create_pool(db, min_size=WRITERS, max_size=WRITERS)
                ppool = await asyncpg.create_pool(db, min_size=2, max_size=4)
                projector = TimedProjector(ppool, poll_interval=0.5)
                stop = asyncio.Event()
                running = asyncio.create_task(projector.run(stop))
                await asyncio.sleep(0.3)
                appended: dict[int, float] = {}
                store = PostgresEventStore(pool)
                work = _work(unit_transactions * mult, batch, f"L{rep}")

                async def one(
                    item: Batch,
                    store: PostgresEventStore = store,
                    appended: dict[int, float] = appended,
                ) -> None:
                    result = await store.append(item[0], item[1], item[2])
                    now = time.perf_counter()
                    for position in result.positions:
                        appended[position] = now

                await _run_writers(work, one)
                deadline = time.perf_counter() + 60
                while len(projector.done) < len(appended) and time.perf_counter() < deadline:  # noqa: ASYNC110 - polls a projector we do not own
                    await asyncio.sleep(0.05)
                stop.set()
                await running
                await pool.close()
                await ppool.close()
                lags = [
                    max(0.0, projector.done[p] - t) * 1000
                    for p, t in appended.items()
                    if p in projector.done
                ]
                if len(lags) < len(appended):
                    raise RuntimeError(f"{len(appended) - len(lags)} events never projected")
                p50s.append(percentile(lags, 50))
                p99s.append(percentile(lags, 99))
            what = f"projection lag p99 (p50 in notes), {batch} event{'s' if batch > 1 else ''}/txn"
            rows.append(
                Row(
                    bench="3",
                    what=what,
                    size=label,
                    unit="ms",
                    samverkan=summarize(p99s),
                    baseline=None,
                    baseline_name="—",
                    figure=summarize(p99s),
                    figure_name="p99 ms",
                    target="< 250",
                    notes={"p50_ms": summarize(p50s).as_json()},
                )
            )
            print(
                f"  bench 3 {what} {label}: p50 {summarize(p50s).median:.0f} ms, "
                f"p99 {summarize(p99s).median:.0f} ms",
                flush=True,
            )
    return rows


async def _fresh(server_or_db_dsn: str) -> str:
    from bench.infra import fresh_database

    parts = urlsplit(server_or_db_dsn)
    server = parts._replace(path="/postgres").geturl()
    return await fresh_database(server)
