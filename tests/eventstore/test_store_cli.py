"""The event store's CLI commands, run through typer's CliRunner on a local app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from typer.testing import CliRunner

from cases import fold
from eventstore import PostgresEventStore, create_pool
from infra.settings import get_settings
from samverkan.commands.eventstore import register, summary_differences
from tests.eventstore.case_streams import breached_and_closed, envelopes

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def invoke(*args: str) -> Any:
    get_settings.cache_clear()
    return runner.invoke(make_app(), list(args))


def test_migrate_applies_then_reports_up_to_date_and_lists_status(
    database_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("DATABASE_URL", database_url)

    first = invoke("migrate")
    second = invoke("migrate")
    status = invoke("migrate", "--status")

    assert first.exit_code == 0, first.output
    assert "Applied 0001_events, 0002_projections" in first.output
    assert "up to date" in second.output
    assert "0001_events" in status.output
    assert "pending" not in status.output


def test_projections_rebuild_and_status(
    database_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("DATABASE_URL", database_url)
    assert invoke("migrate").exit_code == 0

    async def seed() -> None:
        pool = await create_pool(database_url)
        try:
            case_id = f"CLI-{uuid.uuid4().hex[:6]}"
            events = envelopes(case_id, breached_and_closed(case_id))
            await PostgresEventStore(pool).append(case_id, 0, events)
        finally:
            await pool.close()

    asyncio.run(seed())
    before = invoke("projections", "status")
    rebuilt = invoke("projections", "rebuild")
    one = invoke("projections", "rebuild", "deadlines")
    after = invoke("projections", "status")
    unknown = invoke("projections", "rebuild", "nope")

    assert "case_summary" in before.output
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Rebuilt case_summary from 4 events." in rebuilt.output
    assert "Rebuilt disclosures from 4 events." in rebuilt.output
    assert "Rebuilt board from 4 events." in rebuilt.output
    assert "Rebuilt deadlines from 4 events." in one.output
    lines = [line.split() for line in after.output.splitlines()[1:]]
    assert [(line[0], line[2]) for line in lines] == [
        ("case_summary", "0"),
        ("open_consultations", "0"),
        ("deadlines", "0"),
        ("disclosures", "0"),
        ("board", "0"),
    ]
    assert unknown.exit_code == 2
    assert "no projection 'nope'" in unknown.output


def test_a_database_that_is_down_is_one_sentence_and_a_non_zero_exit(
    settings_env: pytest.MonkeyPatch,
) -> None:
    settings_env.setenv("DATABASE_URL", "postgresql://samverkan:secret@127.0.0.1:9/nowhere")

    for args in (["migrate"], ["projections", "status"], ["verify", "X-1"]):
        result = invoke(*args)
        assert result.exit_code == 2
        assert "Cannot reach the event store's PostgreSQL" in result.output
        assert "Traceback" not in result.output
        assert "secret" not in result.output


def test_missing_tables_say_to_migrate(
    postgres_server_dsn: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("DATABASE_URL", postgres_server_dsn)
    result = invoke("projections", "status")
    assert result.exit_code == 2
    assert "run `samverkan migrate` first" in result.output


def test_summary_differences_name_each_differing_field() -> None:
    stored = {"state": "closed", "deadlines": {"a": {"status": "met"}}, "overdue_count": 1}
    running = {"state": "investigation", "deadlines": {"a": {"status": "met"}}, "overdue_count": 0}
    assert summary_differences(stored, running) == [
        'state: event store "closed" != workflow "investigation"'
    ]


@workflow.defn(name="StoreTestSummaryWorkflow")
class SummaryWorkflow:
    """Stands in for CaseWorkflow: answers ``summary`` with the dict it was started with."""

    def __init__(self) -> None:
        self._summary: dict[str, Any] = {}

    @workflow.run
    async def run(self, summary: dict[str, Any]) -> None:
        self._summary = summary
        await workflow.wait_condition(lambda: False)

    @workflow.query(name="summary")
    def summary(self) -> dict[str, Any]:
        return self._summary


async def test_verify_compares_the_folded_case_with_the_workflow_summary(
    database_url: str,
    local_env: WorkflowEnvironment,
    task_queue: str,
    settings_env: pytest.MonkeyPatch,
) -> None:
    pool = await create_pool(database_url)
    case_number = f"VER-{uuid.uuid4().hex[:6]}"
    events = breached_and_closed(case_number)
    try:
        await PostgresEventStore(pool).append(case_number, 0, envelopes(case_number, events))
    finally:
        await pool.close()
    config = local_env.client.service_client.config
    settings_env.setenv("DATABASE_URL", database_url)
    settings_env.setenv("TEMPORAL_ADDRESS", config.target_host)
    settings_env.setenv("TEMPORAL_NAMESPACE", local_env.client.namespace)
    agreeing = fold(events).to_summary()
    differing = {**agreeing, "state": "investigation"}

    # the stub lives in this test module, which the sandbox need not re-import
    async with Worker(
        local_env.client,
        task_queue=task_queue,
        workflows=[SummaryWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        await local_env.client.start_workflow(
            SummaryWorkflow.run, agreeing, id=f"case-{case_number}", task_queue=task_queue
        )
        same = await asyncio.to_thread(invoke, "verify", case_number)
        handle = local_env.client.get_workflow_handle(f"case-{case_number}")
        await handle.terminate()
        await local_env.client.start_workflow(
            SummaryWorkflow.run, differing, id=f"case-{case_number}", task_queue=task_queue
        )
        different = await asyncio.to_thread(invoke, "verify", case_number)
        missing = await asyncio.to_thread(invoke, "verify", "NO-SUCH-CASE")
        await local_env.client.get_workflow_handle(f"case-{case_number}").terminate()

    assert same.exit_code == 0, same.output
    assert "agree" in same.output
    assert different.exit_code == 1, different.output
    assert 'state: event store "closed" != workflow "investigation"' in different.output
    assert missing.exit_code == 2
    assert "no events for case NO-SUCH-CASE" in missing.output
