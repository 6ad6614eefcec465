"""Workflow test harness: the real worker composition with an in-memory event store.

`build_worker` from worker.py is the production composition root; here it gets the
in-memory store (which passes the same contract suite as PostgreSQL), the real deadline
activities, and the real agency and notification activities talking over HTTP to the
agency simulator. Agencies are answered by the tests themselves (the simulator's
responder is off), so each test decides when and how an agency answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.agencies import AgencyActivities
from activities.deadlines import DeadlineActivities
from activities.eventstore import EventStoreActivities
from activities.notifications import NotificationActivities
from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import EventStore, InMemoryEventStore
from samverkan.simulator import running_simulator
from samverkan.simulator_responder import NullResponder
from tests.agencies.support import SimulatorAdmin, directory_for
from worker import build_worker
from workflows import CaseWorkflow
from workflows.case import RUN_OPTIONS_MEMO
from workflows.messages import CaseRunOptions


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def workflow_simulator() -> AsyncIterator[SimulatorAdmin]:
    """One agency simulator for the workflow tests; nobody answers unless a test does."""
    async with running_simulator(responder=NullResponder()) as url:
        admin = SimulatorAdmin(url)
        try:
            yield admin
        finally:
            await admin.aclose()


@dataclass
class CaseStack:
    """A running worker on its own task queue, with its store and simulator."""

    env: WorkflowEnvironment
    task_queue: str
    store: EventStore
    simulator: SimulatorAdmin

    @property
    def client(self) -> Client:
        return self.env.client

    async def open(
        self,
        *,
        case_number: str | None = None,
        received_at: datetime | None = None,
        options: CaseRunOptions | None = None,
        **changes: Any,
    ) -> WorkflowHandle[Any, Any]:
        """Start a case from the README example, with a fresh case number, received now."""
        data = dict(EXAMPLE_OPEN_CASE)
        data["case_number"] = case_number or f"T-{uuid.uuid4().hex[:10]}"
        received_at = received_at or await self.env.get_current_time()
        data["received_at"] = received_at.isoformat()
        data.update(changes)
        case = OpenCase.model_validate(data)
        return await self.client.start_workflow(
            CaseWorkflow.run,
            case,
            memo={RUN_OPTIONS_MEMO: options} if options else None,
            id=f"case-{case.case_number}",
            task_queue=self.task_queue,
        )


def case_activities(
    store: EventStore, simulator_url: str
) -> tuple[list[Callable[..., Any]], list[Any]]:
    """The production activities against ``store`` and the simulator; and what to close."""
    agencies = AgencyActivities(directory_for(simulator_url))
    notifications = NotificationActivities(f"{simulator_url}/notifications")
    deadlines = DeadlineActivities()
    events = EventStoreActivities(store)
    activities = [
        events.append_events,
        events.read_case_events,
        *agencies.activities(),
        notifications.notify_escalation,
        deadlines.load_policy,
        deadlines.compute_deadline,
    ]
    return activities, [agencies, notifications]


@asynccontextmanager
async def case_worker(
    client: Client, task_queue: str, store: EventStore, simulator_url: str
) -> AsyncIterator[Worker]:
    """A worker built by the production composition root, running until the block ends."""
    activities, closers = case_activities(store, simulator_url)
    worker = build_worker(client, task_queue=task_queue, activities=activities)
    try:
        async with worker:
            yield worker
    finally:
        for closer in closers:
            await closer.aclose()


@pytest_asyncio.fixture
async def stack(
    time_skipping_env: WorkflowEnvironment, workflow_simulator: SimulatorAdmin, task_queue: str
) -> AsyncIterator[CaseStack]:
    """A worker on the time-skipping server with a fresh in-memory store."""
    await workflow_simulator.reset()
    store = InMemoryEventStore()
    async with case_worker(time_skipping_env.client, task_queue, store, workflow_simulator.url):
        yield CaseStack(time_skipping_env, task_queue, store, workflow_simulator)
