"""What a projection is: a named read model that turns each event (and the case's state before
and after `cases.apply`) into rows, inside the transaction that also moves its checkpoint."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from cases import DomainEvent

from ..store import RecordedEvent

if TYPE_CHECKING:
    from cases import CaseState

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class Change:
    """One event as a projection sees it.

    ``before``/``after`` are the case's state around the event, folded with `cases.apply`
    (both ``None`` for a projection that does not fold).
    """

    recorded: RecordedEvent
    event: DomainEvent
    before: CaseState | None
    after: CaseState | None

    def folded(self) -> CaseState:
        """The state after the event; only folding projections may ask."""
        if self.after is None:
            raise TypeError("this projection does not fold: it has no case state")
        return self.after

    @property
    def case_id(self) -> str:
        """The event's case."""
        return self.recorded.envelope.case_id


class Projection(ABC):
    """A read model kept up to date from the event stream.

    Subclasses name themselves (``name``, the checkpoint's key), list the tables that hold
    only their rows (``tables``, emptied by a rebuild) and say whether they need the folded
    case state (``folds``). `project` must be deterministic (no wall clock), so a rebuilt
    projection equals the live one row for row.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    folds: ClassVar[bool] = True

    @abstractmethod
    async def project(self, conn: Connection, change: Change) -> None:
        """Write this event's effect on the read model, on ``conn`` (inside a transaction)."""
