"""Key management for payload and event encryption: master keys, per-case data keys, shredding.

Two layers (envelope encryption):

- **Master keys** come from the environment, never from the database:
  ``SAMVERKAN_MASTER_KEYS="kid1:<base64 32 bytes>,kid0:<base64 32 bytes>"``. The first is
  *active* (wraps new data keys and re-wraps on rotation); the others still unwrap.
- **Data keys** are AES-256 keys, one per *scope*: ``case-<case number>`` for a case (its
  workflow, its consultations, its event-store rows), ``namespace:<name>`` for payloads that
  belong to no case, and ``intake:<random>`` for one request to the codec endpoint (the Web UI
  and the ``temporal`` CLI encode through it without naming a case). An intake key is
  *adopted* by the case whose worker first decodes one of its payloads (``owner_scope``, set
  once); shredding a case destroys its own key and every key it adopted, and intake keys no
  case adopted are shredded after `INTAKE_KEY_LIFETIME` (docs/security.md, "Keys for what
  operators type"). They are stored in PostgreSQL (table ``data_keys``) only wrapped
  (AES-256-GCM under a master key, the key id as associated data).

**Namespaces.** Every key is bound to the Temporal namespace (municipality) that first used
it (column ``namespace``, migration 0008): a case key to the namespace whose worker, client or
codec endpoint created it, an intake key to the namespace of its ``/codec/encode`` request, a
namespace key to its own namespace. `CaseKeys.for_scope`, `CaseKeys.by_id`,
`CaseKeys.new_intake` and `CaseKeys.adopt` take the caller's namespace and never hand one
namespace a key bound to another (`KeyOfAnotherNamespace`); adopting an intake key also binds
the adopting case's scope. A key made before that version (``namespace`` NULL) is claimed by
the first namespace that asks for it, in one atomic update. ``namespace=None`` is the region's
own access (retention, projections, the board read every municipality's events): no check and
no claim (docs/security.md, "Municipalities").

Crypto-shredding (`CaseKeys.shred`) deletes the wrapped key and keeps the row as a tombstone:
every ciphertext under that key becomes unreadable for good, and a scope that was shredded never
gets a new key. Unwrapped keys are cached per process for ``cache_ttl`` seconds (at most
``cache_size`` of them, least recently used going first), so another process may keep
decrypting a shredded case for at most that long (the shredding process forgets at once).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cases.ids import case_workflow_id, parse_workflow_id
from infra.converter import LRUCache

MASTER_KEYS_ENV = "SAMVERKAN_MASTER_KEYS"
NONCE_BYTES = 12
KEY_BYTES = 32
#: Unwrapped data keys one process keeps (`CaseKeys`): a few times the cases a worker holds
#: in its workflow cache (1,000), each ~3 KiB with its cipher context.
KEY_CACHE_SIZE = 4096
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: The scope prefix of the single-use keys the codec endpoint seals each request under.
INTAKE_PREFIX = "intake:"
#: The scope prefix of a namespace's own key (payloads of no case), bound to that namespace.
NAMESPACE_PREFIX = "namespace:"
#: How long an intake key no case adopted lives before the retention run shreds it.
INTAKE_KEY_LIFETIME = timedelta(hours=24)


class KeyDestroyed(Exception):
    """A data key that was destroyed (crypto-shredded): what it encrypted can never be read.

    Stores that only need to tell a shredded case from a misconfigured one (the encrypted
    event store) catch this base; `KeyShredded` adds the key id and scope.
    """


class KeyError_(Exception):
    """Base of key-management errors. Messages name key ids and scopes, never key material."""


class MasterKeyConfigError(KeyError_):
    """``SAMVERKAN_MASTER_KEYS`` is missing or malformed."""


class UnknownKey(KeyError_):
    """No data key with this id exists (or its master key is not configured)."""


class KeyOwnedElsewhere(KeyError_):
    """An intake key adopted by one case was met in another case's context."""

    def __init__(self, key_id: str, owner_scope: str) -> None:
        super().__init__(f"data key {key_id} belongs to another case")
        self.key_id = key_id
        self.owner_scope = owner_scope


