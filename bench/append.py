"""Benchmarks 2 and 3: appends per second through the event store, and projection lag.

2. Eight writers append to their own cases, one transaction per batch of 1 or 10 events,
   through `PostgresEventStore.append` (checks, retry lookup, version check, the append
   lock). Baselines on the same server and schema: raw asyncpg ``INSERT .. unnest`` into a
   copy of the ``events`` table without the append-lock trigger (same indexes), asyncpg
   ``COPY`` into it (the ceiling), and the `eventsourcing` library's PostgreSQL application
   recorder (8 threads, its own table with its table lock for gap-free notification ids).
3. The same load through the store while a `Projector` follows with the default
   projections: lag from an append's return to the commit of the last projection's batch
   that holds the event.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from bench.report import Row
from bench.stats import alternation, paired_ratios, percentile, summarize
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
_RAW_INSERT = """
INSERT INTO raw_events (event_id, case_id, version, type, schema_version, occurred_at, actor, data)
SELECT e.event_id, $1, e.version, e.type, e.schema_version, e.occurred_at, e.actor, e.data::jsonb
FROM unnest($2::uuid[], $3::int[], $4::text[], $5::int[], $6::timestamptz[], $7::text[], $8::text[])
    AS e(event_id, version, type, schema_version, occurred_at, actor, data)
ORDER BY e.version
RETURNING position, version
"""

Batch = tuple[str, int, list[Envelope]]


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


def _raw_args(envelopes: Sequence[Envelope]) -> list[Any]:
    return [
        [e.event_id for e in envelopes],
        [e.version for e in envelopes],
        [e.type for e in envelopes],
        [e.schema_version for e in envelopes],
        [e.occurred_at for e in envelopes],
        [e.actor for e in envelopes],
        [json.dumps(e.data, separators=(",", ":")) for e in envelopes],
    ]


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
    """The raw baseline's table: ``events``' columns, defaults, identity and indexes, no trigger."""
    await pool.execute("CREATE TABLE IF NOT EXISTS raw_events (LIKE events INCLUDING ALL)")


async def _truncate(pool: asyncpg.Pool, table: str) -> None:
    await pool.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")


async def _run_writers(work: list[list[Batch]], one: Callable[[Batch], Any]) -> float:
    """Run each writer's batches in order, all writers at once; seconds taken."""

    async def writer(batches: list[Batch]) -> None:
        for item in batches:
            await one(item)

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in work))
    return time.perf_counter() - started


async def run_store(pool: asyncpg.Pool, work: list[list[Batch]]) -> float:
    store = PostgresEventStore(pool)
    await _truncate(pool, "events")

    async def one(item: Batch) -> None:
        await store.append(item[0], item[1], item[2])

    return await _run_writers(work, one)


async def run_raw(pool: asyncpg.Pool, work: list[list[Batch]]) -> float:
    await _truncate(pool, "raw_events")

    # Arguments are built inside the clock, as `append` builds its own.
    async def writer(batches: list[Batch]) -> None:
        for case_id, _, envelopes in batches:
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetch(_RAW_INSERT, case_id, *_raw_args(envelopes))

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in work))
    return time.perf_counter() - started


async def run_copy(pool: asyncpg.Pool, work: list[list[Batch]]) -> float:
    await _truncate(pool, "raw_events")

    async def writer(batches: list[Batch]) -> None:
        for _, _, envelopes in batches:
            async with pool.acquire() as conn, conn.transaction():
                await conn.copy_records_to_table(
                    "raw_events", records=_records(envelopes), columns=_COLUMNS
                )

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in work))
    return time.perf_counter() - started


class EventsourcingSide:
    """The `eventsourcing` library's PostgreSQL application recorder on the same server."""

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
        self.recorder = PostgresApplicationRecorder(self.datastore, events_table_name="es_events")
        self.recorder.create_table()

    def close(self) -> None:
        self.datastore.close()

    async def run(self, pool: asyncpg.Pool, work: list[list[Batch]]) -> float:
        from eventsourcing.persistence import StoredEvent

        await _truncate(pool, "es_events")
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
            return time.perf_counter() - started


def _work(transactions_per_writer: int, batch: int, tag: str) -> list[list[Batch]]:
    return [writer_batches(w, transactions_per_writer, batch, tag) for w in range(WRITERS)]


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
    rows: list[Row] = []
    try:
        for batch in (1, 10):
            for label, mult in sizes:
                per_writer = unit_transactions * mult
                total = per_writer * WRITERS * batch
                rates: dict[str, list[float]] = {"store": [], "raw": [], "copy": [], "es": []}
                for rep, side in alternation(reps):
                    work = _work(per_writer, batch, f"{rep}{side[0]}")
                    if side == "samverkan":
                        rates["store"].append(total / await run_store(pool, work))
                    else:
                        rates["raw"].append(total / await run_raw(pool, work))
                        rates["copy"].append(total / await run_copy(pool, work))
                        if es is not None:
                            rates["es"].append(total / await es.run(pool, work))
                what = f"appends, 8 writers, {batch} event{'s' if batch > 1 else ''}/txn"
                notes = {
                    "events_per_rep": total,
                    "copy_events_per_s": summarize(rates["copy"]).as_json(),
                    "store_vs_copy": summarize(
                        paired_ratios(rates["store"], rates["copy"])
                    ).as_json(),
                }
                rows.append(
                    Row(
                        bench="2",
                        what=what,
                        size=label,
                        unit="ev/s",
                        samverkan=summarize(rates["store"]),
                        baseline=summarize(rates["raw"]),
                        baseline_name="raw INSERT",
                        figure=summarize(paired_ratios(rates["store"], rates["raw"])),
                        figure_name="× raw",
                        target=">= 0.8",
                        notes=notes,
                    )
                )
                if es is not None:
                    rows.append(
                        Row(
                            bench="2",
                            what=what + " vs eventsourcing",
                            size=label,
                            unit="ev/s",
                            samverkan=summarize(rates["store"]),
                            baseline=summarize(rates["es"]),
                            baseline_name="eventsourcing",
                            figure=summarize(paired_ratios(rates["store"], rates["es"])),
                            figure_name="× eventsourcing",
                            target=">= 5",
                            notes={
                                # What 5x would need, against the fastest any writer got
                                # into the same table in the same repetition: above 1, the
                                # target is beyond COPY's ceiling on this machine.
                                "five_x_eventsourcing_over_copy": summarize(
                                    paired_ratios([5 * r for r in rates["es"]], rates["copy"])
                                ).as_json(),
                                "five_x_eventsourcing_over_raw": summarize(
                                    paired_ratios([5 * r for r in rates["es"]], rates["raw"])
                                ).as_json(),
                            },
                        )
                    )
                print(
                    f"  bench 2 {what} {label}: {rows[-1].samverkan.median:,.0f} ev/s", flush=True
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
