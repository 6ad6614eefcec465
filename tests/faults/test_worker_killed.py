"""SIGKILL a worker while hundreds of cases are open and moving; the other one finishes them.

Every case was received a month ago, so all six rungs of its protection-assessment and
pre-assessment ladders are due the moment it opens: the escalations are countable without
waiting in real time. While the cases raise them and operators record assessments and open
investigations, worker 1 is killed. Worker 2 must bring every case to ``investigation`` with
nothing lost (versions 1..n in PostgreSQL, equal to the workflow's own count) and nothing
twice (each (deadline, rung) raised once, each escalation notice delivered once).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from simulator.state import NOTIFICATIONS
from tests.agencies.support import SimulatorAdmin
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

CASES = int(env_number("SAMVERKAN_FAULTS_CASES", 200))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack() -> AsyncIterator[RealStack]:
    async with running_stack("worker-killed", workers=2) as started:
        yield started


async def test_killed_worker_loses_no_case_and_raises_each_escalation_once(
    stack: RealStack, report: Callable[[str], None]
) -> None:
    client = await stack.client()
    run = uuid.uuid4().hex[:6]
    numbers = [f"K{run}-{n:04d}" for n in range(CASES)]
    received = datetime.now(UTC) - timedelta(days=30)
    started = time.monotonic()

    opened: list[str] = []

    async def drive(number: str) -> None:
        await start_case(client, number, received)
        opened.append(number)
        await update(client, number, "record_protection_assessment", PROTECT, within=400)
        await update(client, number, "decide_pre_assessment", OPEN_INVESTIGATION, within=400)

    driving = asyncio.create_task(
        gather_limited([lambda n=n: drive(n) for n in numbers], limit=CASES)
    )

    async def stored() -> int:
        count: int = await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE case_id LIKE $1", f"K{run}-%"
        )
        return count

    # Kill worker 1 once about a third of the work is in the store: every case is open,
    # most are between escalations and decisions.
    target = CASES * EVENTS_PER_CASE
    await wait_until(
        lambda: at_least(stored, target // 3),
        what="a third of the events",
        within=300,
        interval=0.2,
    )
    open_at_kill = len(opened)  # started, none can close: all open
    events_at_kill = await stored()
    killed = stack.workers[0]
    killed.kill(signal.SIGKILL)
    killed_at = time.monotonic() - started
    assert stack.workers[1].alive()

    await asyncio.wait_for(driving, 500)
    await wait_until(lambda: at_least(stored, target), what="every event", within=120)
    seconds = time.monotonic() - started

    versions = await workflow_versions(client, numbers)
    result = await audit(stack.pool, numbers, versions)
    wrong_escalations = [
        n for n in numbers if dict(result.escalations(n)) != dict.fromkeys(DUE_RUNGS, 1)
    ]
    not_investigating = [n for n in numbers if "InvestigationOpened" not in result.types(n)]
    admin = SimulatorAdmin(stack.simulators[0])
    try:
        sent = [
            r["body"]
            for r in await admin.received(NOTIFICATIONS)
            if isinstance(r["body"], dict) and r["body"].get("case_number") in numbers
        ]
        created = [
            c for c in await admin.created(NOTIFICATIONS) if c["body"]["case_number"] in numbers
        ]
    finally:
        await admin.aclose()
    sent_keys = {(b["case_number"], b["deadline_key"], b["rung_index"]) for b in sent}
    report(
        figures(
            "worker-killed",
            cases=CASES,
            events=result.events,
            seconds=seconds,
            lost=len(result.lost),
            duplicated=len(result.duplicated),
            open_at_kill=open_at_kill,
            events_at_kill=events_at_kill,
            killed_at_s=killed_at,
            escalations=sum(sum(result.escalations(n).values()) for n in numbers),
            notices_sent=len(sent_keys),
            notices_created=len(created),
        )
    )
    assert result.lost == [], result.lost[:10]
    assert result.duplicated == [], result.duplicated[:10]
    assert result.events == target
    assert wrong_escalations == [], wrong_escalations[:10]
    assert not_investigating == [], not_investigating[:10]
    assert open_at_kill >= min(CASES, 200)
    # Every escalation was sent to its role, and the endpoint created each notice once.
    assert len(sent_keys) == CASES * len(DUE_RUNGS)
    assert len(created) == CASES * len(DUE_RUNGS)
