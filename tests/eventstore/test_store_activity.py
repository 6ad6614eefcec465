"""The event store's activities, run in Temporal's ActivityEnvironment."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.eventstore import (
    AppendEventsRequest,
    EventStoreActivities,
    ReadCaseEventsRequest,
)
from eventstore import InMemoryEventStore, PostgresEventStore
from tests.eventstore.store_testkit import batch, new_case_id, noted, raw


async def test_append_events_records_the_batch_and_a_retry_writes_nothing(
    pool: asyncpg.Pool,
) -> None:
    activities = EventStoreActivities(PostgresEventStore(pool))
    env = ActivityEnvironment()
    case_id = new_case_id()
    request = AppendEventsRequest(
        case_id=case_id, expected_version=0, envelopes=batch(case_id, 0, 3)
    )

    first = await env.run(activities.append_events, request)
    retried = await env.run(activities.append_events, request)

    assert (first.last_version, first.appended, first.already_recorded) == (3, 3, False)
    assert retried.already_recorded
    assert retried.positions == first.positions
    read = await env.run(activities.read_case_events, ReadCaseEventsRequest(case_id=case_id))
    assert read.envelopes == request.envelopes


async def test_a_version_conflict_is_a_non_retryable_wrong_expected_version() -> None:
    activities = EventStoreActivities(InMemoryEventStore())
    env = ActivityEnvironment()
    case_id = new_case_id()
    await env.run(
        activities.append_events,
        AppendEventsRequest(case_id=case_id, expected_version=0, envelopes=[noted(case_id, 1)]),
    )

    with pytest.raises(ApplicationError) as caught:
        await env.run(
            activities.append_events,
            AppendEventsRequest(case_id=case_id, expected_version=0, envelopes=[noted(case_id, 1)]),
        )

    assert caught.value.type == "WrongExpectedVersion"
    assert caught.value.non_retryable
    assert caught.value.details == ({"expected_version": 0, "actual_version": 1},)


async def test_an_unreadable_event_is_a_non_retryable_event_rejected() -> None:
    activities = EventStoreActivities(InMemoryEventStore())
    case_id = new_case_id()
    request = AppendEventsRequest(
        case_id=case_id,
        expected_version=0,
        envelopes=[raw(case_id, 1, "StoreTestNoted", 1, {"note": ["19121212-1212"]})],
    )

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.append_events, request)

    assert caught.value.type == "EventRejected"
    assert caught.value.non_retryable
    assert caught.value.details == ({"code": "malformed_event"},)
    assert "19121212" not in str(caught.value)


async def test_an_inconsistent_batch_is_a_non_retryable_invalid_append() -> None:
    activities = EventStoreActivities(InMemoryEventStore())
    case_id = new_case_id()
    request = AppendEventsRequest(
        case_id=case_id, expected_version=0, envelopes=[noted(case_id, 2)]
    )

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.append_events, request)

    assert caught.value.type == "InvalidAppend"
    assert caught.value.non_retryable


async def test_a_database_that_is_down_is_a_retryable_error_and_the_retry_appends_once(
    migrated_url: str, pool: asyncpg.Pool
) -> None:
    parts = urlsplit(migrated_url)
    down_url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:9"))
    down_pool = await asyncpg.create_pool(down_url, min_size=0, max_size=1)
    case_id = new_case_id()
    request = AppendEventsRequest(
        case_id=case_id, expected_version=0, envelopes=batch(case_id, 0, 2)
    )
    try:
        with pytest.raises(OSError) as caught:
            await ActivityEnvironment().run(
                EventStoreActivities(PostgresEventStore(down_pool)).append_events, request
            )
        assert not isinstance(caught.value, ApplicationError)  # so Temporal retries it
    finally:
        await down_pool.close()

    result = await ActivityEnvironment().run(
        EventStoreActivities(PostgresEventStore(pool)).append_events, request
    )

    assert (result.appended, result.already_recorded) == (2, False)
    assert await PostgresEventStore(pool).read_case(case_id) == request.envelopes
