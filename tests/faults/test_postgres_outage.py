"""Stop PostgreSQL mid-run (30 s by default): appends wait, then land; nothing lost or twice.

Cases received a month ago open and raise their due escalations, and operators record
protection assessments, while the event store's PostgreSQL is shut down (fast mode: every
connection cut) and started again ``SAMVERKAN_FAULTS_PG_SECONDS`` later under the same DSN.
The append activities fail meanwhile and are retried with backoff; every case must end with
all its events, versions 1..n, equal to the workflow's own count, and no fact twice.
"""

from __future__ import annotations

import asyncio
import os
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

pytestmark = [
    pytest.mark.faults,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        bool(os.environ.get("DATABASE_URL")), reason="needs the embedded PostgreSQL to stop it"
    ),
]

CASES = int(env_number("SAMVERKAN_FAULTS_PG_CASES", 60))
OUTAGE_SECONDS = env_number("SAMVERKAN_FAULTS_PG_SECONDS", 30)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack() -> AsyncIterator[RealStack]:
    async with running_stack("postgres-outage", workers=2) as started:
        yield started


async def test_appends_wait_for_postgres_and_land_once(
    stack: RealStack, report: Callable[[str], None]
) -> None:
    assert stack.postgres is not None
    client = await stack.client()
    run = uuid.uuid4().hex[:6]
    numbers = [f"P{run}-{n:03d}" for n in range(CASES)]
    received = datetime.now(UTC) - timedelta(days=30)
    started = time.monotonic()

    async def drive(number: str) -> None:
        await update(client, number, "record_protection_assessment", PROTECT, within=400)
        await update(client, number, "decide_pre_assessment", OPEN_INVESTIGATION, within=400)

    # Start every case first: the client's codec needs PostgreSQL to make each case's key.
    await gather_limited([lambda n=n: start_case(client, n, received) for n in numbers], 30)
    driving = asyncio.create_task(gather_limited([lambda n=n: drive(n) for n in numbers], CASES))

    async def stored() -> int:
        count: int = await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE case_id LIKE $1", f"P{run}-%"
        )
        return count

    target = CASES * EVENTS_PER_CASE
    await wait_until(
        lambda: at_least(stored, target // 4),
        what="a quarter of the events",
        within=240,
        interval=0.2,
    )
    events_at_stop = await stored()
    await asyncio.to_thread(stack.postgres.stop)
    stopped_at = time.monotonic()
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(stack.postgres.start)
    down = time.monotonic() - stopped_at
    events_after_restart = await stored()

    await asyncio.wait_for(driving, 500)
    await wait_until(lambda: at_least(stored, target), what="every event", within=180)
    seconds = time.monotonic() - started
    for worker in stack.workers:
        assert worker.alive(), worker.log_tail()

    versions = await workflow_versions(client, numbers)
    result = await audit(stack.pool, numbers, versions)
    wrong_escalations = [
        n for n in numbers if dict(result.escalations(n)) != dict.fromkeys(DUE_RUNGS, 1)
    ]
    report(
        figures(
            "postgres-outage",
            cases=CASES,
            events=result.events,
            seconds=seconds,
            lost=len(result.lost),
            duplicated=len(result.duplicated),
            events_at_stop=events_at_stop,
            events_right_after_restart=events_after_restart,
            down_s=down,
        )
    )
    assert result.lost == [], result.lost[:10]
    assert result.duplicated == [], result.duplicated[:10]
    assert result.events == target
    assert wrong_escalations == [], wrong_escalations[:10]
