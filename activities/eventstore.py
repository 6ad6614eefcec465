"""Activities over the event store: ``append_events`` (the workflows' only write path) and
``read_case_events`` (used by ``samverkan verify``).

Failure handling, as the workflow's retry policy expects it:

- a version conflict is `ApplicationError(type="WrongExpectedVersion", non_retryable=True)`;
- an event that cannot be read as a domain event is ``type="EventRejected"``, an
  inconsistent batch ``type="InvalidAppend"`` (or ``"EventIdConflict"``), both non-retryable;
- a case key bound to another namespace (municipality) is ``type="KeyOfAnotherNamespace"``,
  non-retryable: an encrypting store is bound to the activity's workflow namespace, so a
  namespace never seals or opens another's case (the case workflow refuses such a start
  before any append; this is the store's own guard);
- anything else (a lost connection, a database that is down) propagates unchanged and is
  retried with backoff. A retry is harmless: the append is idempotent on event ids, so a
  batch whose commit was acknowledged too late is found and reported as already recorded.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cases import Envelope, EventRejected
from eventstore import EventStore, InvalidAppend, WrongExpectedVersion
from eventstore.encrypted import EncryptingEventStore
from infra.keys import KeyOfAnotherNamespace


class AppendEventsRequest(BaseModel):
    """Append ``envelopes`` (versions ``expected_version + 1 ..``) to case ``case_id``."""

    model_config = ConfigDict(frozen=True)

    case_id: str = Field(min_length=1, max_length=64)
    expected_version: int = Field(ge=0)
    envelopes: list[Envelope]


class AppendEventsResult(BaseModel):
    """What the append recorded; ``already_recorded`` when it was a retry of a recorded batch."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    last_version: int
    positions: list[int]
    appended: int
    already_recorded: bool


class ReadCaseEventsRequest(BaseModel):
    """Read every event of case ``case_id``."""

    model_config = ConfigDict(frozen=True)

    case_id: str = Field(min_length=1, max_length=64)


class ReadCaseEventsResult(BaseModel):
    """A case's envelopes in version order, as stored (callers upcast with ``open_envelope``)."""

    model_config = ConfigDict(frozen=True)

    case_id: str
    envelopes: list[Envelope]


class EventStoreActivities:
    """The event store's activities, bound to one `EventStore`."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def _store_of_namespace(self) -> EventStore:
        """The store, an encrypting one bound to this activity's workflow namespace."""
        if isinstance(self._store, EncryptingEventStore):
            return self._store.for_namespace(activity.info().namespace)
        return self._store

    @activity.defn(name="append_events")
    async def append_events(self, request: AppendEventsRequest) -> AppendEventsResult:
        """Append one workflow step's events; idempotent on event ids.

        Raises:
            ApplicationError: non-retryable, typed ``WrongExpectedVersion``, ``EventRejected``,
                ``InvalidAppend``, ``EventIdConflict`` or ``KeyOfAnotherNamespace``.
        """
        try:
            result = await self._store_of_namespace().append(
                request.case_id, request.expected_version, request.envelopes
            )
        except KeyOfAnotherNamespace as exc:
            raise _other_namespace(exc) from None
        except WrongExpectedVersion as exc:
            raise ApplicationError(
                str(exc),
                {"expected_version": exc.expected_version, "actual_version": exc.actual_version},
                type="WrongExpectedVersion",
                non_retryable=True,
            ) from None
        except EventRejected as exc:
            raise ApplicationError(
                str(exc), {"code": exc.code}, type="EventRejected", non_retryable=True
            ) from None
        except InvalidAppend as exc:
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
        if result.already_recorded:
            activity.logger.info(
                "append already recorded",
                extra={"case_id": result.case_id, "last_version": result.last_version},
            )
        return AppendEventsResult(
            case_id=result.case_id,
            last_version=result.last_version,
            positions=list(result.positions),
            appended=result.appended,
            already_recorded=result.already_recorded,
        )

    @activity.defn(name="read_case_events")
    async def read_case_events(self, request: ReadCaseEventsRequest) -> ReadCaseEventsResult:
        """Every event of the case, in version order.

        Raises:
            ApplicationError: non-retryable ``KeyOfAnotherNamespace``: the case's fields are
                sealed under another namespace's key.
        """
        try:
            envelopes = await self._store_of_namespace().read_case(request.case_id)
        except KeyOfAnotherNamespace as exc:
            raise _other_namespace(exc) from None
        return ReadCaseEventsResult(case_id=request.case_id, envelopes=envelopes)


def _other_namespace(exc: KeyOfAnotherNamespace) -> ApplicationError:
    """The activity's error for a key of another namespace (key id and scope, no content)."""
    return ApplicationError(str(exc), type="KeyOfAnotherNamespace", non_retryable=True)
