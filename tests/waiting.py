"""Polling in tests: wait, in real time, until an outcome a user would notice has happened."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 20) -> None:
    """Wait until ``check`` holds, polling every 0.1 s (on the time-skipping server this
    skips no time); fail after ``seconds``."""
    for _ in range(int(seconds * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached in time")
