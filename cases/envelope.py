"""The stored form of a domain event, the registry of event types, and upcasting.

Every state change is a `DomainEvent` (a frozen pydantic model). On its way to the
event store it is sealed into an `Envelope` — ``{event_id, case_id, version, type,
schema_version, occurred_at, actor, data}`` (DESIGN §4) — and on its way back it is
opened: the stored ``data`` is upcast, one schema version at a time, to the current
model. Stored rows are never rewritten; an old event always reads as the current model.

Event classes register themselves by subclassing `DomainEvent`; the class name is
the event ``type``. An upcaster is registered with `upcaster(type, from_version)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]

_REGISTRY: dict[str, type[DomainEvent]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class EventRejected(ValueError):
    """An envelope that cannot be read as a domain event. The message names no personal data."""

    code: ClassVar[str] = "event_rejected"


class UnknownEventType(EventRejected):
    """The envelope's ``type`` is not a registered event."""

    code = "unknown_event_type"


class FutureSchemaVersion(EventRejected):
    """The envelope was written by newer code than this one."""

    code = "future_schema_version"


class MalformedEvent(EventRejected):
    """The envelope's ``data`` does not validate against its event model."""

    code = "malformed_event"


class DomainEvent(BaseModel):
    """Base of every domain event.

    Subclasses set ``schema_version`` (bumped whenever the stored shape changes, with an
    upcaster from the previous version) and ``personal_fields`` (the names of fields
    holding personal data; they are dropped from timelines and encrypted at rest).
    Validation errors never echo input values (``hide_input_in_errors``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    schema_version: ClassVar[int] = 1
    personal_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.__name__
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise TypeError(f"event type {name} registered twice")
        _REGISTRY[name] = cls

    @classmethod
    def event_type(cls) -> str:
        """The stable stored name of this event type."""
        return cls.__name__

    def without_personal_data(self) -> JsonDict:
        """This event's data as JSON, with every personal field removed."""
        return self.model_dump(mode="json", exclude=set(self.personal_fields))


class Envelope(BaseModel):
    """A domain event as stored: metadata plus JSON ``data`` (DESIGN §4)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    case_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    type: str = Field(min_length=1, max_length=100)
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    actor: str = Field(min_length=1, max_length=200)
    data: JsonDict


def event_types() -> dict[str, type[DomainEvent]]:
    """Every registered event type by its stored name."""
    return dict(_REGISTRY)


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function turning ``event_type`` data of ``from_version`` into the next version."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise TypeError(f"upcaster for {event_type} v{from_version} registered twice")
        _UPCASTERS[key] = fn
        return fn

    return register


def seal(
    event: DomainEvent,
    *,
    event_id: UUID,
    case_id: str,
    version: int,
    occurred_at: datetime,
    actor: str,
) -> Envelope:
    """Wrap ``event`` for storage at position ``version`` of case ``case_id``."""
    return Envelope(
        event_id=event_id,
        case_id=case_id,
        version=version,
        type=event.event_type(),
        schema_version=event.schema_version,
        occurred_at=occurred_at,
        actor=actor,
        data=event.model_dump(mode="json"),
    )


def upcast(event_type: str, schema_version: int, data: JsonDict) -> JsonDict:
    """Bring stored ``data`` of ``event_type`` at ``schema_version`` up to the current version."""
    cls = _REGISTRY.get(event_type)
    if cls is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    if schema_version > cls.schema_version:
        raise FutureSchemaVersion(
            f"{event_type} schema version {schema_version} is newer than this code's "
            f"{cls.schema_version}"
        )
    current = dict(data)
    for version in range(schema_version, cls.schema_version):
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise FutureSchemaVersion(f"no upcaster for {event_type} from version {version}")
        current = step(current)
    return current


def open_envelope(envelope: Envelope) -> DomainEvent:
    """Read a stored envelope as the current model of its event type.

    Raises:
        UnknownEventType, FutureSchemaVersion, MalformedEvent: the envelope cannot be read.
            Messages name fields, never their values.
    """
    data = upcast(envelope.type, envelope.schema_version, envelope.data)
    cls = _REGISTRY[envelope.type]
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) or "<root>" for err in exc.errors()})
        raise MalformedEvent(f"{envelope.type} has invalid fields: {', '.join(fields)}") from None
