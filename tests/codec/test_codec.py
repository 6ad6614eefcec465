"""The payload codec: per-case keys by serialization context, no plaintext in history, shredding."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import WorkflowSerializationContext
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from infra.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeyShredded,
    key_id_of,
)
from infra.converter import data_converter
from infra.keys import CaseKeys, InMemoryDataKeyStore, KeyShredded, MasterKeys, case_scope
from tests.codec.probe import (
    CodecProbeChild,
    CodecProbeWorkflow,
    ProbeInput,
    ProbeResult,
    probe_echo,
)

NAME = "Alva Kristina Lindqvist"
PIN = "20110923-4482"


def _payloads(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            yield from _payloads(value)
            continue
        items = value.values() if hasattr(value, "values") else value
        for item in items:
            if isinstance(item, Message):
                yield from _payloads(item)


def _client(env: WorkflowEnvironment, codec: EncryptionCodec) -> Client:
    config = env.client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)


async def test_case_payloads_round_trip_and_raw_history_holds_no_personal_data(
    time_skipping_env: WorkflowEnvironment, case_keys: CaseKeys, task_queue: str
) -> None:
    codec = EncryptionCodec(keys=case_keys, namespace=time_skipping_env.client.namespace)
    client = _client(time_skipping_env, codec)
    case_number = f"2025-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CodecProbeWorkflow, CodecProbeChild],
        activities=[probe_echo],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            CodecProbeWorkflow.run,
            ProbeInput(name=NAME, personal_identity_number=PIN),
            id=f"case-{case_number}",
            task_queue=task_queue,
        )
        result = await handle.result()
        child_history = await client.get_workflow_handle(
            f"case-{case_number}:consultation-1"
        ).fetch_history()

    assert result == ProbeResult(greeting=f"hej {NAME}", child_said=f"consulted about {NAME}")
    case_key = await case_keys.for_scope(case_scope(case_number), namespace=None)
    for history in (await handle.fetch_history(), child_history):
        raw = history.to_json() + str(history)
        assert NAME not in raw and PIN not in raw
        assert NAME.encode() not in bytes(str(history), "utf-8")
        payloads = [p for e in history.events for p in _payloads(e)]
        assert payloads, "the history carries payloads"
        for payload in payloads:
            assert payload.metadata["encoding"] == ENCODING
            assert payload.metadata[KEY_ID_METADATA].decode() == case_key.key_id
            assert NAME.encode() not in payload.data and PIN.encode() not in payload.data


async def test_shredding_the_case_key_makes_its_history_unreadable_with_a_clear_error(
    time_skipping_env: WorkflowEnvironment, case_keys: CaseKeys, task_queue: str
) -> None:
    codec = EncryptionCodec(keys=case_keys, namespace=time_skipping_env.client.namespace)
    client = _client(time_skipping_env, codec)
    case_number = f"2025-{uuid.uuid4().hex[:6]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CodecProbeWorkflow, CodecProbeChild],
        activities=[probe_echo],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await client.start_workflow(
            CodecProbeWorkflow.run,
            ProbeInput(name=NAME, personal_identity_number=PIN),
            id=f"case-{case_number}",
            task_queue=task_queue,
        )
        await handle.result()

    await case_keys.shred(case_scope(case_number))

    # A fresh process (empty cache) and this one alike refuse to decode.
    fresh = CaseKeys(master_keys=case_keys.master_keys, store=case_keys._store)
    for keys in (case_keys, fresh):
        reader = _client(time_skipping_env, EncryptionCodec(keys=keys, namespace="default"))
        with pytest.raises(PayloadKeyShredded, match=f"case-{case_number}.*shredded"):
            await reader.get_workflow_handle(handle.id).result()
    # Nothing new is ever encrypted for a shredded case.
    with pytest.raises(KeyShredded):
        await case_keys.for_scope(case_scope(case_number), namespace=None)


async def test_payloads_without_a_case_use_the_namespace_key() -> None:
    keys = CaseKeys(
        master_keys=MasterKeys.parse(MasterKeys.generate_entry("k1")), store=InMemoryDataKeyStore()
    )
    codec = EncryptionCodec(keys=keys, namespace="default")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')

    no_context = await codec.encode([plain])
    other_workflow = await codec.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="nightly-report")
    ).encode([plain])
    consultation = await codec.with_context(
        WorkflowSerializationContext(namespace="default", workflow_id="case-7:consultation-2")
    ).encode([plain])

    assert key_id_of(no_context[0]) == key_id_of(other_workflow[0])
    assert key_id_of(no_context[0]).startswith("namespace.default.")
    assert key_id_of(consultation[0]).startswith("case-7.")
    assert await codec.decode(consultation) == [plain]
    assert await codec.decode([plain]) == [plain]  # unencrypted (old) payloads pass through


async def test_tampered_ciphertext_is_refused_without_echoing_content() -> None:
    keys = CaseKeys(
        master_keys=MasterKeys.parse(MasterKeys.generate_entry("k1")), store=InMemoryDataKeyStore()
    )
    codec = EncryptionCodec(keys=keys, namespace="default")
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"Alva"')])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])

    with pytest.raises(PayloadDecryptionError) as caught:
        await codec.decode([sealed])
    assert "Alva" not in str(caught.value)


async def test_master_key_rotation_rewraps_data_keys_and_old_ciphertexts_still_decode() -> None:
    store = InMemoryDataKeyStore()
    old_entry = MasterKeys.generate_entry("old")
    before = CaseKeys(master_keys=MasterKeys.parse(old_entry), store=store)
    codec = EncryptionCodec(keys=before, namespace="default", scope="case-9")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    sealed = await codec.encode([plain])

    new_entry = MasterKeys.generate_entry("new")
    after = CaseKeys(master_keys=MasterKeys.parse(f"{new_entry},{old_entry}"), store=store)
    assert await after.rotate_master() == 1
    assert {k.master_key_id for k in await store.all_live()} == {"new"}

    # Once every key is re-wrapped the old master key can be retired.
    new_only = CaseKeys(master_keys=MasterKeys.parse(new_entry), store=store)
    assert await EncryptionCodec(keys=new_only, namespace="default").decode(sealed) == [plain]


def test_master_key_configuration_errors_never_echo_key_material() -> None:
    from infra.keys import MasterKeyConfigError

    for bad in ["", "nokey", "k1:not-base64!!", "k1:" + "QUJD", "k 1:QUJD"]:
        with pytest.raises(MasterKeyConfigError) as caught:
            MasterKeys.parse(bad)
        assert "QUJD" not in str(caught.value) and "not-base64" not in str(caught.value)
