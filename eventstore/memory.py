"""`InMemoryEventStore`: the event store in a process's memory, for fast workflow tests.

It runs the same checks as `PostgresEventStore` (see `eventstore.store`) and passes the same
contract suite. Appends are serialised by one lock, so the global order has no holes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from cases import Envelope

from .errors import WrongExpectedVersion
from .store import AppendResult, RecordedEvent, check_batch, resolve_retry


class InMemoryEventStore:
    """An `EventStore` held in memory; lost with the process."""

    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._by_case: dict[str, list[RecordedEvent]] = {}
        self._by_event_id: dict[UUID, RecordedEvent] = {}
        self._lock = asyncio.Lock()

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
    ) -> AppendResult:
        """Append ``envelopes`` to a case at ``expected_version``; see `EventStore.append`."""
        check_batch(case_id, expected_version, envelopes, read_events=not validated)
        async with self._lock:
            recorded = [
                self._by_event_id[e.event_id] for e in envelopes if e.event_id in self._by_event_id
            ]
            if recorded:
                return resolve_retry(case_id, envelopes, recorded)
            current = len(self._by_case.get(case_id, ()))
            if current != expected_version:
                raise WrongExpectedVersion(case_id, expected_version, current)
            now = datetime.now(UTC)
            stream = self._by_case.setdefault(case_id, [])
            positions: list[int] = []
            for envelope in envelopes:
                event = RecordedEvent(
                    position=len(self._events) + 1, envelope=envelope, recorded_at=now
                )
                self._events.append(event)
                stream.append(event)
                self._by_event_id[envelope.event_id] = event
                positions.append(event.position)
            return AppendResult(
                case_id=case_id, last_version=envelopes[-1].version, positions=tuple(positions)
            )

    async def read_case(self, case_id: str, *, after_version: int = 0) -> list[Envelope]:
        """The case's envelopes after ``after_version``, in version order."""
        return [
            r.envelope for r in self._by_case.get(case_id, ()) if r.envelope.version > after_version
        ]

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position`` in global order."""
        start = max(after_position, 0)
        return self._events[start : start + max(limit, 0)]

    async def last_position(self) -> int:
        """The position of the last event (0 when empty)."""
        return len(self._events)

    async def case_version(self, case_id: str) -> int:
        """The case's last version (0 when it has no events)."""
        return len(self._by_case.get(case_id, ()))
