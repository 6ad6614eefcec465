"""Fixtures of the event store's tests: a migrated database per module and both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from eventstore import (
    EventStore,
    InMemoryEventStore,
    PostgresEventStore,
    migrate,
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def migrated_url(database_url: str) -> str:
    """This module's fresh database with every migration applied."""
    await migrate(database_url)
    return database_url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(migrated_url: str) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on the migrated database."""
    created = await asyncpg.create_pool(migrated_url, min_size=1, max_size=12)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> EventStore:
    """Each store in turn: the contract suite runs against both."""
    if request.param == "memory":
        return InMemoryEventStore()
    return PostgresEventStore(request.getfixturevalue("pool"))
