"""Stop and restart the Temporal dev server mid-run: cases continue.

Cases received a month ago open and raise their due escalations while operators record
protection assessments; the dev server is stopped in the middle of that (SIGTERM; its
SQLite file keeps the state), kept down a few seconds and started again on the same port.
Afterwards every case takes its next decision (updates after the restart succeed) and the
event store holds every case whole, with nothing twice.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from tests.faults.harness import (
    DUE_RUNGS,
    EVENTS_PER_CASE,
    OPEN_INVESTIGATION,
    PROTECT,
    RealStack,
    at_least,
    audit,
    env_number,
    figures,
    gather_limited,
    running_stack,
    start_case,
    update,
    wait_until,
    workflow_versions,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]

CASES = int(env_number("SAMVERKAN_FAULTS_RESTART_CASES", 60))
DOWN_SECONDS = env_number("SAMVERKAN_FAULTS_TEMPORAL_DOWN_SECONDS", 5)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack() -> AsyncIterator[RealStack]:
    async with running_stack("temporal-restart", workers=2) as started:
        yield started


async def test_cases_continue_after_the_temporal_server_restarts(
    stack: RealStack, report: Callable[[str], None]
) -> None:
    client = await stack.client()
    run = uuid.uuid4().hex[:6]
    numbers = [f"R{run}-{n:03d}" for n in range(CASES)]
    received = datetime.now(UTC) - timedelta(days=30)
    started = time.monotonic()

    async def first_half(number: str) -> None:
        await start_case(client, number, received)
        await update(client, number, "record_protection_assessment", PROTECT, within=300)

    driving = asyncio.create_task(
        gather_limited([lambda n=n: first_half(n) for n in numbers], limit=CASES)
    )

    async def stored() -> int:
        count: int = await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE case_id LIKE $1", f"R{run}-%"
        )
        return count

    await wait_until(
        lambda: at_least(stored, CASES * 13 // 3),
        what="a third of the events",
        within=240,
        interval=0.2,
    )
    events_at_stop = await stored()
    await asyncio.to_thread(stack.stop_temporal)
    await asyncio.sleep(DOWN_SECONDS)
    await asyncio.to_thread(stack.start_temporal)
    restarted_at = time.monotonic()
    for worker in stack.workers:
        assert worker.alive(), worker.log_tail()

    await asyncio.wait_for(driving, 400)
    # After the restart: every case takes its next decision.
    summaries = await gather_limited(
        [
            lambda n=n: update(client, n, "decide_pre_assessment", OPEN_INVESTIGATION, within=300)
            for n in numbers
        ],
        limit=CASES,
    )
    await wait_until(
        lambda: at_least(stored, CASES * EVENTS_PER_CASE), what="every event", within=120
    )
    seconds = time.monotonic() - started

    versions = await workflow_versions(client, numbers)
    result = await audit(stack.pool, numbers, versions)
    wrong_escalations = [
        n for n in numbers if dict(result.escalations(n)) != dict.fromkeys(DUE_RUNGS, 1)
    ]
    report(
        figures(
            "temporal-restart",
            cases=CASES,
            events=result.events,
            seconds=seconds,
            lost=len(result.lost),
            duplicated=len(result.duplicated),
            events_at_stop=events_at_stop,
            down_s=DOWN_SECONDS,
            after_restart_s=time.monotonic() - restarted_at,
        )
    )
    assert all(s["state"] == "investigation" for s in summaries)
    assert result.lost == [], result.lost[:10]
    assert result.duplicated == [], result.duplicated[:10]
    assert result.events == CASES * EVENTS_PER_CASE
    assert wrong_escalations == [], wrong_escalations[:10]