class KeyOfAnotherNamespace(KeyError_):
    """A data key bound to another namespace (municipality) was asked for: it is not handed
    out. The message names the key id and its scope, never the namespace that holds it or
    anything the key encrypts."""

    def __init__(self, key_id: str, scope: str) -> None:
        super().__init__(f"data key {key_id} of {scope} belongs to another namespace")
        self.key_id = key_id
        self.scope = scope


class KeyShredded(KeyError_, KeyDestroyed):
    """The data key was destroyed (crypto-shredding): what it encrypted can never be read."""

    def __init__(self, key_id: str, scope: str, shredded_at: datetime | None) -> None:
        when = f" at {shredded_at.isoformat()}" if shredded_at else ""
        super().__init__(
            f"data key {key_id} of {scope} was shredded{when}: its ciphertexts cannot be decrypted"
        )
        self.key_id = key_id
        self.scope = scope


def case_scope(case_number: str) -> str:
    """The key scope of a case: the case's workflow id, ``case-<case number>``."""
    return case_workflow_id(case_number)


def namespace_scope(namespace: str) -> str:
    """The key scope of payloads that belong to no case."""
    return f"{NAMESPACE_PREFIX}{namespace}"


def new_intake_scope() -> str:
    """A fresh, random intake scope: ``intake:<32 hex digits>`` (names no case, no person)."""
    return f"{INTAKE_PREFIX}{secrets.token_hex(16)}"


def is_intake_scope(scope: str) -> bool:
    """Whether ``scope`` is an intake key's."""
    return scope.startswith(INTAKE_PREFIX)


def scope_for_workflow_id(workflow_id: str | None) -> str | None:
    """The case scope of a case or consultation workflow id; ``None`` for any other id."""
    parsed = parse_workflow_id(workflow_id)
    return case_scope(parsed.case_number) if parsed else None


@dataclass(frozen=True, slots=True)
class MasterKeys:
    """The configured master keys; ``active_id`` wraps, every key unwraps."""

    active_id: str
    keys: Mapping[str, bytes]

    @classmethod
    def parse(cls, text: str) -> MasterKeys:
        """Parse ``"kid:base64key,kid:base64key"`` (first active); errors never echo key text."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for number, item in enumerate(p.strip() for p in text.split(",")):
            if not item:
                continue
            kid, sep, encoded = item.partition(":")
            if not sep or not _KID.match(kid):
                raise MasterKeyConfigError(
                    f"{MASTER_KEYS_ENV} entry {number + 1}: expected kid:base64key "
                    "(kid of letters, digits, . _ -)"
                )
            try:
                raw = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise MasterKeyConfigError(
                    f"{MASTER_KEYS_ENV} key {kid}: not valid base64"
                ) from None
            if len(raw) != KEY_BYTES:
                raise MasterKeyConfigError(f"{MASTER_KEYS_ENV} key {kid}: must be 32 bytes")
            if kid in keys:
                raise MasterKeyConfigError(f"{MASTER_KEYS_ENV}: key id {kid} appears twice")
            keys[kid] = raw
            order.append(kid)
        if not order:
            raise MasterKeyConfigError(f"{MASTER_KEYS_ENV} holds no key")
        return cls(active_id=order[0], keys=keys)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MasterKeys:
        """The master keys from ``SAMVERKAN_MASTER_KEYS``."""
        value = (environ if environ is not None else os.environ).get(MASTER_KEYS_ENV)
        if not value:
            raise MasterKeyConfigError(f"{MASTER_KEYS_ENV} is not set")
        return cls.parse(value)

    @staticmethod
    def generate_entry(kid: str) -> str:
        """A new ``kid:base64key`` entry for ``SAMVERKAN_MASTER_KEYS``."""
        if not _KID.match(kid):
            raise MasterKeyConfigError("key id must be letters, digits, . _ -")
        return f"{kid}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"

    def wrap(self, key_id: str, data_key: bytes) -> tuple[str, bytes]:
        """Wrap ``data_key`` under the active master key: (master key id, nonce + ciphertext)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(nonce, data_key, key_id.encode())
        return self.active_id, nonce + sealed

    def unwrap(self, key_id: str, master_id: str, wrapped: bytes) -> bytes:
        """Unwrap a data key; `UnknownKey` when its master key is not configured or wrong."""
        master = self.keys.get(master_id)
        if master is None:
            raise UnknownKey(
                f"data key {key_id} is wrapped by master key {master_id}, not configured"
            )
        try:
            return AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.encode()
            )
        except Exception:
            raise UnknownKey(
                f"data key {key_id} does not unwrap with master key {master_id}"
            ) from None


