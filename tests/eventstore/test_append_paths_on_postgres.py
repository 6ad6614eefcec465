"""`PostgresEventStore.append` on the real PostgreSQL: the shared group statement, the careful
path, and what each caller gets back.

Appends under way at once share one statement (up to ``max_group`` of distinct cases); an
append whose batch that statement did not insert runs the careful path alone. Each caller
gets its own case's positions, in version order, or its own error; a caller cancelled while
queued holds up nobody; a lost connection reaches every caller of the group.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from cases.envelope import seal
from eventstore import (
    EventIdConflict,
    InvalidAppend,
    PostgresEventStore,
    WrongExpectedVersion,
    create_pool,
)
from eventstore.store import SealedField
from tests.eventstore.store_testkit import (
    BASE_TIME,
    StoreTestCounted,
    batch,
    new_case_id,
    noted,
)

WAIT = 10.0  # seconds: a caller left waiting for ever fails the test instead of hanging it


class _Connection:
    """A pooled connection that runs ``before_insert`` before each events insert."""

    def __init__(self, conn: Any, before_insert: Callable[[], Awaitable[None]] | None) -> None:
        self._conn = conn
        self._before_insert = before_insert

    def transaction(self) -> Any:
        return self._conn.transaction()

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> Any:
        return await self._conn.execute(query, *args)

    async def fetch(self, query: str, *args: Any) -> Any:
        if self._before_insert is not None and query.lstrip().startswith("INSERT INTO events"):
            await self._before_insert()
        return await self._conn.fetch(query, *args)


class _Pool:
    """The store's pool, with a hook on the group statement and one on careful inserts."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        group: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
        before_insert: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._group = group
        self._before_insert = before_insert

    async def fetch(self, query: str, *args: Any) -> Any:
        if self._group is not None and query.lstrip().startswith("WITH batch"):
            await self._group(json.loads(args[0]))
        return await self._pool.fetch(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._pool.fetchval(query, *args)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Connection]:
        async with self._pool.acquire() as conn:
            yield _Connection(conn, self._before_insert)


async def _positions_of(pool: asyncpg.Pool, case_id: str) -> tuple[int, ...]:
    rows = await pool.fetch(
        "SELECT position FROM events WHERE case_id = $1 ORDER BY version", case_id
    )
    return tuple(r["position"] for r in rows)


async def test_read_all_with_no_arguments_starts_at_the_first_position(
    pool: asyncpg.Pool,
) -> None:
    # first in this module: its database is fresh, so the first event is position 1
    store = PostgresEventStore(pool)
    case = new_case_id()
    await store.append(case, 0, batch(case, 0, 2))
    first = await store.read_all(0, 1000)
    assert first[0].position == 1
    assert await store.read_all() == first


