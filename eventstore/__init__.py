"""The event store: PostgreSQL is the case file's system of record (DESIGN §4).

Public API:

- `EventStore` (protocol), `PostgresEventStore`, `InMemoryEventStore`, `create_pool`
- `AppendResult`, `RecordedEvent`
- `WrongExpectedVersion`, `InvalidAppend`, `EventIdConflict`, `EventStoreError`
- `migrate`, `migration_status`, `MigrationStatus`, `MigrationError`
- `Projector`, `ProjectionStatus`, `ProjectionError`, `UnknownProjection` (read models)
"""

from .errors import EventIdConflict, EventStoreError, InvalidAppend, WrongExpectedVersion
from .memory import InMemoryEventStore
from .postgres import NOTIFY_CHANNEL, PostgresEventStore, create_pool
from .projector import ProjectionError, ProjectionStatus, Projector, UnknownProjection
from .schema import MigrationError, MigrationStatus, migrate, migration_status
from .store import AppendResult, EventStore, RecordedEvent

__all__ = [
    "NOTIFY_CHANNEL",
    "AppendResult",
    "EventIdConflict",
    "EventStore",
    "EventStoreError",
    "InMemoryEventStore",
    "InvalidAppend",
    "MigrationError",
    "MigrationStatus",
    "PostgresEventStore",
    "ProjectionError",
    "ProjectionStatus",
    "Projector",
    "RecordedEvent",
    "UnknownProjection",
    "WrongExpectedVersion",
    "create_pool",
    "migrate",
    "migration_status",
]
