"""The global order has no holes: a tailing reader sees every event exactly once, in order."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from eventstore import PostgresEventStore, RecordedEvent
from tests.eventstore.store_testkit import batch, new_case_id, noted

WRITERS = 8
EVENTS_PER_WRITER = 250


async def test_many_writers_and_a_tailing_reader_see_every_event_once_in_order(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    start = await store.last_position()
    cases = [new_case_id() for _ in range(WRITERS)]
    total = WRITERS * EVENTS_PER_WRITER
    written: set[uuid.UUID] = set()

    async def writer(case_id: str) -> None:
        version = 0
        while version < EVENTS_PER_WRITER:
            size = 1 + version % 3  # batches of 1, 2 and 3 events
            size = min(size, EVENTS_PER_WRITER - version)
            envelopes = batch(case_id, version, size)
            await store.append(case_id, version, envelopes)
            written.update(e.event_id for e in envelopes)
            version += size

    seen: list[RecordedEvent] = []

    async def reader() -> None:
        checkpoint = start
        while len(seen) < total:
            page = await store.read_all(checkpoint, 300)
            if not page:
                await asyncio.sleep(0)
                continue
            seen.extend(page)
            checkpoint = page[-1].position

    began = time.perf_counter()
    tail = asyncio.create_task(reader())
    await asyncio.gather(*(writer(c) for c in cases))
    await asyncio.wait_for(tail, timeout=30)
    seconds = time.perf_counter() - began
    print(
        f"\nconcurrent append: {WRITERS} writers, {total} events, {seconds:.2f} s "
        f"({total / seconds:.0f} events/s), reader saw {len(seen)}"
    )

    positions = [r.position for r in seen]
    assert positions == sorted(positions)
    assert len(set(positions)) == total
    assert [r.envelope.event_id for r in seen].count(seen[0].envelope.event_id) == 1
    assert {r.envelope.event_id for r in seen} == written
    for case_id in cases:
        versions = [r.envelope.version for r in seen if r.envelope.case_id == case_id]
        assert versions == list(range(1, EVENTS_PER_WRITER + 1))
    assert await store.read_all(positions[-1], 10) == []


async def test_a_late_committing_append_is_not_skipped_by_a_reader(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    start = await store.last_position()
    slow_case, fast_case = new_case_id(), new_case_id()
    slow = noted(slow_case, 1)

    async with pool.acquire() as slow_conn:
        transaction = slow_conn.transaction()
        await transaction.start()
        await slow_conn.execute(
            "INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at,"
            " actor, data) VALUES ($1, $2, 1, $3, 1, $4, $5, $6::jsonb)",
            slow.event_id, slow_case, slow.type, slow.occurred_at, slow.actor, '{"note": "n"}',
        )  # fmt: skip
        fast = asyncio.create_task(store.append(fast_case, 0, [noted(fast_case, 1)]))
        await asyncio.sleep(0.3)

        assert not fast.done(), "a second appender must wait for the first to commit"
        assert await store.read_all(start, 10) == []
        await transaction.commit()

    await asyncio.wait_for(fast, timeout=5)
    seen = await store.read_all(start, 10)
    assert [r.envelope.case_id for r in seen] == [slow_case, fast_case]
    assert seen[0].position < seen[1].position
