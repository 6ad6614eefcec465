"""The event store's interface: `EventStore`, its result types and the checks every store shares.

Both stores (`PostgresEventStore`, `InMemoryEventStore`) run the same pure checks in the
same order, so they refuse the same requests with the same errors:

1. the batch is well formed (`check_batch`): at least one event, every envelope of this
   case, versions ``expected_version + 1 ..`` in order, no event id twice, and every envelope
   readable as a current domain event (`cases.open_envelope`: unknown types, schema versions
   from the future and malformed data are refused before anything is written);
2. if the batch's event ids are already recorded, the append is a retry: identical content
   returns the original result with ``already_recorded=True`` and writes nothing
   (`resolve_retry`), anything else is an `EventIdConflict`;
3. otherwise the case must be at ``expected_version``, else `WrongExpectedVersion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from uuid import UUID

from cases import Envelope, EventRejected, open_envelope

from .errors import EventIdConflict, InvalidAppend


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append recorded (or had recorded before, for a retry)."""

    case_id: str
    last_version: int
    positions: tuple[int, ...]
    already_recorded: bool = False

    @property
    def appended(self) -> int:
        """How many events the batch holds."""
        return len(self.positions)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An envelope with its place in the global order and the database's recording time."""

    position: int
    envelope: Envelope
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class SealedField:
    """One personal field of one event, encrypted (`eventstore.encrypted`): ``ciphertext`` is
    the nonce followed by the AES-GCM output under data key ``key_id``."""

    event_id: UUID
    field: str
    case_id: str
    key_id: str
    ciphertext: bytes


@runtime_checkable
class EventStore(Protocol):
    """Append-only store of case events with optimistic concurrency and a gap-free global order."""

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
    ) -> AppendResult:
        """Append ``envelopes`` to a case that is at ``expected_version`` (0 for a new case).

        ``validated=True`` says the caller has just read every one of these envelopes with
        `cases.open_envelope` (as `EncryptingEventStore` does); the store then skips only
        that reading, never the batch's structural checks.

        Raises:
            WrongExpectedVersion: the case is at another version.
            InvalidAppend: the batch is inconsistent; EventIdConflict for a reused event id.
            EventRejected: an envelope cannot be read as a domain event.
        """
        ...

    async def read_case(self, case_id: str, *, after_version: int = 0) -> list[Envelope]:
        """The case's envelopes after ``after_version``, in version order, as stored."""
        ...

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position`` in global order, with no holes."""
        ...

    async def last_position(self) -> int:
        """The global position of the last recorded event (0 when empty)."""
        ...

    async def case_version(self, case_id: str) -> int:
        """The case's last version (0 when it has no events)."""
        ...


def check_batch(
    case_id: str,
    expected_version: int,
    envelopes: Sequence[Envelope],
    *,
    read_events: bool = True,
) -> None:
    """Refuse an inconsistent batch or an envelope that cannot be read; pure, writes nothing.

    ``read_events=False`` skips reading the envelopes as domain events, for a caller that
    has just done so (`check_readable`); the structural checks always run.
    """
    if expected_version < 0:
        raise InvalidAppend(f"case {case_id}: expected version must be 0 or more")
    if not envelopes:
        raise InvalidAppend(f"case {case_id}: an append needs at least one event")
    seen: set[object] = set()
    for offset, envelope in enumerate(envelopes):
        want = expected_version + 1 + offset
        if envelope.case_id != case_id:
            raise InvalidAppend(
                f"case {case_id}: event {offset + 1} of the batch is for another case"
            )
        if envelope.version != want:
            raise InvalidAppend(
                f"case {case_id}: event {offset + 1} of the batch has version "
                f"{envelope.version}, expected {want}"
            )
        if envelope.event_id in seen:
            raise InvalidAppend(f"case {case_id}: event id at version {want} appears twice")
        seen.add(envelope.event_id)
    if read_events:
        check_readable(case_id, envelopes)


def check_readable(case_id: str, envelopes: Sequence[Envelope]) -> None:
    """Refuse an envelope that cannot be read as a current domain event (`EventRejected`)."""
    for envelope in envelopes:
        try:
            open_envelope(envelope)
        except EventRejected as exc:
            raise type(exc)(
                f"case {case_id}: event at version {envelope.version} refused: {exc}"
            ) from None


def resolve_retry(
    case_id: str, envelopes: Sequence[Envelope], recorded: Sequence[RecordedEvent]
) -> AppendResult:
    """The result of an append whose event ids are (some or all) recorded already.

    ``recorded`` holds the stored events with any of the batch's event ids. A retry of the
    identical batch gets the original result; anything else is an `EventIdConflict`.
    """
    by_id = {r.envelope.event_id: r for r in recorded}
    positions: list[int] = []
    for envelope in envelopes:
        stored = by_id.get(envelope.event_id)
        if stored is None:
            raise EventIdConflict(
                f"case {case_id}: part of the batch is recorded already (version "
                f"{envelope.version} is not); a retry must resend the same batch"
            )
        if stored.envelope != envelope:
            raise EventIdConflict(
                f"case {case_id}: event id at version {envelope.version} is recorded "
                "already with other content"
            )
        positions.append(stored.position)
    return AppendResult(
        case_id=case_id,
        last_version=envelopes[-1].version,
        positions=tuple(positions),
        already_recorded=True,
    )