async def test_an_append_failing_in_the_group_is_answered_alone_and_the_others_get_their_positions(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    taken, innocent = new_case_id(), new_case_id()
    recorded = noted(taken, 1)
    await store.append(taken, 0, [recorded])
    other = new_case_id()
    reused = noted(other, 1).model_copy(update={"event_id": recorded.event_id})
    # the reused event id fails the shared statement: both appends take the careful path
    results = await asyncio.wait_for(
        asyncio.gather(
            store.append(innocent, 0, batch(innocent, 0, 3)),
            store.append(other, 0, [reused]),
            return_exceptions=True,
        ),
        WAIT,
    )
    ok, conflict = results
    assert isinstance(conflict, EventIdConflict)
    assert not isinstance(ok, BaseException)
    assert ok.case_id == innocent
    assert ok.last_version == 3
    assert ok.positions == await _positions_of(pool, innocent)
    assert len(ok.positions) == 3 and list(ok.positions) == sorted(ok.positions)
    assert not ok.already_recorded


async def test_a_retry_of_a_recorded_batch_answers_the_original_result_for_its_case(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    case = new_case_id()
    events = batch(case, 0, 2)
    first = await store.append(case, 0, events)
    retry = await store.append(case, 0, events)
    assert retry.already_recorded
    assert retry.case_id == case
    assert retry.positions == first.positions
    assert retry.last_version == 2


async def test_a_stale_writer_learns_the_case_and_both_versions(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    case = new_case_id()
    await store.append(case, 0, batch(case, 0, 2))
    with pytest.raises(WrongExpectedVersion) as stale:
        await store.append(case, 1, [noted(case, 2)])
    assert (stale.value.case_id, stale.value.expected_version, stale.value.actual_version) == (
        case,
        1,
        2,
    )
    assert str(stale.value) == f"case {case}: expected version 1, but the case is at version 2"


async def test_a_writer_that_keeps_losing_the_race_tries_three_times_then_says_the_case_moved(
    pool: asyncpg.Pool,
) -> None:
    inserts = 0

    async def group_fails(_: list[dict[str, Any]]) -> None:
        raise asyncpg.UniqueViolationError("duplicate key value")

    async def another_writer_got_there_first() -> None:
        nonlocal inserts
        inserts += 1
        raise asyncpg.UniqueViolationError("duplicate key value")

    racing = _Pool(pool, group=group_fails, before_insert=another_writer_got_there_first)
    store = PostgresEventStore(racing)  # type: ignore[arg-type]
    case = new_case_id()
    with pytest.raises(WrongExpectedVersion) as lost:
        await asyncio.wait_for(store.append(case, 0, batch(case, 0, 1)), WAIT)
    assert inserts == 3
    assert (lost.value.case_id, lost.value.expected_version, lost.value.actual_version) == (
        case,
        0,
        None,
    )
    assert str(lost.value) == f"case {case}: expected version 0, but the case is at a later version"
    assert await PostgresEventStore(pool).case_version(case) == 0


async def test_two_appends_of_one_case_under_way_at_once_each_get_their_own_positions(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    case = new_case_id()
    first, second = await asyncio.wait_for(
        asyncio.gather(
            store.append(case, 0, batch(case, 0, 1)), store.append(case, 1, batch(case, 1, 2))
        ),
        WAIT,
    )
    recorded = await _positions_of(pool, case)
    assert len(recorded) == 3
    assert first.positions == recorded[:1] and first.last_version == 1
    assert second.positions == recorded[1:] and second.last_version == 3


async def test_one_statement_carries_at_most_max_group_appends(pool: asyncpg.Pool) -> None:
    sizes: list[int] = []

    async def count(rows: list[dict[str, Any]]) -> None:
        sizes.append(len({row["case_id"] for row in rows}))

    store = PostgresEventStore(_Pool(pool, group=count), max_group=2)  # type: ignore[arg-type]
    cases_ = [new_case_id() for _ in range(5)]
    await asyncio.wait_for(
        asyncio.gather(*(store.append(c, 0, batch(c, 0, 1)) for c in cases_)), WAIT
    )
    assert sizes == [2, 2, 1]


async def test_by_default_sixty_four_appends_share_one_statement(pool: asyncpg.Pool) -> None:
    sizes: list[int] = []

    async def count(rows: list[dict[str, Any]]) -> None:
        sizes.append(len({row["case_id"] for row in rows}))

    store = PostgresEventStore(_Pool(pool, group=count))  # type: ignore[arg-type]
    cases_ = [new_case_id() for _ in range(65)]
    await asyncio.wait_for(
        asyncio.gather(*(store.append(c, 0, batch(c, 0, 1)) for c in cases_)), WAIT
    )
    assert sizes == [64, 1]


async def test_an_append_cancelled_while_queued_holds_up_none_queued_after_it(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    a, b, c = new_case_id(), new_case_id(), new_case_id()
    first = asyncio.create_task(store.append(a, 0, batch(a, 0, 1)))
    cancelled = asyncio.create_task(store.append(b, 0, batch(b, 0, 1)))
    last = asyncio.create_task(store.append(c, 0, batch(c, 0, 1)))
    await asyncio.sleep(0)  # all three queued; the group is not formed yet
    cancelled.cancel()
    done = await asyncio.wait_for(asyncio.gather(first, last), WAIT)
    assert [r.case_id for r in done] == [a, c]
    assert await _positions_of(pool, a) == done[0].positions
    assert await _positions_of(pool, c) == done[1].positions
    assert cancelled.cancelled()


async def test_a_lost_connection_reaches_every_append_of_its_group(pool: asyncpg.Pool) -> None:
    async def lost(_: list[dict[str, Any]]) -> None:
        raise ConnectionResetError("connection lost")

    store = PostgresEventStore(_Pool(pool, group=lost))  # type: ignore[arg-type]
    a, b = new_case_id(), new_case_id()
    results = await asyncio.wait_for(
        asyncio.gather(
            store.append(a, 0, batch(a, 0, 1)),
            store.append(b, 0, batch(b, 0, 1)),
            return_exceptions=True,
        ),
        WAIT,
    )
    assert [type(r) for r in results] == [ConnectionResetError, ConnectionResetError]
    assert await _positions_of(pool, a) == ()


async def test_a_value_jsonb_refuses_is_refused_not_stored_as_something_else(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresEventStore(pool)
    case = new_case_id()
    envelope = seal(
        StoreTestCounted(count=1, ratio=math.nan),
        event_id=uuid.uuid4(),
        case_id=case,
        version=1,
        occurred_at=BASE_TIME,
        actor="officer-1",
    )
    with pytest.raises(asyncpg.PostgresError):
        await store.append(case, 0, [envelope])
    assert await store.case_version(case) == 0


async def test_a_sealed_field_naming_no_event_of_the_batch_is_refused_naming_the_case(
    pool: asyncpg.Pool,
) -> None:
    case = new_case_id()
    stray = SealedField(uuid.uuid4(), "note", case, "k", b"\x00" * 28)
    with pytest.raises(InvalidAppend) as refused:
        await PostgresEventStore(pool).append(case, 0, batch(case, 0, 1), sealed=[stray])
    assert str(refused.value) == f"case {case}: a sealed field names no event of the batch"


async def test_a_new_pool_holds_one_to_ten_connections_and_closing_lets_appends_finish(
    migrated_url: str,
) -> None:
    created = await create_pool(migrated_url)
    assert (created.get_min_size(), created.get_max_size()) == (1, 10)
    await created.close()
    store = await PostgresEventStore.connect(migrated_url)
    assert (store.pool.get_min_size(), store.pool.get_max_size()) == (1, 10)
    cases_ = [new_case_id() for _ in range(3)]
    appends = [asyncio.create_task(store.append(c, 0, batch(c, 0, 2))) for c in cases_]
    await asyncio.sleep(0)  # queued, not yet sent
    await asyncio.wait_for(store.close(), WAIT)
    results = await asyncio.wait_for(asyncio.gather(*appends), WAIT)
    assert [r.last_version for r in results] == [2, 2, 2]
    idle = await PostgresEventStore.connect(migrated_url, min_size=1, max_size=2)
    assert [await idle.case_version(c) for c in cases_] == [2, 2, 2]
    await asyncio.wait_for(idle.close(), WAIT)  # nothing under way: closes at once
