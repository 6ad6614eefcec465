"""The data-key store contract: the same tests against the in-memory and the PostgreSQL store.

`infra.keys.InMemoryDataKeyStore` stands in for `PostgresDataKeyStore` in unit tests, so it
must behave the same: create, read, shred (a tombstone that never gets a key again), rewrap
(live keys only: a shredded key never comes back), list, and bind a key to a namespace (a
key from before binding claimed once, atomically; `CaseKeys` on either store never handing a
key to another namespace). Every test runs against both;
the PostgreSQL one on the real database of `tests/codec/conftest.py` (this module's own),
emptied before each test.
"""

from __future__ import annotations

import asyncio
import dataclasses
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
    KeyOfAnotherNamespace,
    KeyShredded,
    MasterKeys,
    PostgresDataKeyStore,
    StoredKey,
    namespace_scope,
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
    kept_key = await keys.for_scope(kept, namespace=None)
    await keys.for_scope(shredded, namespace=None)
    await keys.shred(shredded)
    await keys.shred(never_keyed)

    rotating = CaseKeys(master_keys=after, store=store)
    rotated = await rotating.rotate_master()

    assert rotated == 1
    reread = await rotating.by_id(kept_key.key_id, namespace=None)
    nonce, sealed = b"\x00" * 12, kept_key.aead.encrypt(b"\x00" * 12, b"text", None)
    assert reread.aead.decrypt(nonce, sealed, None) == b"text"
    stored = await store.by_scope(kept)
    assert stored is not None
    assert stored.master_key_id == "new"
    for gone in (shredded, never_keyed):
        with pytest.raises(KeyShredded):
            await rotating.for_scope(gone, namespace=None)


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
    key = await CaseKeys(master_keys=before, store=store).for_scope(the_scope, namespace=None)

    rotating = CaseKeys(master_keys=after, store=_ShredsDuringRotation(store, the_scope))
    await rotating.rotate_master()

    with pytest.raises(KeyShredded):
        await rotating.by_id(key.key_id, namespace=None)
    with pytest.raises(KeyShredded):
        await CaseKeys(master_keys=after, store=store).for_scope(the_scope, namespace=None)


# -- keys bound to a namespace (municipality) ----------------------------------------------

MALMO, ESKILSTUNA = "samverkan-malmo", "samverkan-eskilstuna"


async def test_a_key_is_bound_to_the_namespace_it_was_inserted_with(store: DataKeyStore) -> None:
    key = dataclasses.replace(live_key(scope()), namespace=MALMO)

    await store.insert(key)

    assert (await store.by_id(key.key_id)) == key
    assert (await store.claim(key.key_id, ESKILSTUNA)) == key, "a bound key is not claimed"


async def test_a_key_bound_to_no_namespace_is_claimed_once(store: DataKeyStore) -> None:
    key = live_key(scope())  # as made before keys were bound: namespace NULL
    await store.insert(key)

    first = await store.claim(key.key_id, ESKILSTUNA)
    second = await store.claim(key.key_id, MALMO)

    assert first is not None and first.namespace == ESKILSTUNA
    assert second is not None and second.namespace == ESKILSTUNA
    assert await store.claim(f"{scope()}.000000000000", MALMO) is None


async def test_a_case_key_is_never_handed_to_another_namespace(store: DataKeyStore) -> None:
    master = MasterKeys.parse(MasterKeys.generate_entry("m1"))
    the_scope = scope()
    malmo = await CaseKeys(master_keys=master, store=store).for_scope(the_scope, namespace=MALMO)

    for keys in (
        CaseKeys(master_keys=master, store=store),
        CaseKeys(master_keys=master, store=store),
    ):
        with pytest.raises(KeyOfAnotherNamespace) as by_scope_:
            await keys.for_scope(the_scope, namespace=ESKILSTUNA)
        with pytest.raises(KeyOfAnotherNamespace) as by_id_:
            await keys.by_id(malmo.key_id, namespace=ESKILSTUNA)
        for refused in (by_scope_.value, by_id_.value):
            assert (
                str(refused)
                == f"data key {malmo.key_id} of {the_scope} belongs to another namespace"
            )
    assert (
        await CaseKeys(master_keys=master, store=store).by_id(malmo.key_id, namespace=MALMO)
    ).key_id == malmo.key_id
    stored = await store.by_scope(the_scope)
    assert stored is not None and stored.namespace == MALMO


