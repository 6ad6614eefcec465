"""Workflow test harness: the real worker composition with an in-memory or PostgreSQL store.

worker.py is the production composition root: `compose` builds the activities and
`build_worker` the worker. Here `compose` gets the in-memory store (which passes the same
contract suite as PostgreSQL) or, for modules that ask for both (``store_kind``
parametrised with ``indirect=True``), the production store: PostgreSQL with the encrypting
wrapper and its vault on a real server; the default policy, and the agencies and the notification
endpoint at the agency simulator, called over HTTP as in production. Agencies are answered by the tests themselves (the simulator's
responder is off), so each test decides when and how an agency answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import EventStore, InMemoryEventStore, PostgresEventStore, create_pool, migrate
from eventstore.encrypted import EncryptingEventStore, PostgresPersonalDataVault
from infra.attestation import AttestationKeys
from infra.keys import CaseKeys, MasterKeys, PostgresDataKeyStore
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.agencies.support import SimulatorAdmin, directory_for
from tests.agency_attestation import TEST_ATTESTATION_KEYS
from tests.conftest import _dsn_for
from worker import build_worker, compose
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


def subject_aged(years: int, *, on: date) -> dict[str, str]:
    """The README example's (fictitious) child, ``years`` old on ``on``: born 15 March."""
    born = date(on.year - years - (1 if (on.month, on.day) < (3, 15) else 0), 3, 15)
    return {
        "personal_identity_number": f"{born:%Y%m%d}-0004",
        "name": EXAMPLE_OPEN_CASE["subject"]["name"],
        "birth_date": born.isoformat(),
    }


@dataclass
class CaseStack:
    """A running worker on its own task queue, with its store and simulator."""

    env: WorkflowEnvironment
    task_queue: str
    store: EventStore
    simulator: SimulatorAdmin
    started: list[str] = field(default_factory=list)
    subjects: dict[str, dict[str, str]] = field(default_factory=dict)

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
        # The session's time-skipping server runs ahead (every open case's timers fire while
        # a test waits), so the example child is made 14 on the day the report arrives: a
        # fixed birth date would turn 21 a few years of skipped time later.
        data["subject"] = subject_aged(14, on=received_at.date())
        data.update(changes)
        case = OpenCase.model_validate(data)
        self.started.append(f"case-{case.case_number}")
        self.subjects[f"case-{case.case_number}"] = data["subject"]
        return await self.client.start_workflow(
            CaseWorkflow.run,
            case,
            memo={RUN_OPTIONS_MEMO: options} if options else None,
            id=f"case-{case.case_number}",
            task_queue=self.task_queue,
        )


@asynccontextmanager
async def case_worker(
    client: Client,
    task_queue: str,
    store: EventStore,
    simulator_url: str,
    *,
    max_cached_workflows: int = 1000,
    attestation_keys: AttestationKeys | None = TEST_ATTESTATION_KEYS,
) -> AsyncIterator[Worker]:
    """A worker built by the production composition root, running until the block ends.

    ``max_cached_workflows=0`` keeps no workflow in memory (every task replays its history)
    and so uses no sticky queue: a worker that will be stopped mid-test must not hold
    sticky tasks, or the time-skipping server waits for it.
    """
    async with AsyncExitStack() as stack:
        activities = compose(
            stack,
            events=store,
            agencies=directory_for(simulator_url),
            notify_url=f"{simulator_url}/notifications",
        )
        worker = build_worker(
            client,
            task_queue=task_queue,
            activities=activities,
            attestation_keys=attestation_keys,
            max_cached_workflows=max_cached_workflows,
        )
        async with worker:
            yield worker


STORE_KINDS = ("memory", "postgres")


