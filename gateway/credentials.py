"""Agency API keys: issued once, stored only as SHA-256, checked in constant time, revocable.

A key is ``svk_<agency>_<43 url-safe characters>`` (256 random bits). The database keeps the
hex SHA-256 (a fast hash is enough: the key is high-entropy, nothing to brute-force) and the
first characters as a label for ``samverkan agency list``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from cases import Agency

_PREFIX_CHARS = 6


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """A credential as listed (never the key)."""

    agency: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class AgencyCredentials:
    """Issue, check, revoke and list agency API keys in table ``agency_credentials``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def issue(self, agency: Agency) -> str:
        """A new key for ``agency``; the caller shows it once, it is not stored."""
        key = f"svk_{agency.value}_{secrets.token_urlsafe(32)}"
        await self._pool.execute(
            "INSERT INTO agency_credentials (key_hash, agency, key_prefix) VALUES ($1, $2, $3)",
            hash_key(key),
            agency.value,
            key[: len("svk_") + len(agency.value) + 1 + _PREFIX_CHARS],
        )
        return key

    async def authenticate(self, key: str) -> Agency | None:
        """The agency of a live key, ``None`` for an unknown or revoked one."""
        if not key or len(key) > 200:
            return None
        digest = hash_key(key)
        row = await self._pool.fetchrow(
            "SELECT key_hash, agency FROM agency_credentials "
            "WHERE key_hash = $1 AND revoked_at IS NULL",
            digest,
        )
        if row is None or not hmac.compare_digest(row["key_hash"], digest):
            return None
        try:
            return Agency(row["agency"])
        except ValueError:
            return None

    async def revoke(self, agency: Agency) -> int:
        """Revoke every live key of ``agency``; how many."""
        status: str = await self._pool.execute(
            "UPDATE agency_credentials SET revoked_at = now() "
            "WHERE agency = $1 AND revoked_at IS NULL",
            agency.value,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def reissue_all(self) -> dict[str, str]:
        """A fresh key for every agency, each agency's earlier keys revoked: for the agency
        simulator, which plays them all (``samverkan simulator --issue-agency-keys``, and
        ``samverkan dev``). Returns ``{agency: key}``; the keys are not stored."""
        keys: dict[str, str] = {}
        for agency in Agency:
            await self.revoke(agency)
            keys[agency.value] = await self.issue(agency)
        return keys

    @classmethod
    async def reissue_all_in(cls, database_url: str) -> dict[str, str]:
        """`reissue_all` on the database of ``database_url`` (a pool for this call only)."""
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        try:
            return await cls(pool).reissue_all()
        finally:
            await pool.close()

    async def list(self) -> list[CredentialInfo]:
        """Every credential, newest first."""
        rows = await self._pool.fetch(
            "SELECT agency, key_prefix, created_at, revoked_at FROM agency_credentials "
            "ORDER BY created_at DESC"
        )
        return [
            CredentialInfo(r["agency"], r["key_prefix"], r["created_at"], r["revoked_at"])
            for r in rows
        ]