async def test_a_cached_key_is_not_handed_to_another_namespace(store: DataKeyStore) -> None:
    keys = CaseKeys(master_keys=MasterKeys.parse(MasterKeys.generate_entry("m1")), store=store)
    the_scope = scope()
    key = await keys.for_scope(the_scope, namespace=MALMO)  # cached in this process now

    with pytest.raises(KeyOfAnotherNamespace):
        await keys.for_scope(the_scope, namespace=ESKILSTUNA)
    with pytest.raises(KeyOfAnotherNamespace):
        await keys.by_id(key.key_id, namespace=ESKILSTUNA)
    assert (await keys.by_id(key.key_id, namespace=None)).key_id == key.key_id, "the region's"


async def test_a_legacy_key_is_claimed_by_the_first_namespace_and_refused_to_the_next(
    store: DataKeyStore,
) -> None:
    master = MasterKeys.parse(MasterKeys.generate_entry("m1"))
    the_scope = scope()
    legacy = await CaseKeys(master_keys=master, store=store).for_scope(the_scope, namespace=None)
    assert (await store.by_id(legacy.key_id)).namespace is None  # type: ignore[union-attr]

    first = await CaseKeys(master_keys=master, store=store).by_id(legacy.key_id, namespace=MALMO)
    with pytest.raises(KeyOfAnotherNamespace):
        await CaseKeys(master_keys=master, store=store).by_id(legacy.key_id, namespace=ESKILSTUNA)
    with pytest.raises(KeyOfAnotherNamespace):
        await CaseKeys(master_keys=master, store=store).for_scope(the_scope, namespace=ESKILSTUNA)

    assert first.key_id == legacy.key_id
    assert (await store.by_id(legacy.key_id)).namespace == MALMO  # type: ignore[union-attr]


async def test_a_reader_decodes_a_legacy_key_without_binding_it(store: DataKeyStore) -> None:
    """The codec endpoint's decode and replays read with ``claim=False``: an operator of one
    municipality decoding an old ciphertext, or a replay run with the wrong namespace, must
    not bind another municipality's key away from its own cases."""
    master = MasterKeys.parse(MasterKeys.generate_entry("m1"))
    legacy = await CaseKeys(master_keys=master, store=store).for_scope(scope(), namespace=None)
    keys = CaseKeys(master_keys=master, store=store)

    read = await keys.by_id(legacy.key_id, namespace=MALMO, claim=False)
    assert read.key_id == legacy.key_id
    assert (await store.by_id(legacy.key_id)).namespace is None  # type: ignore[union-attr]
    owned = await keys.by_id(legacy.key_id, namespace=ESKILSTUNA)  # its own case's worker
    assert owned.key_id == legacy.key_id
    assert (await store.by_id(legacy.key_id)).namespace == ESKILSTUNA  # type: ignore[union-attr]
    with pytest.raises(KeyOfAnotherNamespace):  # bound now: a reader of another is refused
        await keys.by_id(legacy.key_id, namespace=MALMO, claim=False)


async def test_the_codec_without_a_case_context_decodes_without_binding(
    store: DataKeyStore,
) -> None:
    from temporalio.api.common.v1 import Payload

    from infra.codec import EncryptionCodec

    master = MasterKeys.parse(MasterKeys.generate_entry("m1"))
    keys = CaseKeys(master_keys=master, store=store)
    legacy = await keys.for_scope(scope(), namespace=None)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    sealed = EncryptionCodec._seal(legacy, [plain])

    [decoded] = await EncryptionCodec(keys=keys, namespace=MALMO).decode(sealed)

    assert decoded.data == plain.data
    assert (await store.by_id(legacy.key_id)).namespace is None  # type: ignore[union-attr]


