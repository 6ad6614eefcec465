"""Benchmark 2's sides against a real database: each writes every event it is given, the raw
baselines send the store's own statement, and the grouping each side gets is what the
report says (a handful of tiny runs, no timing)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from bench import append
from eventstore import migrate
from eventstore.postgres import _APPEND_GROUP


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url)
    created = await asyncpg.create_pool(
        database_url, min_size=append.WRITERS, max_size=append.WRITERS
    )
    await append.prepare_schema(created)
    try:
        yield created
    finally:
        await created.close()


def test_the_raw_statement_is_the_stores_on_the_raw_table() -> None:
    assert re.sub(r"\bevents\b", "raw_events", _APPEND_GROUP) == append.RAW_APPEND
    assert "INSERT INTO raw_events" in append.RAW_APPEND
    assert "FROM raw_events v" in append.RAW_APPEND  # the version check reads the same table
    assert not re.search(r"\bevents\b", append.RAW_APPEND)


async def _rows(pool: asyncpg.Pool, table: str) -> list[tuple[str, int]]:
    found = await pool.fetch(f"SELECT case_id, version FROM {table} ORDER BY case_id, version")
    return [(r["case_id"], r["version"]) for r in found]


def _expected(work: list[list[append.Batch]]) -> list[tuple[str, int]]:
    return sorted((e.case_id, e.version) for w in work for _, _, es in w for e in es)


@pytest.mark.parametrize("batch", [1, 10])
async def test_store_and_raw_sides_write_every_event(pool: asyncpg.Pool, batch: int) -> None:
    work = append._work(3, batch, "t")
    store = await append.run_store(pool, work)
    assert await _rows(pool, "events") == _expected(work)
    for runner in (append.run_raw_grouped, append.run_raw, append.run_copy):
        run = await runner(pool, work)
        assert await _rows(pool, "raw_events") == _expected(work), runner.__name__
        assert run.seconds > 0
    # the store and the grouped raw side group the eight writers' appends; at least one
    # statement carried more than one append
    grouped = await append.run_raw_grouped(pool, work)
    appends = 3 * append.WRITERS
    assert store.statements is not None and 1 <= store.statements < appends
    assert grouped.statements is not None and 1 <= grouped.statements < appends
    assert (await append.run_raw(pool, work)).statements is None  # one per append


async def test_a_side_that_writes_less_than_it_was_given_fails_the_run(
    pool: asyncpg.Pool,
) -> None:
    work = append._work(2, 1, "short")
    # expected versions off by one: the store's statement inserts nothing for these cases
    wrong = [[(case_id, version + 1, es) for case_id, version, es in w] for w in work]
    with pytest.raises(RuntimeError, match="events written of"):
        await append.run_raw(pool, wrong)
    with pytest.raises(RuntimeError, match="events written of"):
        await append.run_raw_grouped(pool, wrong)


async def test_eventsourcing_side_writes_every_event(database_url: str, pool: asyncpg.Pool) -> None:
    side = append.EventsourcingSide(database_url)
    try:
        work = append._work(2, 10, "es")
        run = await side.run(pool, work)
    finally:
        side.close()
    assert run.seconds > 0
    count = await pool.fetchval("SELECT count(*) FROM es_events")
    assert count == 2 * append.WRITERS * 10
