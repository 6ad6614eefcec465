"""Test-only domain events and helpers for the event store's tests (independent of `cases/`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from cases.envelope import DomainEvent, Envelope, JsonDict, seal, upcaster


class StoreTestNoted(DomainEvent):
    """A note; the minimal event."""

    note: str


class StoreTestCounted(DomainEvent):
    """A counter, to check numbers survive JSONB."""

    count: int
    ratio: float = 0.5


class StoreTestRenamed(DomainEvent):
    """Version 2 renamed ``old_name`` to ``label``; version 1 rows are upcast on read."""

    schema_version: ClassVar[int] = 2
    label: str


@upcaster("StoreTestRenamed", 1)
def _renamed_v1_to_v2(data: JsonDict) -> JsonDict:
    data = dict(data)
    data["label"] = data.pop("old_name")
    return data


BASE_TIME = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def new_case_id() -> str:
    return f"2025-{uuid.uuid4().hex[:10]}"


def noted(case_id: str, version: int, note: str = "n", **overrides: Any) -> Envelope:
    envelope = seal(
        StoreTestNoted(note=note),
        event_id=uuid.uuid4(),
        case_id=case_id,
        version=version,
        occurred_at=BASE_TIME + timedelta(minutes=version),
        actor="officer-1",
    )
    return envelope.model_copy(update=overrides) if overrides else envelope


def batch(case_id: str, after: int, count: int) -> list[Envelope]:
    return [noted(case_id, after + i + 1, note=f"note {after + i + 1}") for i in range(count)]


def raw(case_id: str, version: int, type_: str, schema_version: int, data: JsonDict) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        case_id=case_id,
        version=version,
        type=type_,
        schema_version=schema_version,
        occurred_at=BASE_TIME,
        actor="officer-1",
        data=data,
    )
