"""Fixtures of the codec and key tests: a migrated database, master keys, data keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from eventstore import migrate
from infra.keys import CaseKeys, MasterKeys, PostgresDataKeyStore


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this module's database with every migration applied."""
    await migrate(database_url)
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture(scope="module")
def master_keys() -> MasterKeys:
    """Two master keys; ``m2`` is active, ``m1`` an older one."""
    return MasterKeys.parse(
        ",".join([MasterKeys.generate_entry("m2"), MasterKeys.generate_entry("m1")])
    )


@pytest.fixture
def case_keys(pool: asyncpg.Pool, master_keys: MasterKeys) -> CaseKeys:
    """Data keys in PostgreSQL, a fresh cache per test."""
    return CaseKeys(master_keys=master_keys, store=PostgresDataKeyStore(pool))