def load_or_create_dev_master_keys(path: os.PathLike[str] | str) -> str:
    """For ``samverkan dev`` only: a master-key entry kept in a 0600 file under the data folder."""
    from pathlib import Path

    file = Path(path)
    if file.exists():
        return file.read_text(encoding="utf-8").strip()
    file.parent.mkdir(parents=True, exist_ok=True)
    entry = MasterKeys.generate_entry("dev1")
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(entry + "\n")
    return entry


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A ``data_keys`` row: wrapped key, or a tombstone when ``wrapped`` is ``None``."""

    key_id: str
    scope: str
    master_key_id: str | None
    wrapped: bytes | None
    created_at: datetime
    shredded_at: datetime | None
    #: The case scope that adopted this intake key; ``None`` for other keys and unadopted ones.
    owner_scope: str | None = None
    #: The namespace the key is bound to; ``None``: made before keys were bound (claimable).
    namespace: str | None = None


def bound_namespace(key: StoredKey | DataKey) -> str | None:
    """The namespace ``key`` belongs to: a namespace key's own, else the one recorded
    (``None``: a key from before binding, claimed by the first namespace that uses it)."""
    if key.scope.startswith(NAMESPACE_PREFIX):
        return key.scope.removeprefix(NAMESPACE_PREFIX)
    return key.namespace


class DataKeyStore(Protocol):
    """Where wrapped data keys live (PostgreSQL in production, memory in unit tests)."""

    async def by_id(self, key_id: str) -> StoredKey | None:
        """The row of ``key_id``."""
        ...

    async def by_scope(self, scope: str) -> StoredKey | None:
        """The row of ``scope`` (at most one per scope)."""
        ...

    async def insert(self, key: StoredKey) -> StoredKey:
        """Insert ``key`` unless the scope has one; return the scope's row either way."""
        ...

    async def shred(self, scope: str) -> StoredKey | None:
        """Drop the scope's wrapped key, keep a tombstone; the row (``None``: no key)."""
        ...

    async def all_live(self) -> Sequence[StoredKey]:
        """Every key not shredded."""
        ...

    async def adopt(self, key_id: str, owner_scope: str) -> StoredKey | None:
        """Give the intake key ``key_id`` to ``owner_scope`` if no scope owns it yet (one
        atomic step); the key's row afterwards (its owner may be another), ``None``: no key."""
        ...

    async def claim(self, key_id: str, namespace: str) -> StoredKey | None:
        """Bind the key ``key_id`` to ``namespace`` if it is bound to none yet (one atomic
        step); the key's row afterwards (its namespace may be another), ``None``: no key."""
        ...

    async def shred_owned(self, owner_scope: str) -> Sequence[StoredKey]:
        """Tombstone every key ``owner_scope`` adopted; the rows shredded now."""
        ...

    async def shred_unadopted_intake(self, created_before: datetime) -> Sequence[StoredKey]:
        """Tombstone every live intake key no case adopted, created before the instant."""
        ...

    async def rewrap(self, key_id: str, master_key_id: str, wrapped: bytes) -> None:
        """Replace a live key's wrapping."""
        ...


_COLUMNS = (
    "key_id, scope, master_key_id, wrapped_key, created_at, shredded_at, owner_scope, namespace"
)
_SELECT = (
    "SELECT key_id, scope, master_key_id, wrapped_key, created_at, shredded_at, owner_scope, "
    "namespace FROM data_keys"
)
_BY_ID = _SELECT + " WHERE key_id = $1"
_BY_SCOPE = _SELECT + " WHERE scope = $1"
_LIVE = _SELECT + " WHERE wrapped_key IS NOT NULL"
_NEWEST_LIVE_PER_MASTER = """
SELECT DISTINCT ON (master_key_id)
       key_id, scope, master_key_id, wrapped_key, created_at, shredded_at, owner_scope, namespace
FROM data_keys WHERE wrapped_key IS NOT NULL ORDER BY master_key_id, created_at DESC
"""
_TOMBSTONE = """
UPDATE data_keys SET wrapped_key = NULL, master_key_id = NULL,
    shredded_at = coalesce(shredded_at, now())
"""
_SHRED = _TOMBSTONE + f"WHERE scope = $1 RETURNING {_COLUMNS}"
_SHRED_OWNED = (
    _TOMBSTONE + f"WHERE owner_scope = $1 AND wrapped_key IS NOT NULL RETURNING {_COLUMNS}"
)
_SHRED_UNADOPTED = (
    _TOMBSTONE
    + "WHERE owner_scope IS NULL AND wrapped_key IS NOT NULL AND scope LIKE 'intake:%' "
    + f"AND created_at < $1 RETURNING {_COLUMNS}"
)
_ADOPT = "UPDATE data_keys SET owner_scope = $2 WHERE key_id = $1 AND owner_scope IS NULL"
_CLAIM = "UPDATE data_keys SET namespace = $2 WHERE key_id = $1 AND namespace IS NULL"


