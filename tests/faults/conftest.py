"""Fixtures of the fault tests (the stack itself is started per module, see harness)."""

from tests.faults.harness import report

__all__ = ["report"]
