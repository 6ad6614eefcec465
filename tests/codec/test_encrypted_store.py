"""Personal event fields at rest: ciphertext in PostgreSQL, plain through the store, markers
after shredding while the audit trail still reads and folds."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from pydantic import TypeAdapter

from cases import open_envelope
from cases.envelope import event_types
from eventstore import PostgresEventStore
from eventstore.encrypted import (
    REDACTED,
    EncryptingEventStore,
    PostgresPersonalDataVault,
    _placeholder,
)
from infra.keys import CaseKeys, case_scope
from tests.eventstore.case_streams import busy_case, envelopes

NAME = "Testperson Exempelsson"
PIN = "20120315-0004"


def _store(pool: asyncpg.Pool, keys: CaseKeys) -> EncryptingEventStore:
    return EncryptingEventStore(
        PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
    )


PERSONAL_FIELDS = sorted(
    (name, field) for name, cls in event_types().items() for field in cls.personal_fields
)


@pytest.mark.parametrize(("event_type", "field"), PERSONAL_FIELDS)
def test_every_personal_field_has_a_marker_its_type_accepts(event_type: str, field: str) -> None:
    # A marker the event model refuses makes every append of that event fail (a structured
    # or optional personal field needs its own marker, not the text one).
    annotation = event_types()[event_type].model_fields[field].annotation
    marker = _placeholder(event_type, field)
    TypeAdapter(annotation).validate_python(marker)
    assert marker is not None


async def _raw_dump(pool: asyncpg.Pool, case_number: str) -> str:
    events = await pool.fetchval(
        "SELECT string_agg(data::text, ' ') FROM events WHERE case_id = $1", case_number
    )
    vault = await pool.fetchval(
        "SELECT string_agg(encode(ciphertext, 'escape'), ' ') FROM event_personal_data "
        "WHERE case_id = $1",
        case_number,
    )
    return f"{events} {vault}"


async def test_personal_fields_are_ciphertext_at_rest_and_plain_through_the_store(
    pool: asyncpg.Pool, case_keys: CaseKeys
) -> None:
    case_number = f"E-{uuid.uuid4().hex[:8]}"
    batch = envelopes(case_number, busy_case(case_number))
    store = _store(pool, case_keys)

    await store.append(case_number, 0, batch)

    assert await store.read_case(case_number) == batch
    assert [
        r.envelope for r in await store.read_all(0, 10_000) if r.envelope.case_id == case_number
    ] == batch
    raw = await _raw_dump(pool, case_number)
    assert NAME not in raw and PIN not in raw
    assert "Teacher reports propaganda" not in raw
    stored = await PostgresEventStore(pool).read_case(case_number)
    for envelope in stored:
        open_envelope(envelope)  # every raw row still validates


async def test_a_retried_append_is_recognised_and_writes_nothing_twice(
    pool: asyncpg.Pool, case_keys: CaseKeys
) -> None:
    case_number = f"E-{uuid.uuid4().hex[:8]}"
    batch = envelopes(case_number, busy_case(case_number))
    store = _store(pool, case_keys)
    first = await store.append(case_number, 0, batch)
    vault_rows = await pool.fetchval(
        "SELECT count(*) FROM event_personal_data WHERE case_id = $1", case_number
    )

    retry = await store.append(case_number, 0, batch)

    assert retry.already_recorded and retry.positions == first.positions
    assert vault_rows == await pool.fetchval(
        "SELECT count(*) FROM event_personal_data WHERE case_id = $1", case_number
    )


async def test_after_shredding_personal_fields_read_as_markers_and_the_audit_trail_folds(
    pool: asyncpg.Pool, case_keys: CaseKeys
) -> None:
    case_number = f"E-{uuid.uuid4().hex[:8]}"
    batch = envelopes(case_number, busy_case(case_number))
    store = _store(pool, case_keys)
    await store.append(case_number, 0, batch)

    await case_keys.shred(case_scope(case_number))
    fresh = CaseKeys(master_keys=case_keys.master_keys, store=case_keys._store)
    after = await _store(pool, fresh).read_case(case_number)

    assert [e.type for e in after] == [e.type for e in batch]
    assert [(e.event_id, e.occurred_at, e.actor) for e in after] == [
        (e.event_id, e.occurred_at, e.actor) for e in batch
    ]
    report = after[0]
    assert report.data["subject"]["name"] == REDACTED and report.data["summary"] == REDACTED
    assert report.data["case_number"] == case_number
    text = " ".join(str(e.data) for e in after)
    assert NAME not in text and PIN not in text
    for envelope in after:
        open_envelope(envelope)
