"""A case number is one case for good, on the real dev server with PostgreSQL and the codec.

``samverkan cases open`` refuses an existing case, running or closed, in one sentence and
starts nothing; a start that allows a closed id (the Web UI's and ``temporal workflow
start``'s default) ends at once with ``CaseAlreadyExists`` and records nothing; afterwards
``cases summary`` and ``verify`` still read the case itself, not that run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import PostgresEventStore, create_pool, migrate
from eventstore.encrypted import EncryptingEventStore, PostgresPersonalDataVault
from infra.codec import build_codec
from infra.converter import data_converter
from infra.keys import MASTER_KEYS_ENV, MasterKeys
from infra.settings import get_settings
from samverkan.cli import app
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.agencies.support import directory_for
from tests.waiting import eventually
from worker import build_worker, compose
from workflows import CaseWorkflow
from workflows.case import CASE_ALREADY_EXISTS

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url)
    created = await create_pool(database_url)
    yield created
    await created.close()


def _cli(env: dict[str, str], *args: str) -> Any:
    """``samverkan <args>`` with exactly these operator variables (no dev-stack folder)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAMVERKAN_DATA_DIR", "/nonexistent-samverkan-data")
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args))
        finally:
            get_settings.cache_clear()


async def test_a_case_started_again_open_or_closed_is_never_disturbed(
    local_env: WorkflowEnvironment, pool: asyncpg.Pool, database_url: str, task_queue: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    master_entry = MasterKeys.generate_entry("again")
    codec = build_codec(pool, namespace="default", master_keys=MasterKeys.parse(master_entry))
    client = Client(**{**local_env.client.config(), "data_converter": data_converter(codec)})
    store = EncryptingEventStore(
        PostgresEventStore(pool), keys=codec.keys, vault=PostgresPersonalDataVault(pool)
    )
    operator = {
        "TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": local_env.client.namespace,
        "SAMVERKAN_TASK_QUEUE": task_queue,
        "DATABASE_URL": database_url,
        MASTER_KEYS_ENV: master_entry,
    }
    case_number = f"AGAIN-{uuid.uuid4().hex[:8]}"
    data = dict(EXAMPLE_OPEN_CASE, case_number=case_number)
    data["received_at"] = datetime.now(UTC).isoformat()
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(data))

    async def cli(*args: str) -> Any:
        return await asyncio.to_thread(_cli, operator, *args)

    async with running_simulator(responder=NullResponder()) as simulator_url, AsyncExitStack() as s:
        activities = compose(
            s,
            events=store,
            agencies=directory_for(simulator_url),
            notify_url=f"{simulator_url}/notifications",
        )
        async with build_worker(client, task_queue=task_queue, activities=activities):
            opened = await cli("cases", "open", f"@{case_file}")
            assert opened.exit_code == 0, opened.output
            handle = client.get_workflow_handle(f"case-{case_number}")
            case_run = handle.result_run_id or (await handle.describe()).run_id

            running = await cli("cases", "open", f"@{case_file}")
            assert running.exit_code == 2, running.output
            assert running.output.strip() == (
                f"cases open: case {case_number} already exists (running): nothing started"
            )

            for name, body in (
                ("record_protection_assessment", {"acute": False, "reasoning": "No danger."}),
                ("decide_pre_assessment", {"open_investigation": False, "reasons": "Minor."}),
                ("close_case", {"reason": "Declined."}),
            ):
                await handle.execute_update(name, {**body, "decided_by": "officer-1"})
            await handle.result()
            stored = [e.event_id for e in await store.read_case(case_number)]

            closed = await cli("cases", "open", f"@{case_file}")
            assert closed.exit_code == 2, closed.output
            assert f"case {case_number} already exists (closed on " in closed.output
            assert closed.output.strip().endswith("): nothing started")
            assert (await handle.describe()).run_id == case_run  # nothing started

            # The Web UI and `temporal workflow start` allow a closed id by default.
            again = await client.start_workflow(
                CaseWorkflow.run,
                OpenCase.model_validate(data),
                id=f"case-{case_number}",
                task_queue=task_queue,
            )
            with pytest.raises(WorkflowFailureError) as failed:
                await again.result()
            cause = failed.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == CASE_ALREADY_EXISTS
            assert cause.non_retryable and "\n" not in cause.message
            assert [e.event_id for e in await store.read_case(case_number)] == stored

            async def case_listed() -> bool:
                runs = [
                    w
                    async for w in client.list_workflows(
                        f"WorkflowId = 'case-{case_number}' AND CaseState = 'closed'"
                    )
                ]
                return [w.run_id for w in runs] == [case_run]

            await eventually(case_listed, seconds=30)
            summary = await cli("cases", "summary", case_number)
            verify = await cli("verify", case_number)
            after = await cli("cases", "open", f"@{case_file}")
            latest = await handle.describe()

    assert summary.exit_code == 0, summary.output
    assert json.loads(summary.output)["state"] == "closed"
    assert verify.exit_code == 0, verify.output
    assert "agree" in verify.output
    assert after.exit_code == 2 and "(closed on " in after.output, after.output
    assert latest.status is WorkflowExecutionStatus.FAILED  # the refused start, not the case
