"""The global order has no holes: a tailing reader sees every event exactly once, in order."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from cases.envelope import seal
from eventstore import EventIdConflict, PostgresEventStore, RecordedEvent, WrongExpectedVersion
from tests.eventstore.store_testkit import BASE_TIME, StoreTestCounted, batch, new_case_id, noted

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


async def _recorded_at(pool: asyncpg.Pool, case_id: str) -> set[object]:
    rows = await pool.fetch("SELECT recorded_at FROM events WHERE case_id = $1", case_id)
    return {r["recorded_at"] for r in rows}


async def test_concurrent_appends_share_one_commit_and_each_gets_its_own_positions(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    cases = [new_case_id() for _ in range(6)]
    batches = {c: batch(c, 0, 1 + i % 3) for i, c in enumerate(cases)}

    results = await asyncio.gather(*(store.append(c, 0, batches[c]) for c in cases))

    for case_id, result in zip(cases, results, strict=True):
        assert result.case_id == case_id
        assert result.last_version == len(batches[case_id])
        assert not result.already_recorded
        assert await store.read_case(case_id) == batches[case_id]
        recorded = await store.read_all(result.positions[0] - 1, len(result.positions))
        assert [r.position for r in recorded] == list(result.positions)
        assert [r.envelope for r in recorded] == batches[case_id]
    # one statement, one transaction: the database recorded them all at the same moment
    moments = [await _recorded_at(pool, c) for c in cases]
    assert len(set().union(*moments)) == 1


async def test_a_refused_append_does_not_fail_the_appends_it_was_sent_with(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    good, stale, reused, taken = (new_case_id() for _ in range(4))
    await store.append(stale, 0, batch(stale, 0, 2))
    taken_first = batch(taken, 0, 1)
    await store.append(taken, 0, taken_first)
    reused_event = noted(reused, 1, event_id=taken_first[0].event_id)

    outcomes = await asyncio.gather(
        store.append(good, 0, batch(good, 0, 2)),
        store.append(stale, 1, [noted(stale, 2)]),
        store.append(reused, 0, [reused_event]),
        return_exceptions=True,
    )

    assert not isinstance(outcomes[0], BaseException)
    assert outcomes[0].last_version == 2
    assert isinstance(outcomes[1], WrongExpectedVersion)
    assert isinstance(outcomes[2], EventIdConflict)
    assert await store.case_version(good) == 2
    assert await store.case_version(stale) == 2
    assert await store.read_case(reused) == []


async def test_two_concurrent_appends_at_the_same_version_of_a_case_record_one(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    case_id = new_case_id()
    first, second = batch(case_id, 0, 2), batch(case_id, 0, 3)

    outcomes = await asyncio.gather(
        store.append(case_id, 0, first), store.append(case_id, 0, second), return_exceptions=True
    )

    assert not isinstance(outcomes[0], BaseException)
    assert isinstance(outcomes[1], WrongExpectedVersion)
    assert await store.read_case(case_id) == first


async def test_a_batch_the_database_refuses_fails_alone(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    good, bad = new_case_id(), new_case_id()
    counted = seal(
        StoreTestCounted(count=1, ratio=float("nan")),  # jsonb has no NaN
        event_id=uuid.uuid4(),
        case_id=bad,
        version=1,
        occurred_at=BASE_TIME,
        actor="officer-1",
    )

    outcomes = await asyncio.gather(
        store.append(good, 0, batch(good, 0, 1)),
        store.append(bad, 0, [counted]),
        return_exceptions=True,
    )

    assert not isinstance(outcomes[0], BaseException)
    assert isinstance(outcomes[1], asyncpg.DataError)
    assert await store.case_version(good) == 1
    assert await store.case_version(bad) == 0


async def test_a_cancelled_append_leaves_the_others_of_its_group_alone(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    kept, dropped = new_case_id(), new_case_id()
    first = asyncio.create_task(store.append(kept, 0, batch(kept, 0, 1)))
    second = asyncio.create_task(store.append(dropped, 0, batch(dropped, 0, 1)))
    await asyncio.sleep(0)  # both queued, not yet sent
    second.cancel()

    result = await first

    assert result.last_version == 1
    assert second.cancelled()
    assert await store.case_version(kept) == 1
    assert await store.case_version(dropped) == 0
