"""Typed errors of the event store. Messages name cases and versions, never data values."""

from __future__ import annotations


class EventStoreError(Exception):
    """Base of every error the event store raises on purpose."""


class WrongExpectedVersion(EventStoreError):
    """Another writer appended to the case first: the caller's view of the case is stale."""

    def __init__(self, case_id: str, expected_version: int, actual_version: int | None) -> None:
        self.case_id = case_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        actual = "a later version" if actual_version is None else f"version {actual_version}"
        super().__init__(
            f"case {case_id}: expected version {expected_version}, but the case is at {actual}"
        )


class InvalidAppend(EventStoreError, ValueError):
    """The append request itself is inconsistent (empty, wrong case, versions out of sequence)."""


class EventIdConflict(InvalidAppend):
    """An event id is already recorded with other content, or only part of a batch is recorded."""
