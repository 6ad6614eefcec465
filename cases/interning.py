"""One shared object per value, for the immutable parts that every case holds alike.

A worker caches up to a thousand case workflows, and each decodes its own copy of the
same policy (eleven escalation rungs, nine legal references, six answer times): about
35 KiB of Python objects per case, equal by value. Interning keeps one of each and lets
the copies go. Only values that are never mutated may be interned: frozen models, tuples,
and dicts that their frozen owner never changes.

Interning is invisible to workflow logic: an interned value is equal to the one it
replaces, so decisions, commands and replays are the same with or without it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")

#: Distinct values kept per kind: policies change a few times in a worker's life, not often.
INTERNED_PER_KIND = 64


class Interner(Generic[_T]):
    """A bounded map from a value's key to the first equal value seen.

    Safe across the SDK's workflow threads without a lock: a race can only leave two
    equal shared copies, never a wrong value. When full, the oldest value is forgotten
    (objects holding it keep it; new equal values get a new shared copy).
    """

    def __init__(self, size: int = INTERNED_PER_KIND) -> None:
        if size < 1:
            raise ValueError("an interner keeps at least one value")
        self._size = size
        self._values: dict[Hashable, _T] = {}

    def __len__(self) -> int:
        return len(self._values)

    def intern(self, key: Hashable, value: _T) -> _T:
        """The shared value for ``key``: ``value`` itself the first time, else the earlier one.

        ``key`` must determine the value: equal keys only for equal values.
        """
        shared = self._values.get(key)
        if shared is not None:
            return shared
        if len(self._values) >= self._size:
            try:  # noqa: SIM105 - contextlib is not among the domain's imports
                del self._values[next(iter(self._values))]
            except (KeyError, StopIteration, RuntimeError):  # another thread got there first
                pass
        return self._values.setdefault(key, value)


def mapping_key(mapping: dict[Any, Any]) -> Hashable:
    """A key for a dict of hashable keys and values (its items, in order)."""
    return (type(mapping), tuple(mapping.items()))
