"""The data-key store contract: the same tests against the in-memory and the PostgreSQL store.

`infra.keys.InMemoryDataKeyStore` stands in for `PostgresDataKeyStore` in unit tests, so it
must behave the same: create, read, shred (a tombstone that never gets a key again), rewrap
(live keys only: a shredded key never comes back) and list. Every test runs against both;
the PostgreSQL one on the real database of `tests/codec/conftest.py` (this module's own),
emptied before each test.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from infra.keys import (
    CaseKeys,
    DataKeyStore,
    InMemoryDataKeyStore,
    KeyShredded,
    MasterKeys,
    PostgresDataKeyStore,
    StoredKey,
)


@pytest_asyncio.fixture(params=["memory", "postgres"])
async def store(request: pytest.FixtureRequest, pool: asyncpg.Pool) -> DataKeyStore:
    """Each store in turn, empty."""
    if request.param == "memory":
        return InMemoryDataKeyStore()
    await pool.execute("DELETE FROM data_keys")
    return PostgresDataKeyStore(pool)


def scope() -> str:
    return f"case-K-{uuid.uuid4().hex[:10]}"


def live_key(scope_: str, master_key_id: str = "m1") -> StoredKey:
    """A live row as `CaseKeys` writes it (the wrapping is opaque to the store)."""
    key_id = f"{scope_}.{secrets.token_hex(6)}"
    return StoredKey(
        key_id, scope_, master_key_id, secrets.token_bytes(60), datetime.now(UTC), None
    )


def by_scope(keys: Sequence[StoredKey]) -> dict[str, StoredKey]:
    return {k.scope: k for k in keys}


# -- create and read ----------------------------------------------------------------------


async def test_a_new_key_reads_back_by_id_and_by_scope(store: DataKeyStore) -> None:
    key = live_key(scope())

    inserted = await store.insert(key)

    assert inserted == key
    assert await store.by_id(key.key_id) == key
    assert await store.by_scope(key.scope) == key


async def test_an_unknown_id_or_scope_reads_as_none(store: DataKeyStore) -> None:
    assert await store.by_id(f"{scope()}.000000000000") is None
    assert await store.by_scope(scope()) is None


async def test_a_scope_keeps_its_first_key(store: DataKeyStore) -> None:
    the_scope = scope()
    first = live_key(the_scope)
    await store.insert(first)

    second = await store.insert(live_key(the_scope))

    assert second == first
    assert await store.by_scope(the_scope) == first


# -- shred --------------------------------------------------------------------------------


async def test_shredding_leaves_a_tombstone(store: DataKeyStore) -> None:
    key = live_key(scope())
    await store.insert(key)

    tomb = await store.shred(key.scope)

    assert tomb is not None
    assert (tomb.key_id, tomb.scope, tomb.created_at) == (key.key_id, key.scope, key.created_at)
    assert tomb.wrapped is None
    assert tomb.master_key_id is None
    assert tomb.shredded_at is not None
    assert await store.by_id(key.key_id) == tomb
    assert await store.by_scope(key.scope) == tomb


async def test_shredding_again_keeps_the_first_shredding_time(store: DataKeyStore) -> None:
    key = live_key(scope())
    await store.insert(key)
    first = await store.shred(key.scope)

    again = await store.shred(key.scope)

    assert first is not None and again is not None
    assert again.shredded_at == first.shredded_at
    assert again.wrapped is None


async def test_shredding_a_scope_without_a_key_creates_nothing(store: DataKeyStore) -> None:
    the_scope = scope()

    assert await store.shred(the_scope) is None
    assert await store.by_scope(the_scope) is None


async def test_a_shredded_scope_never_gets_a_new_key(store: DataKeyStore) -> None:
    key = live_key(scope())
    await store.insert(key)
    tomb = await store.shred(key.scope)

    again = await store.insert(live_key(key.scope))

    assert again == tomb
    assert again.wrapped is None


# -- rewrap -------------------------------------------------------------------------------


async def test_rewrap_replaces_a_live_keys_wrapping(store: DataKeyStore) -> None:
    key = live_key(scope(), master_key_id="m1")
    await store.insert(key)
    new_wrapping = secrets.token_bytes(60)

    await store.rewrap(key.key_id, "m2", new_wrapping)

    assert await store.by_id(key.key_id) == StoredKey(
        key.key_id, key.scope, "m2", new_wrapping, key.created_at, None
    )


async def test_rewrap_never_brings_a_shredded_key_back(store: DataKeyStore) -> None:
    key = live_key(scope())
    await store.insert(key)
    tomb = await store.shred(key.scope)

    await store.rewrap(key.key_id, "m2", secrets.token_bytes(60))

    assert await store.by_id(key.key_id) == tomb
    assert await store.all_live() == []


async def test_rewrap_of_an_unknown_key_changes_nothing(store: DataKeyStore) -> None:
    key_id = f"{scope()}.000000000000"

    await store.rewrap(key_id, "m2", secrets.token_bytes(60))

    assert await store.by_id(key_id) is None


# -- list ---------------------------------------------------------------------------------


async def test_all_live_lists_live_keys_only_with_their_current_wrapping(
    store: DataKeyStore,
) -> None:
    kept, shredded, rewrapped = scope(), scope(), scope()
    keys = {s: live_key(s) for s in (kept, shredded, rewrapped)}
    for key in keys.values():
        await store.insert(key)
    await store.shred(shredded)
    new_wrapping = secrets.token_bytes(60)
    await store.rewrap(keys[rewrapped].key_id, "m2", new_wrapping)

    live = by_scope(await store.all_live())

    assert live == {
        kept: keys[kept],
        rewrapped: StoredKey(
            keys[rewrapped].key_id, rewrapped, "m2", new_wrapping, keys[rewrapped].created_at, None
        ),
    }


# -- through CaseKeys ---------------------------------------------------------------------


def two_masters() -> tuple[MasterKeys, MasterKeys]:
    """The same two master keys, first with ``old`` active, then with ``new`` active."""
    old, new = MasterKeys.generate_entry("old"), MasterKeys.generate_entry("new")
    return MasterKeys.parse(f"{old},{new}"), MasterKeys.parse(f"{new},{old}")


async def test_case_keys_shred_and_rotate_on_either_store(store: DataKeyStore) -> None:
    before, after = two_masters()
    kept, shredded, never_keyed = scope(), scope(), scope()
    keys = CaseKeys(master_keys=before, store=store)
    kept_key = await keys.for_scope(kept)
    await keys.for_scope(shredded)
    await keys.shred(shredded)
    await keys.shred(never_keyed)

    rotating = CaseKeys(master_keys=after, store=store)
    rotated = await rotating.rotate_master()

    assert rotated == 1
    reread = await rotating.by_id(kept_key.key_id)
    nonce, sealed = b"\x00" * 12, kept_key.aead.encrypt(b"\x00" * 12, b"text", None)
    assert reread.aead.decrypt(nonce, sealed, None) == b"text"
    stored = await store.by_scope(kept)
    assert stored is not None
    assert stored.master_key_id == "new"
    for gone in (shredded, never_keyed):
        with pytest.raises(KeyShredded):
            await rotating.for_scope(gone)


class _ShredsDuringRotation:
    """``inner``, on which ``scope`` is shredded after rotation has listed the live keys."""

    def __init__(self, inner: DataKeyStore, scope_: str) -> None:
        self._inner = inner
        self._scope = scope_

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def all_live(self) -> Sequence[StoredKey]:
        live = await self._inner.all_live()
        await self._inner.shred(self._scope)
        return live


async def test_a_key_shredded_during_rotation_stays_shredded(store: DataKeyStore) -> None:
    before, after = two_masters()
    the_scope = scope()
    key = await CaseKeys(master_keys=before, store=store).for_scope(the_scope)

    rotating = CaseKeys(master_keys=after, store=_ShredsDuringRotation(store, the_scope))
    await rotating.rotate_master()

    with pytest.raises(KeyShredded):
        await rotating.by_id(key.key_id)
    with pytest.raises(KeyShredded):
        await CaseKeys(master_keys=after, store=store).for_scope(the_scope)
