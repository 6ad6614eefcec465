"""The codec's per-scope cache and the decode-only codec the replayer uses.

The SDK asks the data converter for a context-bound copy for every payload; these tests pin
that a case's context always yields the same codec and converter (so nothing is rebuilt per
payload), that a cached codec still encrypts under its own case's key only, and that the
replayer's decode-only codec decrypts what the worker stored but encrypts nothing.
"""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from infra.codec import (
    KEY_ID_METADATA,
    DecodeOnlyCodec,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeyShredded,
    decode_only,
    is_encrypted,
    key_id_of,
)
from infra.converter import LRUCache, ScopedDataConverter, data_converter
from infra.keys import CaseKeys, InMemoryDataKeyStore, MasterKeys, case_scope

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name": "Alva Lindqvist"}')


def _keys() -> CaseKeys:
    return CaseKeys(
        master_keys=MasterKeys.parse(MasterKeys.generate_entry("k1")),
        store=InMemoryDataKeyStore(),
    )


def _workflow(workflow_id: str, namespace: str = "default") -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace=namespace, workflow_id=workflow_id)


def _activity(workflow_id: str) -> ActivitySerializationContext:
    return ActivitySerializationContext(
        namespace="default",
        workflow_id=workflow_id,
        workflow_type="CaseWorkflow",
        activity_type="append_events",
        activity_id="1",
        activity_task_queue="q",
        is_local=False,
    )


def test_the_same_case_gets_the_same_codec_and_another_case_another() -> None:
    codec = EncryptionCodec(keys=_keys(), namespace="default")

    first = codec.with_context(_workflow("case-7"))
    assert codec.with_context(_workflow("case-7")) is first
    assert codec.with_context(_activity("case-7")) is first
    assert codec.with_context(_workflow("case-7:consultation-2")) is first
    assert first.with_context(_workflow("case-7")) is first  # copies share the cache
    other = codec.with_context(_workflow("case-8"))
    assert other is not first
    assert (first.scope, other.scope) == (case_scope("7"), case_scope("8"))
    assert first.with_context(_workflow("case-8")) is other
    # No case: the namespace's key, which is what the root codec already encrypts with.
    assert codec.with_context(_workflow("nightly-report")) is codec
    assert first.with_context(_workflow("nightly-report")) is codec
    elsewhere = codec.with_context(_workflow("nightly-report", namespace="other"))
    assert elsewhere is not codec and elsewhere.scope == "namespace:other"


async def test_a_cached_codec_encrypts_under_its_own_case_key_only() -> None:
    keys = _keys()
    codec = EncryptionCodec(keys=keys, namespace="default")
    case_7 = codec.with_context(_workflow("case-7"))
    case_8 = codec.with_context(_workflow("case-8"))

    for _ in range(2):  # the second time through the cache
        [sealed] = await codec.with_context(_activity("case-7")).encode([PLAIN])
        assert is_encrypted(sealed) and b"Alva" not in sealed.data
        assert key_id_of(sealed) == (await keys.for_scope(case_scope("7"), namespace=None)).key_id
        assert await case_8.decode([sealed]) == [PLAIN]  # decoding follows the key id
    [other] = await case_8.encode([PLAIN])
    assert key_id_of(other) == (await keys.for_scope(case_scope("8"), namespace=None)).key_id
    assert key_id_of(other) != key_id_of(sealed)
    assert sealed.data[:12] != other.data[:12]  # a fresh nonce per payload

    # Labelled with case 8's key, case 7's ciphertext does not decrypt.
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[KEY_ID_METADATA] = other.metadata[KEY_ID_METADATA]
    with pytest.raises(PayloadDecryptionError):
        await case_7.decode([relabelled])