async def test_two_namespaces_racing_for_a_legacy_key_one_wins(store: DataKeyStore) -> None:
    master = MasterKeys.parse(MasterKeys.generate_entry("m1"))
    legacy = await CaseKeys(master_keys=master, store=store).for_scope(scope(), namespace=None)

    results = await asyncio.gather(
        *(
            CaseKeys(master_keys=master, store=store).by_id(legacy.key_id, namespace=ns)
            for ns in (MALMO, ESKILSTUNA, MALMO, ESKILSTUNA)
        ),
        return_exceptions=True,
    )

    winner = (await store.by_id(legacy.key_id)).namespace  # type: ignore[union-attr]
    assert winner in (MALMO, ESKILSTUNA)
    for ns, result in zip((MALMO, ESKILSTUNA, MALMO, ESKILSTUNA), results, strict=True):
        assert isinstance(result, KeyOfAnotherNamespace) == (ns != winner), (ns, result)


async def test_a_namespace_key_belongs_to_its_own_namespace_even_unclaimed(
    store: DataKeyStore,
) -> None:
    master = MasterKeys.parse(MasterKeys.generate_entry("m1"))
    own = namespace_scope(MALMO)
    await CaseKeys(master_keys=master, store=store).for_scope(own, namespace=None)

    with pytest.raises(KeyOfAnotherNamespace):
        await CaseKeys(master_keys=master, store=store).for_scope(own, namespace=ESKILSTUNA)
    assert (
        await CaseKeys(master_keys=master, store=store).for_scope(own, namespace=MALMO)
    ).scope == own


async def test_an_intake_key_adopts_only_into_a_case_of_its_namespace(store: DataKeyStore) -> None:
    keys = CaseKeys(master_keys=MasterKeys.parse(MasterKeys.generate_entry("m1")), store=store)
    malmos_case, new_case = scope(), scope()
    malmos_key = await keys.for_scope(malmos_case, namespace=MALMO)
    intake = await keys.new_intake(namespace=ESKILSTUNA)

    with pytest.raises(KeyOfAnotherNamespace) as refused:
        await keys.adopt(intake, malmos_case, namespace=ESKILSTUNA)
    with pytest.raises(KeyOfAnotherNamespace):
        await keys.adopt(intake, new_case, namespace=MALMO)  # the intake key is Eskilstuna's
    adopted = await keys.adopt(intake, new_case, namespace=ESKILSTUNA)

    assert refused.value.scope == malmos_case
    assert adopted.owner_scope == new_case
    assert (await store.by_id(intake.key_id)).namespace == ESKILSTUNA  # type: ignore[union-attr]
    assert (await store.by_scope(new_case)).namespace == ESKILSTUNA  # type: ignore[union-attr]
    untouched = await store.by_scope(malmos_case)
    assert untouched is not None and untouched.namespace == MALMO
    assert untouched.key_id == malmos_key.key_id
    assert [k.key_id for k in await store.shred_owned(malmos_case)] == []


async def test_bound_keys_shred_and_rotate_keeping_their_namespace(store: DataKeyStore) -> None:
    before, after = two_masters()
    kept, shredded = scope(), scope()
    keys = CaseKeys(master_keys=before, store=store)
    kept_key = await keys.for_scope(kept, namespace=MALMO)
    intake = await keys.new_intake(namespace=MALMO)
    await keys.adopt(intake, shredded, namespace=MALMO)
    await keys.shred(shredded)

    rotating = CaseKeys(master_keys=after, store=store)
    assert await rotating.rotate_master() == 1

    assert (await rotating.by_id(kept_key.key_id, namespace=MALMO)).namespace == MALMO
    with pytest.raises(KeyShredded):
        await rotating.by_id(intake.key_id, namespace=MALMO)
    with pytest.raises(KeyOfAnotherNamespace):
        await rotating.by_id(kept_key.key_id, namespace=ESKILSTUNA)
