"""`EncryptingEventStore.append`: each envelope is read as a domain event once, a marker
that would not read refuses the batch before anything is written, and what the vault
holds is each personal field's compact JSON, sealed under the case's key for its event
and field.

Reading an envelope (`cases.open_envelope`) is the expensive part of an append's checks:
the plain batch is read once, of the redacted batch only the envelopes whose personal
fields were replaced by markers, and the inner store is told the batch is validated.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

import eventstore.encrypted as encrypted
import eventstore.store as store_module
from cases import Envelope, EventRejected
from cases.envelope import event_types
from eventstore import EventStore, InMemoryEventStore, PostgresEventStore
from eventstore.encrypted import (
    REDACTED,
    EncryptingEventStore,
    InMemoryPersonalDataVault,
    PersonalDataVault,
    PostgresPersonalDataVault,
    SealedField,
)
from infra.keys import CaseKeys, MasterKeys, PostgresDataKeyStore
from tests.eventstore.case_streams import busy_case, envelopes


def _keys(pool: asyncpg.Pool) -> CaseKeys:
    return CaseKeys(
        master_keys=MasterKeys.parse(MasterKeys.generate_entry("m1")),
        store=PostgresDataKeyStore(pool),
    )


def _new_case() -> tuple[str, list[Envelope]]:
    number = f"E-{uuid.uuid4().hex[:8]}"
    return number, envelopes(number, busy_case(number))


def _with_personal_fields(batch: list[Envelope]) -> int:
    return sum(1 for e in batch if event_types()[e.type].personal_fields & e.data.keys())


def _compositions(pool: asyncpg.Pool) -> dict[str, tuple[EventStore, PersonalDataVault]]:
    return {
        "one transaction": (PostgresEventStore(pool), PostgresPersonalDataVault(pool)),
        "vault first": (InMemoryEventStore(), InMemoryPersonalDataVault()),
    }


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[uuid.UUID]]:
    """How often each event id was read as a domain event by the store's checks."""
    counted: Counter[uuid.UUID] = Counter()
    original = store_module.open_envelope

    def counting(envelope: Envelope) -> Any:
        counted[envelope.event_id] += 1
        return original(envelope)

    monkeypatch.setattr(store_module, "open_envelope", counting)
    yield counted


async def test_read_all_with_no_arguments_starts_at_the_first_position(
    pool: asyncpg.Pool,
) -> None:
    # first in this module: its database is fresh, so the first event is position 1
    inner, vault = _compositions(pool)["one transaction"]
    store = EncryptingEventStore(inner, keys=_keys(pool), vault=vault)
    number, batch = _new_case()
    await store.append(number, 0, batch)
    first = await store.read_all(0, 1000)
    assert first[0].position == 1
    assert await store.read_all() == first
    assert [r.envelope for r in first] == batch  # every personal field read back


@pytest.mark.parametrize("composition", ["one transaction", "vault first"])
async def test_each_envelope_is_read_once_plain_and_once_more_only_if_redacted(
    pool: asyncpg.Pool, reads: Counter[uuid.UUID], composition: str
) -> None:
    inner, vault = _compositions(pool)[composition]
    store = EncryptingEventStore(inner, keys=_keys(pool), vault=vault)
    number, batch = _new_case()
    redacted = _with_personal_fields(batch)
    assert 0 < redacted < len(batch)

    await store.append(number, 0, batch)

    assert sum(reads.values()) == len(batch) + redacted
    assert await store.read_case(number) == batch


@pytest.mark.parametrize("composition", ["one transaction", "vault first"])
async def test_a_batch_the_caller_read_already_is_read_only_where_redacted(
    pool: asyncpg.Pool, reads: Counter[uuid.UUID], composition: str
) -> None:
    inner, vault = _compositions(pool)[composition]
    store = EncryptingEventStore(inner, keys=_keys(pool), vault=vault)
    number, batch = _new_case()

    await store.append(number, 0, batch, validated=True)

    assert sum(reads.values()) == _with_personal_fields(batch)


async def test_the_postgres_store_skips_reading_a_batch_read_already(
    pool: asyncpg.Pool, reads: Counter[uuid.UUID]
) -> None:
    number, batch = _new_case()
    await PostgresEventStore(pool).append(number, 0, batch, validated=True)
    assert sum(reads.values()) == 0
    number, batch = _new_case()
    await PostgresEventStore(pool).append(number, 0, batch)
    assert sum(reads.values()) == len(batch)