def _row(row: asyncpg.Record | None) -> StoredKey | None:
    if row is None:
        return None
    wrapped = row["wrapped_key"]
    return StoredKey(
        key_id=row["key_id"],
        scope=row["scope"],
        master_key_id=row["master_key_id"],
        wrapped=bytes(wrapped) if wrapped is not None else None,
        created_at=row["created_at"],
        shredded_at=row["shredded_at"],
        owner_scope=row["owner_scope"],
        namespace=row["namespace"],
    )


class PostgresDataKeyStore:
    """`DataKeyStore` on table ``data_keys`` (migration 0003)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def by_id(self, key_id: str) -> StoredKey | None:
        """The row of ``key_id``."""
        return _row(await self._pool.fetchrow(_BY_ID, key_id))

    async def by_scope(self, scope: str) -> StoredKey | None:
        """The row of ``scope``."""
        return _row(await self._pool.fetchrow(_BY_SCOPE, scope))

    async def insert(self, key: StoredKey) -> StoredKey:
        """Insert unless the scope has a key; the scope's row."""
        await self._pool.execute(
            "INSERT INTO data_keys (key_id, scope, master_key_id, wrapped_key, created_at, "
            "shredded_at, namespace) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (scope) DO NOTHING",
            key.key_id,
            key.scope,
            key.master_key_id,
            key.wrapped,
            key.created_at,
            key.shredded_at,
            key.namespace,
        )
        stored = await self.by_scope(key.scope)
        if stored is None:  # pragma: no cover - the row was just written
            raise UnknownKey(f"no data key for {key.scope} after insert")
        return stored

    async def shred(self, scope: str) -> StoredKey | None:
        """Tombstone the scope's key."""
        return _row(await self._pool.fetchrow(_SHRED, scope))

    async def all_live(self) -> Sequence[StoredKey]:
        """Every live key."""
        rows = await self._pool.fetch(_LIVE)
        return [k for k in map(_row, rows) if k is not None]

    async def newest_live_per_master(self) -> Sequence[StoredKey]:
        """The newest live key wrapped by each master key id in use (a start-up check that
        the configured master keys unwrap what is stored)."""
        rows = await self._pool.fetch(_NEWEST_LIVE_PER_MASTER)
        return [k for k in map(_row, rows) if k is not None]

    async def adopt(self, key_id: str, owner_scope: str) -> StoredKey | None:
        """Set the key's owner unless it has one (one UPDATE); the row afterwards."""
        await self._pool.execute(_ADOPT, key_id, owner_scope)
        return await self.by_id(key_id)

    async def claim(self, key_id: str, namespace: str) -> StoredKey | None:
        """Bind the key to ``namespace`` unless it is bound (one UPDATE); the row afterwards."""
        await self._pool.execute(_CLAIM, key_id, namespace)
        return await self.by_id(key_id)

    async def shred_owned(self, owner_scope: str) -> Sequence[StoredKey]:
        """Tombstone every live key ``owner_scope`` adopted."""
        rows = await self._pool.fetch(_SHRED_OWNED, owner_scope)
        return [k for k in map(_row, rows) if k is not None]

    async def shred_unadopted_intake(self, created_before: datetime) -> Sequence[StoredKey]:
        """Tombstone every live, unadopted intake key created before ``created_before``."""
        rows = await self._pool.fetch(_SHRED_UNADOPTED, created_before)
        return [k for k in map(_row, rows) if k is not None]

    async def rewrap(self, key_id: str, master_key_id: str, wrapped: bytes) -> None:
        """Replace a live key's wrapping."""
        await self._pool.execute(
            "UPDATE data_keys SET master_key_id = $2, wrapped_key = $3 "
            "WHERE key_id = $1 AND wrapped_key IS NOT NULL",
            key_id,
            master_key_id,
            wrapped,
        )


