"""An agency's system fails for a minute: each consultation is delivered exactly once after.

The police's endpoint answers HTTP 500 to every call for ``SAMVERKAN_FAULTS_AGENCY_SECONDS``
(60 by default) while cases ask the police a question. The delivery activities retry with
backoff; once the endpoint recovers, the simulator must have created exactly one request per
consultation (its ``created`` log is one entry per idempotency key), none during the outage,
and every consultation must come back answered (through the gateway) into its case.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from cases import Agency
from tests.agencies.support import SimulatorAdmin
from tests.faults.harness import (
    OPEN_INVESTIGATION,
    PROTECT,
    RealStack,
    audit,
    consultation_request,
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

CASES = int(env_number("SAMVERKAN_FAULTS_AGENCY_CASES", 20))
OUTAGE_SECONDS = env_number("SAMVERKAN_FAULTS_AGENCY_SECONDS", 60)
#: Each PUT restarts the simulator's count of failures still to give.
FAILING = {"fail_times": 1000}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack() -> AsyncIterator[RealStack]:
    async with running_stack("agency-outage", workers=2) as started:
        yield started


async def test_failing_agency_gets_each_consultation_exactly_once_after_it_recovers(
    stack: RealStack, report: Callable[[str], None]
) -> None:
    client = await stack.client()
    admin = SimulatorAdmin(stack.simulators[0])
    run = uuid.uuid4().hex[:6]
    numbers = [f"A{run}-{n:03d}" for n in range(CASES)]
    started = time.monotonic()
    try:
        (await admin.set_behaviour(Agency.POLICE.value, **FAILING)).raise_for_status()
        outage_ends = started + OUTAGE_SECONDS

        async def ask(number: str) -> str:
            await start_case(client, number, datetime.now(UTC))
            await update(client, number, "record_protection_assessment", PROTECT)
            await update(client, number, "decide_pre_assessment", OPEN_INVESTIGATION)
            consultation: str = await update(
                client, number, "request_consultation", consultation_request(Agency.POLICE)
            )
            return consultation

        consultations = await gather_limited([lambda n=n: ask(n) for n in numbers], limit=CASES)
        asked_s = time.monotonic() - started
        while time.monotonic() < outage_ends:  # keep failing for the whole window
            await asyncio.sleep(min(5.0, max(0.0, outage_ends - time.monotonic())))
            if time.monotonic() < outage_ends:
                (await admin.set_behaviour(Agency.POLICE.value, **FAILING)).raise_for_status()
        during = await admin.received(Agency.POLICE.value)
        created_during = await admin.created(Agency.POLICE.value)
        (await admin.set_behaviour(Agency.POLICE.value)).raise_for_status()
        recovered = time.monotonic()

        async def answered() -> bool:
            count: int = await stack.pool.fetchval(
                "SELECT count(*) FROM events WHERE case_id LIKE $1 AND type = 'ConsultationAnswered'",
                f"A{run}-%",
            )
            return count >= CASES

        await wait_until(answered, what="every consultation answered", within=240)
        delivered_after_s = time.monotonic() - recovered
        seconds = time.monotonic() - started
        created = [
            c
            for c in await admin.created(Agency.POLICE.value)
            if c["kind"] == "consultation" and c["consultation_id"] in consultations
        ]
        received = [
            r
            for r in await admin.received(Agency.POLICE.value)
            if r["method"] == "POST"
            and isinstance(r["body"], dict)
            and r["body"].get("consultation_id") in consultations
        ]
    finally:
        await admin.aclose()

    versions = await workflow_versions(client, numbers)
    result = await audit(stack.pool, numbers, versions)
    per_consultation = Counter(c["consultation_id"] for c in created)
    failed_calls = len([r for r in during if r["method"] == "POST"])
    report(
        figures(
            "agency-outage",
            cases=CASES,
            events=result.events,
            seconds=seconds,
            lost=len(result.lost),
            duplicated=len(result.duplicated),
            consultations=len(set(consultations)),
            created=len(created),
            failed_calls=failed_calls,
            delivery_posts=len(received),
            outage_s=OUTAGE_SECONDS,
            asked_s=asked_s,
            delivered_after_s=delivered_after_s,
        )
    )
    assert len(set(consultations)) == CASES
    assert created_during == [], "nothing is created while the agency fails"
    assert failed_calls >= CASES, "every consultation met the failing endpoint"
    assert per_consultation == Counter(set(consultations)), "exactly one request each"
    assert result.lost == [], result.lost[:10]
    assert result.duplicated == [], result.duplicated[:10]
    for number in numbers:
        types = result.types(number)
        assert types.count("ConsultationDelivered") == 1
        assert types.count("ConsultationAnswered") == 1
