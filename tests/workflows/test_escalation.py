"""Deadlines and escalation ladders on the time-skipping server: every rung exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cases import DeadlineKind, Policy, compute_deadline, escalation_schedule
from eventstore import EventStore
from tests.agencies.support import SimulatorAdmin
from tests.waiting import eventually
from tests.workflows.conftest import (
    STORE_KINDS,
    CaseStack,
    case_worker,
    end_open_workflows,
    event_store,
    record_history,
    stored_types,
)

#: Every test here runs on the in-memory store and on PostgreSQL with the encrypting wrapper.
pytestmark = pytest.mark.parametrize("store_kind", STORE_KINDS, indirect=True)


async def _escalations(stack: CaseStack, case_number: str) -> Counter[tuple[str, int]]:
    envelopes = await stack.store.read_case(case_number)
    return Counter(
        (e.data["deadline_key"], e.data["rung_index"])
        for e in envelopes
        if e.type == "EscalationRaised"
    )


async def test_pre_assessment_rungs_fire_once_each_even_when_the_worker_restarts(
    own_time_skipping_env: WorkflowEnvironment,
    workflow_simulator: SimulatorAdmin,
    task_queue: str,
    store_kind: str,
    request: pytest.FixtureRequest,
) -> None:
    env = own_time_skipping_env
    await workflow_simulator.reset()
    async with event_store(store_kind, request) as store:
        await _rungs_fire_once_across_a_restart(env, workflow_simulator, task_queue, store)


async def _rungs_fire_once_across_a_restart(
    env: WorkflowEnvironment, workflow_simulator: SimulatorAdmin, task_queue: str, store: EventStore
) -> None:
    stack = CaseStack(env, task_queue, store, workflow_simulator)
    received: datetime = await env.get_current_time()
    schedule = escalation_schedule(
        compute_deadline(DeadlineKind.PRE_ASSESSMENT, received, policy=Policy.default()),
        Policy.default(),
    )
    first, last = schedule[0], schedule[-1]

    async with case_worker(
        env.client, task_queue, store, workflow_simulator.url, max_cached_workflows=0
    ):
        handle = await stack.open(received_at=received)
        case_number = handle.id.removeprefix("case-")
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "Not acute.", "decided_by": "officer-1"},
        )
        await env.sleep(first.fire_at - received + timedelta(minutes=1))

        async def first_raised() -> bool:
            return ("pre_assessment", first.rung_index) in await _escalations(stack, case_number)

        await eventually(first_raised)

    # A new worker, with nothing cached, takes over the case from its history; then the rest
    # of the ladder comes due and the deadline passes. (The time-skipping server does not
    # move time while a workflow task waits for a worker, so the restart happens first.)
    async with case_worker(env.client, task_queue, store, workflow_simulator.url):
        await env.sleep(last.fire_at - first.fire_at + timedelta(days=1))

        async def breached() -> bool:
            return "DeadlineBreached" in await stored_types(stack, handle)

        await eventually(breached)
        raised = await _escalations(stack, case_number)
        await record_history(handle, "case-pre-assessment-escalated-across-restart-batched-appends")

    await end_open_workflows(stack)
    pre_assessment = {k: n for k, n in raised.items() if k[0] == "pre_assessment"}
    assert pre_assessment == {("pre_assessment", r.rung_index): 1 for r in schedule}
    assert all(n == 1 for n in raised.values())
    notices = await workflow_simulator.created("notifications")
    keys = Counter(n["idempotency_key"] for n in notices if case_number in str(n))
    assert keys and all(n == 1 for n in keys.values())
    assert (await stored_types(stack, handle)).count("DeadlineBreached") == 1


async def test_four_month_investigation_runs_in_seconds_and_breaches_once(
    timed_stack: CaseStack,
) -> None:
    stack = timed_stack
    handle = await stack.open()
    await stack.client.get_workflow_handle(handle.id).execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Not acute.", "decided_by": "officer-1"},
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Serious.", "decided_by": "officer-1"},
    )
    await stack.env.sleep(timedelta(days=130))

    async def investigation_breached() -> bool:
        envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
        return any(
            e.type == "DeadlineBreached" and e.data["deadline_key"] == "investigation"
            for e in envelopes
        )

    await eventually(investigation_breached)
    summary = await handle.query("summary")
    assert summary["state"] == "investigation"
    assert summary["deadlines"]["investigation"]["status"] == "breached"
    # and the feedback task, never done (the example's reporter is a mandatory one)
    assert summary["deadlines"]["feedback_to_reporter"]["status"] == "breached"
    assert summary["overdue_count"] == 2
    raised = await _escalations(stack, handle.id.removeprefix("case-"))
    assert raised[("investigation", 0)] == 1  # extension decision due at three months
    assert raised[("investigation", 1)] == 1  # breach: head of division
    await handle.execute_update(
        "record_child_views", {"views": "Wants help.", "decided_by": "officer-1"}
    )
    await handle.execute_update(
        "conclude_investigation", {"outcome": "intervention", "decided_by": "officer-1"}
    )
    await handle.execute_update("close_case", {"reason": "Done.", "decided_by": "officer-1"})
    assert (await handle.result()).state == "closed"
    await record_history(handle, "case-investigation-breached-batched-appends")


async def test_extension_moves_the_investigation_deadline_and_is_recorded(
    timed_stack: CaseStack,
) -> None:
    stack = timed_stack
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "Not acute.", "decided_by": "officer-1"},
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Serious.", "decided_by": "officer-1"},
    )
    before = (await handle.query("summary"))["deadlines"]["investigation"]["target"]
    until = (datetime.fromisoformat(before) + timedelta(days=45)).date()
    summary = await handle.execute_update(
        "extend_investigation",
        {"until": until.isoformat(), "reasons": "Awaiting BUP.", "decided_by": "unit-manager-1"},
    )
    assert summary["extension_count"] == 1
    assert summary["deadlines"]["investigation"]["target"].startswith(until.isoformat())
    types = await stored_types(stack, handle)
    assert types.count("InvestigationExtended") == 1
    assert types[-1] == "DeadlineSet"
    await handle.execute_update(
        "record_child_views", {"views": "Wants help.", "decided_by": "officer-1"}
    )
    await handle.execute_update(
        "conclude_investigation", {"outcome": "no_intervention", "decided_by": "officer-1"}
    )
    await handle.execute_update("close_case", {"reason": "Done.", "decided_by": "officer-1"})
    await handle.result()
    await record_history(handle, "case-investigation-extended-batched-appends")


async def test_deadline_over_christmas_moves_legal_latest_not_target_and_says_why(
    stack: CaseStack,
) -> None:
    from cases import STOCKHOLM

    received = datetime(2025, 12, 10, 10, 0, tzinfo=STOCKHOLM)
    handle = await stack.open(received_at=received)

    async def deadlines_set() -> bool:
        return "pre_assessment" in (await handle.query("summary")).get("deadlines", {})

    await eventually(deadlines_set)
    pre = (await handle.query("summary"))["deadlines"]["pre_assessment"]
    assert pre["target"].startswith("2025-12-24")  # Christmas Eve: protective date kept
    assert pre["legal_latest"].startswith("2025-12-29")  # first working day after
    assert any("Juldagen" in reason for reason in pre["moved_because"])
    # The report came long ago: the ladder has already run and the breach is recorded once.
    await eventually(lambda: _breached(stack, handle.id.removeprefix("case-")))


async def _breached(stack: CaseStack, case_number: str) -> bool:
    envelopes = await stack.store.read_case(case_number)
    return [e.data["deadline_key"] for e in envelopes if e.type == "DeadlineBreached"] == [
        "protection_assessment",
        "pre_assessment",
    ]