class InMemoryDataKeyStore:
    """`DataKeyStore` in memory, for unit tests."""

    def __init__(self) -> None:
        self._rows: dict[str, StoredKey] = {}

    async def by_id(self, key_id: str) -> StoredKey | None:
        """The row of ``key_id``."""
        return self._rows.get(key_id)

    async def by_scope(self, scope: str) -> StoredKey | None:
        """The row of ``scope``."""
        return next((k for k in self._rows.values() if k.scope == scope), None)

    async def insert(self, key: StoredKey) -> StoredKey:
        """Insert unless the scope has a key."""
        existing = await self.by_scope(key.scope)
        if existing is not None:
            return existing
        self._rows[key.key_id] = key
        return key

    async def shred(self, scope: str) -> StoredKey | None:
        """Tombstone the scope's key."""
        existing = await self.by_scope(scope)
        if existing is None:
            return None
        return self._tombstone(existing)

    def _tombstone(self, existing: StoredKey) -> StoredKey:
        tomb = dataclasses.replace(
            existing,
            master_key_id=None,
            wrapped=None,
            shredded_at=existing.shredded_at or datetime.now(UTC),
        )
        self._rows[existing.key_id] = tomb
        return tomb

    async def all_live(self) -> Sequence[StoredKey]:
        """Every live key."""
        return [k for k in self._rows.values() if k.wrapped is not None]

    async def adopt(self, key_id: str, owner_scope: str) -> StoredKey | None:
        """Set the key's owner unless it has one."""
        k = self._rows.get(key_id)
        if k is not None and k.owner_scope is None:
            k = self._rows[key_id] = dataclasses.replace(k, owner_scope=owner_scope)
        return k

    async def claim(self, key_id: str, namespace: str) -> StoredKey | None:
        """Bind the key to ``namespace`` unless it is bound."""
        k = self._rows.get(key_id)
        if k is not None and k.namespace is None:
            k = self._rows[key_id] = dataclasses.replace(k, namespace=namespace)
        return k

    async def shred_owned(self, owner_scope: str) -> Sequence[StoredKey]:
        """Tombstone every live key ``owner_scope`` adopted."""
        owned = [
            k for k in self._rows.values() if k.owner_scope == owner_scope and k.wrapped is not None
        ]
        return [self._tombstone(k) for k in owned]

    async def shred_unadopted_intake(self, created_before: datetime) -> Sequence[StoredKey]:
        """Tombstone every live, unadopted intake key created before ``created_before``."""
        due = [
            k
            for k in self._rows.values()
            if k.owner_scope is None
            and k.wrapped is not None
            and is_intake_scope(k.scope)
            and k.created_at < created_before
        ]
        return [self._tombstone(k) for k in due]

    async def rewrap(self, key_id: str, master_key_id: str, wrapped: bytes) -> None:
        """Replace a live key's wrapping; a shredded or unknown key is left as it is (as in
        PostgreSQL: a key shredded while a rotation ran never comes back)."""
        k = self._rows.get(key_id)
        if k is None or k.wrapped is None:
            return
        self._rows[key_id] = dataclasses.replace(k, master_key_id=master_key_id, wrapped=wrapped)


@dataclass(frozen=True, slots=True)
class DataKey:
    """An unwrapped data key, ready to encrypt."""

    key_id: str
    scope: str
    aead: AESGCM
    #: The case scope that adopted this intake key, as last read (``None``: not adopted).
    owner_scope: str | None = None
    #: The namespace the key is bound to, as last read (``None``: not bound yet).
    namespace: str | None = None


