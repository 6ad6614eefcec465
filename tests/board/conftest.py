"""The board's tests: a migrated database holding the fixed cases of `tests.board.streams`,
recorded as events and projected by the real projector (no row is written by hand)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from eventstore import PostgresEventStore, Projector, migrate
from tests.board.streams import CASES
from tests.eventstore.case_streams import envelopes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def board_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database whose read models hold the fixed cases."""
    await migrate(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    try:
        store = PostgresEventStore(pool)
        for number, events in CASES.items():
            await store.append(number, 0, envelopes(number, events()))
        await Projector(pool).catch_up()
        yield pool
    finally:
        await pool.close()
