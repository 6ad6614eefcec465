"""Bounded waits: every wait in a Samverkan workflow has an end and says in the UI what it is
for and when it ends (Swedish time)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from cases import STOCKHOLM

#: Temporal timers have one-second resolution in practice; never ask for less.
SHORTEST_WAIT = timedelta(seconds=1)


def _until(summary: str, deadline: datetime) -> str:
    """``summary`` with the wait's end, e.g. ``… — until 2026-11-20 23:59 CET``: the Web UI
    shows a timer's summary next to "fires in 3 months"."""
    local = deadline.astimezone(STOCKHOLM)
    return (
        f"{summary} — until {local.year:04d}-{local.month:02d}-{local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d} {local.tzname()}"
    )


async def wait_until(condition: Callable[[], bool], deadline: datetime, summary: str) -> bool:
    """Wait for ``condition`` or ``deadline``; True when the condition came first.

    The timer carries ``summary`` (and its end) so the Web UI shows what the case waits for.
    Every wait that does not time out cancels its timer: `SteadyWait` keeps one instead.
    """
    if condition():
        return True
    timeout = max(deadline - workflow.now(), SHORTEST_WAIT)
    try:
        await workflow.wait_condition(
            condition, timeout=timeout, timeout_summary=_until(summary, deadline)
        )
    except TimeoutError:
        return condition()
    return True


class SteadyWait:
    """Waits that share one timer until its end moves.

    A case wakes for every signal, update and step, and most leave its next wake-up where it
    was: `wait_until` cancels its timer each time and starts the same one again (two events
    in history per wake). Here the timer keeps running and is replaced only when the wake-up
    time changes, or it fired. ``None`` as the end means "no deadline: wake at most ``idle``
    from now", and an idle timer already running is kept.
    """

    def __init__(self, idle: timedelta) -> None:
        self._idle = idle
        self._timer: asyncio.Task[None] | None = None
        self._end: datetime | None = None  # None: the running timer is an idle one

    async def until(
        self, condition: Callable[[], bool], deadline: datetime | None, summary: str
    ) -> bool:
        """Wait for ``condition`` or ``deadline``; True when the condition came first."""
        if condition():
            return True
        timer = self._timer
        if timer is None or timer.done() or deadline != self._end:
            if timer is not None and not timer.done():
                timer.cancel()
            end = deadline if deadline is not None else workflow.now() + self._idle
            self._end = deadline
            self._timer = timer = asyncio.create_task(
                workflow.sleep(
                    max(end - workflow.now(), SHORTEST_WAIT), summary=_until(summary, end)
                )
            )
        running = timer
        await workflow.wait_condition(lambda: condition() or running.done())
        return condition()
