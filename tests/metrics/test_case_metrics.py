"""The real CaseWorkflow counts transitions, breaches and escalations — once, with no case in a label."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import InMemoryEventStore
from infra import metrics
from infra.converter import data_converter
from infra.metrics import runtime_with_metrics
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.workflows.conftest import case_worker
from workflows import CaseWorkflow

from .scrape import free_loopback_address, scrape, series


async def test_case_workflow_records_domain_metrics_once_each(local_env, task_queue) -> None:
    address = free_loopback_address()
    client = await Client.connect(
        local_env.client.service_client.config.target_host,
        namespace=local_env.client.namespace,
        runtime=runtime_with_metrics(address),
        data_converter=data_converter(),
    )
    case_number = f"M-{uuid.uuid4().hex[:8]}"
    received = datetime.now(UTC) - timedelta(days=30)  # every rung is due at once
    data = dict(EXAMPLE_OPEN_CASE, case_number=case_number, received_at=received.isoformat())
    async with (
        running_simulator(responder=NullResponder()) as simulator_url,
        case_worker(
            client, task_queue, InMemoryEventStore(), simulator_url, max_cached_workflows=0
        ),
    ):
        handle = await client.start_workflow(
            CaseWorkflow.run,
            OpenCase.model_validate(data),
            id=f"case-{case_number}",
            task_queue=task_queue,
        )
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "Late, not acute.", "decided_by": "officer-1"},
        )
        expected = [
            (metrics.CASE_TRANSITIONS, {"to_state": "pre_assessment"}),
            (metrics.DEADLINES_BREACHED, {"kind": "protection_assessment"}),
            (metrics.DEADLINES_BREACHED, {"kind": "pre_assessment"}),
            (metrics.ESCALATIONS, {"kind": "pre_assessment", "rung": "remind_officer"}),
            (metrics.ESCALATIONS, {"kind": "protection_assessment", "rung": "on_call"}),
        ]
        for _ in range(100):  # breaches are recorded before rungs: wait for every series
            samples = scrape(address)
            if all(series(samples, name, **labels) for name, labels in expected):
                break
            await asyncio.sleep(0.2)
        await handle.terminate("test done")

    def value(name: str, **labels: str) -> float:
        found = series(samples, name, workflow_type="CaseWorkflow", **labels)
        return sum(s.value for s in found)

    assert value(metrics.CASE_TRANSITIONS, to_state="pre_assessment") == 1
    assert value(metrics.DEADLINES_BREACHED, kind="protection_assessment") == 1
    assert value(metrics.DEADLINES_BREACHED, kind="pre_assessment") == 1
    assert value(metrics.ESCALATIONS, kind="pre_assessment", rung="remind_officer") == 1
    assert value(metrics.ESCALATIONS, kind="protection_assessment", rung="on_call") == 1
    for sample in samples:
        if sample.name.startswith("samverkan_"):
            assert case_number not in str(sample.labels)