@pytest.mark.parametrize("composition", ["one transaction", "vault first"])
async def test_a_marker_that_would_not_read_refuses_the_batch_before_anything_is_written(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, composition: str
) -> None:
    monkeypatch.setattr(encrypted, "_placeholder", lambda event_type, field: 12345)
    inner, vault = _compositions(pool)[composition]
    store = EncryptingEventStore(inner, keys=_keys(pool), vault=vault)
    number, batch = _new_case()
    with pytest.raises(EventRejected) as refused:
        await store.append(number, 0, batch)
    assert str(refused.value).startswith(f"case {number}: event at version 1 refused: ")
    assert "Testperson" not in str(refused.value)
    assert await inner.case_version(number) == 0
    assert await vault.get([e.event_id for e in batch]) == []


async def test_the_vault_reads_back_each_sealed_field_as_it_was_put(pool: asyncpg.Pool) -> None:
    vault = PostgresPersonalDataVault(pool)
    keys = _keys(pool)
    first = await keys.for_scope(f"case-V-{uuid.uuid4().hex[:6]}", namespace=None)
    second = await keys.for_scope(f"case-V-{uuid.uuid4().hex[:6]}", namespace=None)
    event_id = uuid.uuid4()
    sealed = [
        SealedField(event_id, "summary", "V-1", first.key_id, b"\x01" * 40),
        SealedField(event_id, "subject", "V-1", first.key_id, b"\x02" * 40),
    ]
    await vault.put(sealed)
    await vault.put([SealedField(event_id, "summary", "V-1", second.key_id, b"\x03" * 40)])
    found = await vault.get([event_id, uuid.uuid4()])
    assert sorted(found, key=lambda f: f.field) == sorted(sealed, key=lambda f: f.field)
    assert await vault.get([]) == []


async def test_a_tampered_field_keeps_its_marker_and_is_logged_by_key_id_only(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    inner, vault = _compositions(pool)["one transaction"]
    store = EncryptingEventStore(inner, keys=_keys(pool), vault=vault)
    number, batch = _new_case()
    await store.append(number, 0, batch)
    report = batch[0]
    await pool.execute(
        "UPDATE event_personal_data SET ciphertext = ciphertext || '\\x00'::bytea "
        "WHERE event_id = $1 AND field = 'summary'",
        report.event_id,
    )
    [key_id] = {f.key_id for f in await vault.get([report.event_id])}

    with caplog.at_level(logging.WARNING, logger="eventstore.encrypted"):
        read = (await store.read_case(number))[0]

    assert read.data["summary"] == REDACTED
    assert read.data["subject"] == report.data["subject"]
    [warning] = [r for r in caplog.records if r.name == "eventstore.encrypted"]
    assert warning.levelno == logging.WARNING
    assert warning.getMessage() == "personal field does not decrypt"
    assert warning.__dict__["key_id"] == key_id
    assert report.data["summary"] not in caplog.text


async def test_the_vault_holds_each_field_as_compact_json_sealed_for_its_event_and_field(
    pool: asyncpg.Pool,
) -> None:
    """At rest: nonce (12 bytes), then AES-256-GCM of the value's JSON without spaces,
    associated data ``<event id>:<field>``, under the data key of scope ``case-<case>``."""
    keys = _keys(pool)
    vault = PostgresPersonalDataVault(pool)
    store = EncryptingEventStore(PostgresEventStore(pool), keys=keys, vault=vault)
    number, batch = _new_case()
    await store.append(number, 0, batch)
    report = batch[0]
    sealed = {f.field: f for f in await vault.get([report.event_id])}
    assert set(sealed) == {"subject", "summary"}
    key = await keys.for_scope(f"case-{number}", namespace=None)
    for field, row in sealed.items():
        assert (row.case_id, row.key_id) == (number, key.key_id)
        plain = key.aead.decrypt(
            row.ciphertext[:12], row.ciphertext[12:], f"{report.event_id}:{field}".encode()
        )
        assert plain == json.dumps(report.data[field], separators=(",", ":")).encode()
