"""Bounded waits: every wait in a Samverkan workflow has an end and says in the UI what it is for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

#: Temporal timers have one-second resolution in practice; never ask for less.
SHORTEST_WAIT = timedelta(seconds=1)


async def wait_until(condition: Callable[[], bool], deadline: datetime, summary: str) -> bool:
    """Wait for ``condition`` or ``deadline``; True when the condition came first.

    The timer carries ``summary`` so the Web UI shows what the case is waiting for.
    """
    if condition():
        return True
    timeout = max(deadline - workflow.now(), SHORTEST_WAIT)
    try:
        await workflow.wait_condition(condition, timeout=timeout, timeout_summary=summary)
    except TimeoutError:
        return condition()
    return True
