"""What a projection is: a named read model that turns each event (and the case's state before
and after `cases.apply`) into rows, inside the transaction that also moves its checkpoint.

A projection does not run SQL per event: it states the rows an event leads to in a `Writes`,
and the projector writes a whole batch's rows at once, one ``executemany`` per statement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from cases import DomainEvent

from ..store import RecordedEvent

if TYPE_CHECKING:
    from cases import CaseState

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
Statement: TypeAlias = tuple[str, tuple[Any, ...]]
"""One SQL statement and its arguments."""
Statements: TypeAlias = Sequence[Statement] | Callable[[], Sequence[Statement]]
"""Statements, or a function that builds them (called at `Writes.flush`, only if kept)."""


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


class Writes:
    """The statements one batch of events leads to, written together by `flush`.

    ``replace(key, ..)`` states *all* the rows behind ``key`` (say, a case's rows of one
    table): a later event of the batch with the same key replaces the earlier statements,
    since only the last state counts. ``add`` keeps every statement (an append-only log).
    `flush` runs the kept statements grouped by SQL text, in order of first appearance, one
    ``executemany`` (one round trip) per group; so the statements of different keys must
    not depend on each other (they touch disjoint rows), and within a key, statements of the
    same SQL text must be able to run together (a key's ``DELETE`` before its ``INSERT``s).
    A function given to ``replace`` is called only if no later event replaces it, so a
    projection builds each case's rows once per batch.
    """

    def __init__(self) -> None:
        self._keyed: dict[Hashable, Statements] = {}
        self._added: list[Statement] = []

    def replace(self, key: Hashable, statements: Statements) -> None:
        """Make ``statements`` the batch's only statements for ``key``."""
        self._keyed[key] = statements

    def add(self, sql: str, *args: Any) -> None:
        """Keep one more statement."""
        self._added.append((sql, args))

    async def flush(self, conn: Connection) -> None:
        """Run every kept statement on ``conn`` (inside the batch's transaction); then forget."""
        groups: dict[str, list[tuple[Any, ...]]] = {}
        for kept in self._keyed.values():
            for sql, args in kept() if callable(kept) else kept:
                groups.setdefault(sql, []).append(args)
        for sql, args in self._added:
            groups.setdefault(sql, []).append(args)
        self._keyed.clear()
        self._added.clear()
        for sql, rows in groups.items():
            await conn.executemany(sql, rows)


class Projection(ABC):
    """A read model kept up to date from the event stream.

    Subclasses name themselves (``name``, the checkpoint's key), list the tables that hold
    only their rows (``tables``, emptied by a rebuild) and say whether they need the folded
    case state (``folds``). `project` must be deterministic (no wall clock), so a rebuilt
    projection equals the live one row for row, whatever the batch boundaries.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]
    folds: ClassVar[bool] = True

    @abstractmethod
    async def project(self, writes: Writes, change: Change) -> None:
        """State this event's effect on the read model in ``writes``; no I/O."""
