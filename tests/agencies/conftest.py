"""Fixtures for agency integration tests: a real simulator over HTTP and its admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from simulator.app import running_simulator

from .support import SimulatorAdmin


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_simulator() -> AsyncIterator[SimulatorAdmin]:
    """One simulator for the session (starting one per test costs a shutdown tick each)."""
    async with running_simulator() as url:
        admin = SimulatorAdmin(url)
        try:
            yield admin
        finally:
            await admin.aclose()


@pytest_asyncio.fixture
async def simulator(shared_simulator: SimulatorAdmin) -> SimulatorAdmin:
    """The shared simulator, reset: nothing received, every agency answering at once."""
    await shared_simulator.reset()
    return shared_simulator
