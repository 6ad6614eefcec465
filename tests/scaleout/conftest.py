"""Fixtures of the scale-out test."""

from tests.faults.harness import report

__all__ = ["report"]
