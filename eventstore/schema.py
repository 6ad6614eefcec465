"""Versioned SQL migrations: `migrate` applies what is missing, `migration_status` lists them.

Migrations are the files ``eventstore/migrations/NNNN_name.sql``, applied in number order,
each in its own transaction together with its row in ``schema_migrations``. A session-level
advisory lock makes concurrent starters (several workers, ``samverkan dev`` and a test
fixture) safe: one applies, the others wait and then find nothing left to do. Re-running is
harmless. A migration edited after it was applied is refused (its checksum differs).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from .errors import EventStoreError

MIGRATION_LOCK_KEY = 7269000
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(EventStoreError):
    """The migrations on disk and in the database disagree."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file of ``eventstore/migrations``."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    """A migration and when it was applied (``None``: pending)."""

    version: int
    name: str
    applied_at: datetime | None


def load_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("eventstore.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


@asynccontextmanager
async def _connection(
    target: str | asyncpg.Pool,
) -> AsyncIterator[asyncpg.Connection | PoolConnectionProxy]:
    if isinstance(target, str):
        conn = await asyncpg.connect(target)
        try:
            yield conn
        finally:
            await conn.close()
    else:
        async with target.acquire() as pooled:
            yield pooled


async def migrate(target: str | asyncpg.Pool) -> list[str]:
    """Apply every pending migration to the database at ``target`` (DSN or pool).

    Returns:
        The names (``NNNN_name``) of the migrations this call applied; empty when none were due.

    Raises:
        MigrationError: an applied migration's file changed since.
    """
    migrations = load_migrations()
    applied_now: list[str] = []
    async with _connection(target) as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(_CREATE_TABLE)
            rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
            applied = {row["version"]: row["checksum"] for row in rows}
            for migration in migrations:
                label = f"{migration.version:04d}_{migration.name}"
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {label} was changed after it was applied; "
                            "add a new migration instead"
                        )
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
                applied_now.append(label)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied_now


async def migration_status(target: str | asyncpg.Pool) -> list[MigrationStatus]:
    """Every known migration (on disk or in the database) with its applied time, in order."""
    async with _connection(target) as conn:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
        rows = (
            await conn.fetch("SELECT version, name, applied_at FROM schema_migrations")
            if exists
            else []
        )
    by_version = {m.version: MigrationStatus(m.version, m.name, None) for m in load_migrations()}
    for row in rows:
        by_version[row["version"]] = MigrationStatus(row["version"], row["name"], row["applied_at"])
    return [by_version[v] for v in sorted(by_version)]
