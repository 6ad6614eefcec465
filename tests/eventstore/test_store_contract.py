"""The event store's contract: every behaviour here holds for both the in-memory and PostgreSQL
stores."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cases.envelope import FutureSchemaVersion, MalformedEvent, UnknownEventType, open_envelope
from eventstore import EventIdConflict, EventStore, InvalidAppend, WrongExpectedVersion
from tests.eventstore.store_testkit import (
    StoreTestCounted,
    StoreTestRenamed,
    batch,
    new_case_id,
    noted,
    raw,
)


async def test_appending_to_a_new_case_records_events_in_version_order(store: EventStore) -> None:
    case_id = new_case_id()
    envelopes = batch(case_id, 0, 3)

    result = await store.append(case_id, 0, envelopes)

    assert result.case_id == case_id
    assert result.last_version == 3
    assert result.appended == 3
    assert not result.already_recorded
    assert list(result.positions) == sorted(result.positions)
    assert await store.read_case(case_id) == envelopes
    assert await store.case_version(case_id) == 3


async def test_appends_continue_from_the_expected_version(store: EventStore) -> None:
    case_id = new_case_id()
    first = batch(case_id, 0, 2)
    second = batch(case_id, 2, 3)
    await store.append(case_id, 0, first)

    result = await store.append(case_id, 2, second)

    assert result.last_version == 5
    assert await store.read_case(case_id) == first + second
    assert await store.read_case(case_id, after_version=3) == second[1:]


async def test_a_stale_expected_version_is_refused_and_writes_nothing(store: EventStore) -> None:
    case_id = new_case_id()
    await store.append(case_id, 0, batch(case_id, 0, 2))
    before = await store.last_position()

    with pytest.raises(WrongExpectedVersion) as caught:
        await store.append(case_id, 1, [noted(case_id, 2)])

    assert caught.value.expected_version == 1
    assert caught.value.actual_version == 2
    assert await store.last_position() == before
    assert await store.case_version(case_id) == 2


async def test_an_expected_version_ahead_of_the_case_is_refused(store: EventStore) -> None:
    case_id = new_case_id()

    with pytest.raises(WrongExpectedVersion):
        await store.append(case_id, 3, [noted(case_id, 4)])

    assert await store.read_case(case_id) == []


async def test_a_retried_identical_append_returns_the_same_result_and_writes_nothing(
    store: EventStore,
) -> None:
    case_id = new_case_id()
    envelopes = batch(case_id, 0, 3)
    first = await store.append(case_id, 0, envelopes)
    await store.append(case_id, 3, batch(case_id, 3, 1))
    before = await store.last_position()

    retried = await store.append(case_id, 0, envelopes)

    assert retried.already_recorded
    assert retried.positions == first.positions
    assert retried.last_version == first.last_version
    assert await store.last_position() == before
    assert len(await store.read_case(case_id)) == 4


async def test_a_reused_event_id_with_other_content_is_a_conflict(store: EventStore) -> None:
    case_id = new_case_id()
    original = noted(case_id, 1, note="first")
    await store.append(case_id, 0, [original])

    with pytest.raises(EventIdConflict) as caught:
        await store.append(
            case_id, 0, [noted(case_id, 1, note="secret-ssn", event_id=original.event_id)]
        )

    assert "secret-ssn" not in str(caught.value)
    assert await store.read_case(case_id) == [original]


async def test_a_batch_recorded_only_in_part_is_a_conflict(store: EventStore) -> None:
    case_id = new_case_id()
    envelopes = batch(case_id, 0, 2)
    await store.append(case_id, 0, envelopes[:1])

    with pytest.raises(EventIdConflict):
        await store.append(case_id, 0, envelopes)

    assert await store.case_version(case_id) == 1


@pytest.mark.parametrize(
    ("type_", "schema_version", "data", "error"),
    [
        ("NoSuchEventType", 1, {"note": "x"}, UnknownEventType),
        ("StoreTestNoted", 9, {"note": "x"}, FutureSchemaVersion),
        ("StoreTestNoted", 1, {"note": 12345}, MalformedEvent),
        ("StoreTestNoted", 1, {"note": "x", "personnummer": "19121212-1212"}, MalformedEvent),
    ],
)
async def test_an_unreadable_event_is_refused_and_nothing_of_its_batch_is_written(
    store: EventStore, type_: str, schema_version: int, data: dict[str, object], error: type
) -> None:
    case_id = new_case_id()
    before = await store.last_position()
    good = noted(case_id, 1)
    bad = raw(case_id, 2, type_, schema_version, data)

    with pytest.raises(error) as caught:
        await store.append(case_id, 0, [good, bad])

    assert "version 2" in str(caught.value)
    assert "19121212" not in str(caught.value)
    assert "12345" not in str(caught.value)
    assert await store.read_case(case_id) == []
    assert await store.last_position() == before


async def test_inconsistent_batches_are_refused(store: EventStore) -> None:
    case_id = new_case_id()
    one = noted(case_id, 1)
    with pytest.raises(InvalidAppend, match="at least one"):
        await store.append(case_id, 0, [])
    with pytest.raises(InvalidAppend, match="another case"):
        await store.append(case_id, 0, [noted(new_case_id(), 1)])
    with pytest.raises(InvalidAppend, match="expected 1"):
        await store.append(case_id, 0, [noted(case_id, 2)])
    with pytest.raises(InvalidAppend, match="appears twice"):
        await store.append(case_id, 0, [one, noted(case_id, 2, event_id=one.event_id)])
    with pytest.raises(InvalidAppend, match="0 or more"):
        await store.append(case_id, -1, [one])
    assert await store.read_case(case_id) == []


async def test_read_all_returns_every_case_in_global_order(store: EventStore) -> None:
    start = await store.last_position()
    a, b = new_case_id(), new_case_id()
    await store.append(a, 0, batch(a, 0, 2))
    await store.append(b, 0, batch(b, 0, 3))
    await store.append(a, 2, batch(a, 2, 1))

    recorded = await store.read_all(start, 100)

    assert [(r.envelope.case_id, r.envelope.version) for r in recorded] == [
        (a, 1), (a, 2), (b, 1), (b, 2), (b, 3), (a, 3),
    ]  # fmt: skip
    positions = [r.position for r in recorded]
    assert positions == sorted(set(positions))
    assert await store.last_position() == positions[-1]
    assert all(r.recorded_at.tzinfo is not None for r in recorded)
    page = await store.read_all(positions[1], 2)
    assert [r.position for r in page] == positions[2:4]
    assert await store.read_all(positions[-1], 10) == []


async def test_old_schema_versions_are_stored_as_written_and_upcast_on_read(
    store: EventStore,
) -> None:
    case_id = new_case_id()
    old = raw(case_id, 1, "StoreTestRenamed", 1, {"old_name": "kept"})

    await store.append(case_id, 0, [old])

    (stored,) = await store.read_case(case_id)
    assert stored.schema_version == 1
    assert stored.data == {"old_name": "kept"}
    assert open_envelope(stored) == StoreTestRenamed(label="kept")


async def test_event_data_survives_the_round_trip(store: EventStore) -> None:
    case_id = new_case_id()
    envelope = raw(case_id, 1, "StoreTestCounted", 1, {"count": 2**40, "ratio": 0.1})
    note = noted(case_id, 2, note='Åsa i Göteborg — "citat" \\ ✓')

    await store.append(case_id, 0, [envelope, note])

    assert await store.read_case(case_id) == [envelope, note]
    assert open_envelope(envelope) == StoreTestCounted(count=2**40, ratio=0.1)


async def test_concurrent_writers_on_one_case_exactly_one_wins(store: EventStore) -> None:
    case_id = new_case_id()
    attempts = [[noted(case_id, 1, note=f"writer {i}")] for i in range(6)]

    outcomes = await asyncio.gather(
        *(store.append(case_id, 0, envelopes) for envelopes in attempts), return_exceptions=True
    )

    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, WrongExpectedVersion) for o in losers)
    assert len(await store.read_case(case_id)) == 1


async def test_concurrent_retries_of_one_append_write_it_once(store: EventStore) -> None:
    case_id = new_case_id()
    envelopes = batch(case_id, 0, 2)

    outcomes = await asyncio.gather(*(store.append(case_id, 0, envelopes) for _ in range(4)))

    assert len({o.positions for o in outcomes}) == 1
    assert sum(not o.already_recorded for o in outcomes) == 1
    assert await store.read_case(case_id) == envelopes


async def test_an_unknown_case_reads_as_empty(store: EventStore) -> None:
    case_id = f"unknown-{uuid.uuid4().hex[:8]}"
    assert await store.read_case(case_id) == []
    assert await store.case_version(case_id) == 0


async def test_a_batch_said_to_be_validated_still_gets_the_structural_checks(
    store: EventStore,
) -> None:
    case_id = new_case_id()

    with pytest.raises(InvalidAppend):
        await store.append(case_id, 0, [noted(case_id, 2)], validated=True)

    assert await store.read_case(case_id) == []


async def test_a_copy_of_a_sealed_envelope_is_read_again_before_it_is_stored(
    store: EventStore,
) -> None:
    case_id = new_case_id()
    copied = noted(case_id, 1, data={"note": 12345})  # sealed, then copied with other data

    with pytest.raises(MalformedEvent):
        await store.append(case_id, 0, [copied])

    assert await store.read_case(case_id) == []