@pytest.fixture(params=["memory"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which event store the stack's worker appends to; a module parametrises it
    (``indirect=True``) to run its tests on both."""
    kind: str = request.param
    return kind


@asynccontextmanager
async def event_store(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[EventStore]:
    """A fresh store of ``kind``: in memory, or the production one on the module's database."""
    if kind == "memory":
        yield InMemoryEventStore()
        return
    server_dsn: str = request.getfixturevalue("postgres_server_dsn")  # sync: may be asked late
    name = f"test_wf_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    database_url = _dsn_for(server_dsn, name)
    await migrate(database_url)
    pool = await create_pool(database_url, max_size=4)
    try:
        keys = CaseKeys(
            master_keys=MasterKeys.parse(MasterKeys.generate_entry("workflow-tests")),
            store=PostgresDataKeyStore(pool),
        )
        yield EncryptingEventStore(
            PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
        )
    finally:
        await pool.close()
        admin = await asyncpg.connect(server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@asynccontextmanager
async def running_stack(
    env: WorkflowEnvironment,
    simulator: SimulatorAdmin,
    task_queue: str,
    store: EventStore | None = None,
    *,
    attestation_keys: AttestationKeys | None = TEST_ATTESTATION_KEYS,
) -> AsyncIterator[CaseStack]:
    """A worker on ``env`` with ``store`` (a fresh in-memory one by default), checking agency
    updates with ``attestation_keys``; open workflows ended afterwards."""
    await simulator.reset()
    store = store if store is not None else InMemoryEventStore()
    async with case_worker(
        env.client, task_queue, store, simulator.url, attestation_keys=attestation_keys
    ):
        stack = CaseStack(env, task_queue, store, simulator)
        yield stack
    await end_open_workflows(stack)


@pytest_asyncio.fixture
async def stack(
    module_time_skipping_env: WorkflowEnvironment,
    workflow_simulator: SimulatorAdmin,
    task_queue: str,
    store_kind: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[CaseStack]:
    """A worker on this module's time-skipping server (for tests that skip no time).

    Not the session's server: a case's rules depend on the date (the subject's age decides
    which legal bases apply), and other modules' tests move that server's clock.
    """
    async with (
        event_store(store_kind, request) as store,
        running_stack(module_time_skipping_env, workflow_simulator, task_queue, store) as stack,
    ):
        yield stack


@pytest_asyncio.fixture
async def timed_stack(
    own_time_skipping_env: WorkflowEnvironment,
    workflow_simulator: SimulatorAdmin,
    task_queue: str,
    store_kind: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[CaseStack]:
    """A worker on a time-skipping server of the test's own (for tests that skip time)."""
    async with (
        event_store(store_kind, request) as store,
        running_stack(own_time_skipping_env, workflow_simulator, task_queue, store) as stack,
    ):
        yield stack


async def end_open_workflows(stack: CaseStack) -> None:
    """Terminate what a test left running: the shared time-skipping server moves time only
    when no workflow anywhere waits for a worker, and this test's worker is gone."""
    for case_id in stack.started:
        ids = [case_id, *(f"{case_id}:consultation-{k}" for k in range(1, 6))]
        for workflow_id in ids:
            with contextlib.suppress(RPCError):
                await stack.client.get_workflow_handle(workflow_id).terminate("test ended")


HISTORIES = Path(__file__).resolve().parents[1] / "histories"


async def record_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """Write ``handle``'s history to tests/histories/<name>.json when recording is asked for.

    Set ``SAMVERKAN_RECORD_HISTORIES=1`` to (re)record the replay corpus from the scenario
    tests. Only add new files: a history recorded with older code is what proves that old
    cases still replay (docs/changing-workflows.md).
    """
    if os.environ.get("SAMVERKAN_RECORD_HISTORIES") != "1":
        return
    target = HISTORIES / f"{name}.json"
    if target.exists() and os.environ.get("SAMVERKAN_OVERWRITE_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")


async def assessed_into_investigation(handle: WorkflowHandle[Any, Any]) -> None:
    """Record a non-acute protection assessment and open an investigation."""
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
    )
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": True, "reasons": "Specific concern.", "decided_by": "officer-1"},
    )


async def stored_types(stack: CaseStack, handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The event types stored for the case behind ``handle``, in version order."""
    return [e.type for e in await stack.store.read_case(handle.id.removeprefix("case-"))]
