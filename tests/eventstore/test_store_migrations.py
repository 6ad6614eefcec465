"""Migrations: versioned, safe to start concurrently, harmless to re-run, listed by status."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from eventstore import MigrationError, migrate, migration_status
from eventstore.schema import load_migrations


async def test_a_fresh_database_lists_every_migration_as_pending(database_url: str) -> None:
    status = await migration_status(database_url)

    assert [s.version for s in status] == [m.version for m in load_migrations()]
    assert all(s.applied_at is None for s in status)


async def test_concurrent_starters_apply_each_migration_exactly_once(database_url: str) -> None:
    results = await asyncio.gather(*(migrate(database_url) for _ in range(5)))

    names = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
    assert sorted(results, key=len) == [[], [], [], [], names]
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in load_migrations()]
        assert await conn.fetchval("SELECT to_regclass('events') IS NOT NULL")
    finally:
        await conn.close()


async def test_re_running_migrations_is_harmless(database_url: str) -> None:
    assert await migrate(database_url) == []
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        assert await migrate(pool) == []
        status = await migration_status(pool)
    finally:
        await pool.close()
    assert all(s.applied_at is not None for s in status)


async def test_a_migration_changed_after_it_was_applied_is_refused(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        original = await conn.fetchval("SELECT checksum FROM schema_migrations WHERE version = 1")
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationError, match="0001_events was changed"):
            await migrate(database_url)
        await conn.execute("UPDATE schema_migrations SET checksum = $1 WHERE version = 1", original)
    finally:
        await conn.close()


async def test_stored_events_cannot_be_rewritten(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at,"
            " actor, data) VALUES (gen_random_uuid(), 'c-1', 1, 'T', 1, now(), 'a', '{}')"
        )
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
            await conn.execute("UPDATE events SET data = '{\"x\": 1}'")
        assert await conn.fetchval("SELECT data::text FROM events") == "{}"
    finally:
        await conn.close()