class CaseKeys:
    """Data keys by scope and by id: created on first use, cached, shredded, re-wrapped."""

    def __init__(
        self,
        *,
        master_keys: MasterKeys,
        store: DataKeyStore,
        cache_ttl: float = 60.0,
        cache_size: int = KEY_CACHE_SIZE,
    ) -> None:
        """Args:
        master_keys: wrap and unwrap the data keys.
        store: where the wrapped data keys live.
        cache_ttl: seconds an unwrapped key is used before it is read from the store again
            (a key shredded by another process stops working here within this time).
        cache_size: how many unwrapped keys (and scope-to-key entries) are kept, least
            recently used going first: a worker sees every case it ever ran, so an unbounded
            cache grows with the number of cases, not with the work at hand.
        """
        self._master = master_keys
        self._store = store
        self._ttl = cache_ttl
        self._by_id: LRUCache[str, tuple[DataKey, float]] = LRUCache(cache_size)
        self._scope_ids: LRUCache[str, str] = LRUCache(cache_size)
        self._lock = asyncio.Lock()

    @property
    def master_keys(self) -> MasterKeys:
        """The configured master keys."""
        return self._master

    def _cached(self, key_id: str) -> DataKey | None:
        hit = self._by_id.get(key_id)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            self._by_id.pop(key_id)
            return None
        return hit[0]

    def _remember(self, stored: StoredKey) -> DataKey:
        if stored.wrapped is None or stored.master_key_id is None:
            raise KeyShredded(stored.key_id, stored.scope, stored.shredded_at)
        raw = self._master.unwrap(stored.key_id, stored.master_key_id, stored.wrapped)
        key = DataKey(
            stored.key_id, stored.scope, AESGCM(raw), stored.owner_scope, stored.namespace
        )
        self._by_id.put(stored.key_id, (key, time.monotonic() + self._ttl))
        self._scope_ids.put(stored.scope, stored.key_id)
        return key

    @staticmethod
    def _usable_from(key: DataKey, namespace: str | None) -> bool:
        """Whether a cached key may be handed to ``namespace`` without asking the store
        (``False`` also for a key bound to none yet: the store claims it)."""
        return namespace is None or bound_namespace(key) == namespace

    async def _bound(
        self, stored: StoredKey, namespace: str | None, *, claim: bool = True
    ) -> StoredKey:
        """``stored`` if ``namespace`` may use it, claimed for ``namespace`` when it is bound
        to none yet and ``claim`` (a tombstone is never claimed: it unlocks nothing).

        Raises:
            KeyOfAnotherNamespace: it is bound to another namespace.
        """
        if namespace is None:
            return stored
        owner = bound_namespace(stored)
        if owner is None and stored.wrapped is not None and claim:
            claimed = await self._store.claim(stored.key_id, namespace)
            if claimed is None:
                raise UnknownKey(f"no data key {stored.key_id}")
            stored, owner = claimed, bound_namespace(claimed)
        if owner is not None and owner != namespace:
            self._by_id.pop(stored.key_id)
            raise KeyOfAnotherNamespace(stored.key_id, stored.scope)
        return stored

    async def for_scope(self, scope: str, *, namespace: str | None) -> DataKey:
        """The scope's data key, created (and stored wrapped, bound to ``namespace``) on first
        use.

        Args:
            scope: ``case-<n>``, ``namespace:<ns>`` or ``intake:<random>``.
            namespace: the Temporal namespace asking; ``None`` only for the region's own
                tools (module docstring), which neither check nor bind.

        Raises:
            KeyOfAnotherNamespace: the scope's key is bound to another namespace.
            KeyShredded: the scope's key was shredded; nothing new is encrypted for it.
        """
        known = self._scope_ids.get(scope)
        hit = self._cached(known) if known is not None else None
        if hit is not None and self._usable_from(hit, namespace):
            return hit
        async with self._lock:
            stored = await self._store.by_scope(scope)
            if stored is None:
                key_id = f"{scope.replace(':', '.')}.{secrets.token_hex(6)}"
                master_id, wrapped = self._master.wrap(key_id, secrets.token_bytes(KEY_BYTES))
                stored = await self._store.insert(
                    StoredKey(
                        key_id,
                        scope,
                        master_id,
                        wrapped,
                        datetime.now(UTC),
                        None,
                        namespace=namespace,
                    )
                )
            return self._remember(await self._bound(stored, namespace))

    async def by_id(self, key_id: str, *, namespace: str | None, claim: bool = True) -> DataKey:
        """The data key ``key_id`` (named in a ciphertext's metadata), for ``namespace``.

        Args:
            key_id: the key's id.
            namespace: the Temporal namespace asking (``None``: the region's own tools).
            claim: bind a key from before binding to ``namespace``. Only a worker running
                the namespace's case claims; readers (the codec endpoint's decode, replays)
                pass ``False``: a read with a wrong namespace, or an operator decoding an old
                ciphertext of another municipality, must not bind that municipality's key
                away from its own cases.

        Raises:
            KeyOfAnotherNamespace: the key is bound to another namespace.
            KeyShredded: the key was shredded. UnknownKey: no such key.
        """
        hit = self._cached(key_id)
        if hit is not None and self._usable_from(hit, namespace):
            return hit
        stored = await self._store.by_id(key_id)
        if stored is None:
            raise UnknownKey(f"no data key {key_id}")
        return self._remember(await self._bound(stored, namespace, claim=claim))

    async def new_intake(self, *, namespace: str) -> DataKey:
        """A fresh single-use intake key (scope ``intake:<random>``) bound to ``namespace``,
        stored wrapped."""
        return await self.for_scope(new_intake_scope(), namespace=namespace)

    async def adopt(self, key: DataKey, owner_scope: str, *, namespace: str) -> DataKey:
        """``key`` (an intake key) as adopted by ``owner_scope`` in ``namespace``: set in the
        store if no case owns it yet, in one atomic update.

        The case scope is bound to ``namespace`` first (its key created if it has none): a
        case number another namespace holds adopts nothing here.

        Raises:
            KeyOfAnotherNamespace: ``owner_scope`` or ``key`` is bound to another namespace.
            KeyOwnedElsewhere: another case adopted it first.
            KeyShredded: it was shredded meanwhile.
        """
        if bound_namespace(key) != namespace:
            raise KeyOfAnotherNamespace(key.key_id, key.scope)
        if key.owner_scope == owner_scope:
            return key
        if key.owner_scope is None:
            # a shredded case (of this namespace) adopts as it did before binding
            with contextlib.suppress(KeyShredded):
                await self.for_scope(owner_scope, namespace=namespace)
            stored = await self._store.adopt(key.key_id, owner_scope)
            if stored is None:
                raise UnknownKey(f"no data key {key.key_id}")
            if stored.owner_scope == owner_scope or stored.owner_scope is None:
                return self._remember(stored)
            raise KeyOwnedElsewhere(key.key_id, stored.owner_scope)
        raise KeyOwnedElsewhere(key.key_id, key.owner_scope)

    async def shred(self, scope: str) -> StoredKey | None:
        """Destroy the scope's data key for good (crypto-shredding); ``None`` if it had none.

        Every intake key the scope adopted is destroyed with it. A scope without a key gets a
        tombstone too, so no key is ever created for it later.
        """
        for adopted in await self._store.shred_owned(scope):
            self._by_id.pop(adopted.key_id)
        stored = await self._store.shred(scope)
        if stored is None:
            now = datetime.now(UTC)
            key_id = f"{scope.replace(':', '.')}.shredded"
            stored = await self._store.insert(StoredKey(key_id, scope, None, None, now, now))
        self._scope_ids.pop(scope)
        if stored is not None:
            self._by_id.pop(stored.key_id)
        return stored

    async def shred_stale_intake(
        self, *, now: datetime | None = None, lifetime: timedelta = INTAKE_KEY_LIFETIME
    ) -> int:
        """Shred every intake key no case adopted within ``lifetime``; how many."""
        cutoff = (now or datetime.now(UTC)) - lifetime
        shredded = await self._store.shred_unadopted_intake(cutoff)
        for stored in shredded:
            self._by_id.pop(stored.key_id)
            self._scope_ids.pop(stored.scope)
        return len(shredded)

    async def rotate_master(self) -> int:
        """Re-wrap every live data key whose master key is not the active one; how many."""
        count = 0
        for stored in await self._store.all_live():
            if stored.master_key_id == self._master.active_id or stored.wrapped is None:
                continue
            raw = self._master.unwrap(stored.key_id, stored.master_key_id or "", stored.wrapped)
            master_id, wrapped = self._master.wrap(stored.key_id, raw)
            await self._store.rewrap(stored.key_id, master_id, wrapped)
            count += 1
        return count
