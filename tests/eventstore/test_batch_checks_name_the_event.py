"""The event store's shared batch checks (`eventstore.store`) say which event of which case
is at fault, and a retry's result names its case.

The messages name the case, the event's place in the batch (counted from 1) and versions,
never a data value: they reach the activity's error and the operator's log.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cases import EventRejected
from eventstore import EventIdConflict, InvalidAppend
from eventstore.store import RecordedEvent, check_batch, resolve_retry
from tests.eventstore.store_testkit import batch, noted, raw

RECORDED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_an_event_of_another_case_is_named_by_its_place_in_the_batch() -> None:
    events = [*batch("A-1", 0, 2), noted("B-2", 3)]
    with pytest.raises(InvalidAppend) as refused:
        check_batch("A-1", 0, events)
    assert str(refused.value) == "case A-1: event 3 of the batch is for another case"


def test_an_event_out_of_sequence_is_named_by_its_place_and_both_versions() -> None:
    events = [noted("A-1", 5), noted("A-1", 7)]
    with pytest.raises(InvalidAppend) as refused:
        check_batch("A-1", 4, events)
    assert str(refused.value) == "case A-1: event 2 of the batch has version 7, expected 6"


def test_the_first_event_of_a_batch_is_event_1() -> None:
    with pytest.raises(InvalidAppend) as refused:
        check_batch("A-1", 0, [noted("A-1", 2)])
    assert str(refused.value) == "case A-1: event 1 of the batch has version 2, expected 1"


def test_an_unreadable_event_is_refused_by_default_naming_its_case_and_version() -> None:
    events = [noted("A-1", 1), raw("A-1", 2, "NoSuchEvent", 1, {})]
    with pytest.raises(EventRejected) as refused:
        check_batch("A-1", 0, events)
    assert str(refused.value).startswith("case A-1: event at version 2 refused: ")
    check_batch("A-1", 0, events, read_events=False)  # the caller read them already


def _recorded(position: int, envelope: object) -> RecordedEvent:
    return RecordedEvent(position=position, envelope=envelope, recorded_at=RECORDED_AT)  # type: ignore[arg-type]


def test_a_retry_of_the_whole_batch_answers_the_original_result_for_its_case() -> None:
    events = batch("A-1", 0, 2)
    result = resolve_retry("A-1", events, [_recorded(11, events[1]), _recorded(10, events[0])])
    assert result.case_id == "A-1"
    assert result.positions == (10, 11)
    assert result.last_version == 2
    assert result.already_recorded


def test_a_batch_recorded_only_in_part_names_the_first_missing_version() -> None:
    events = batch("A-1", 0, 3)
    with pytest.raises(EventIdConflict) as refused:
        resolve_retry("A-1", events, [_recorded(10, events[0])])
    assert str(refused.value) == (
        "case A-1: part of the batch is recorded already (version 2 is not); "
        "a retry must resend the same batch"
    )


def test_an_event_id_recorded_with_other_content_names_its_version() -> None:
    events = batch("A-1", 0, 2)
    changed = events[1].model_copy(update={"data": {"note": "changed"}})
    with pytest.raises(EventIdConflict) as refused:
        resolve_retry("A-1", events, [_recorded(10, events[0]), _recorded(11, changed)])
    assert str(refused.value) == (
        "case A-1: event id at version 2 is recorded already with other content"
    )