async def test_the_cache_is_bounded_and_an_evicted_scope_still_gets_its_key() -> None:
    keys = _keys()
    codec = EncryptionCodec(keys=keys, namespace="default", cache_size=2)
    first = codec.with_context(_workflow("case-1"))
    codec.with_context(_workflow("case-2"))
    codec.with_context(_workflow("case-3"))  # case-1 is the least recently used: evicted

    assert len(codec._copies) == 2
    again = codec.with_context(_workflow("case-1"))
    assert again is not first and again.scope == case_scope("1")
    [sealed] = await again.encode([PLAIN])
    assert key_id_of(sealed) == (await keys.for_scope(case_scope("1"), namespace=None)).key_id


async def test_unwrapped_keys_are_bounded_and_an_evicted_case_reads_its_key_again() -> None:
    store = InMemoryDataKeyStore()
    keys = CaseKeys(
        master_keys=MasterKeys.parse(MasterKeys.generate_entry("k1")), store=store, cache_size=3
    )
    first = await keys.for_scope(case_scope("1"), namespace=None)
    for n in range(2, 10):  # a worker that has seen many cases since
        await keys.for_scope(case_scope(str(n)), namespace=None)

    assert len(keys._by_id) == 3 and len(keys._scope_ids) == 3
    again = await keys.for_scope(
        case_scope("1"), namespace=None
    )  # read from the store, not a new key
    assert again.key_id == first.key_id and again is not first
    by_id = await keys.by_id(first.key_id, namespace=None)
    assert by_id.key_id == first.key_id


def test_lru_cache_keeps_the_most_recently_used() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert len(cache) == 2
    assert cache.pop("a") == 1 and cache.pop("a") is None and len(cache) == 1
    with pytest.raises(ValueError):
        LRUCache(0)


async def test_the_data_converter_is_copied_once_per_case() -> None:
    keys = _keys()
    codec = EncryptionCodec(keys=keys, namespace="default")
    converter = data_converter(codec)
    assert isinstance(converter, ScopedDataConverter)

    case_7 = converter.with_context(_workflow("case-7"))
    assert converter.with_context(_activity("case-7:consultation-1")) is case_7
    assert case_7.with_context(_workflow("case-7")) is case_7
    assert case_7.payload_codec is codec.with_context(_workflow("case-7"))
    assert case_7.payload_converter is converter.payload_converter
    case_8 = converter.with_context(_workflow("case-8"))
    assert case_8 is not case_7 and case_7.with_context(_workflow("case-8")) is case_8
    assert converter.with_context(_workflow("nightly-report")) is converter
    # Another converter on the same codec has a cache of its own.
    assert data_converter(codec).with_context(_workflow("case-7")) is not case_7

    [sealed] = await case_7.encode(["Alva"])
    assert key_id_of(sealed) == (await keys.for_scope(case_scope("7"), namespace=None)).key_id
    assert await case_8.decode([sealed], [str]) == ["Alva"]


async def test_decode_only_codec_decrypts_and_encodes_nothing() -> None:
    keys = _keys()
    codec = EncryptionCodec(keys=keys, namespace="default")
    [sealed] = await codec.with_context(_workflow("case-7")).encode([PLAIN])
    replaying = decode_only(codec)

    assert isinstance(replaying, DecodeOnlyCodec) and replaying.inner is codec
    assert decode_only(replaying) is replaying
    assert await replaying.encode([PLAIN]) == [PLAIN]
    assert not is_encrypted((await replaying.encode([PLAIN]))[0])
    assert await replaying.decode([sealed, PLAIN]) == [PLAIN, PLAIN]

    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError):
        await replaying.decode([tampered])
    await keys.shred(case_scope("7"))
    with pytest.raises(PayloadKeyShredded):
        await replaying.decode([sealed])


async def test_a_decode_only_converter_needs_no_copy_per_context() -> None:
    codec = EncryptionCodec(keys=_keys(), namespace="default")
    [sealed] = await data_converter(codec).with_context(_workflow("case-7")).encode(["Alva"])
    converter = data_converter(decode_only(codec))

    assert not isinstance(converter.payload_codec, WithSerializationContext)
    assert converter.with_context(_workflow("case-7")) is converter
    assert await converter.decode([sealed], [str]) == ["Alva"]
    [plain] = await converter.encode(["Alva"])
    assert plain.metadata["encoding"] == b"json/plain"
