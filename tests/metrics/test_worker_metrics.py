"""A real worker on the real dev server exports Temporal's SDK series and our domain series."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from infra import metrics
from infra.metrics import runtime_with_metrics
from infra.sandbox import workflow_runner

from .probe_workflows import ProbeBrokenWorkflow, ProbeCaseWorkflow, probe_answer_consultation
from .scrape import base_names, free_loopback_address, scrape, series


async def _wait_for(address: str, name: str) -> None:
    for _ in range(75):  # 15 s
        if series(scrape(address), name):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never appeared on {address}")


async def test_worker_exports_sdk_and_domain_series_and_replays_never_count_twice(
    local_env, task_queue
):
    address = free_loopback_address()
    client = await Client.connect(
        local_env.client.service_client.config.target_host,
        namespace=local_env.client.namespace,
        runtime=runtime_with_metrics(address),
    )
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[ProbeCaseWorkflow, ProbeBrokenWorkflow],
        activities=[probe_answer_consultation],
        workflow_runner=workflow_runner(),
        max_cached_workflows=0,  # every workflow task replays the history from the start
    )
    async with worker:
        broken = await client.start_workflow(
            ProbeBrokenWorkflow.run, id=f"probe-broken-{uuid.uuid4()}", task_queue=task_queue
        )
        result = await client.execute_workflow(
            ProbeCaseWorkflow.run, id=f"probe-{uuid.uuid4()}", task_queue=task_queue
        )
        await _wait_for(address, "temporal_workflow_task_execution_failed")
        await broken.terminate("test done")
        samples = scrape(address)

    assert result == "answered"
    missing = set(metrics.SDK_METRICS) - base_names(samples)
    assert not missing, f"SDK series the dashboard uses but the worker does not export: {missing}"

    # Recorded in the workflow's first task; replayed in each later task without counting again.
    [transition] = series(samples, metrics.CASE_TRANSITIONS, to_state="protection_assessment")
    assert transition.value == 1
    assert transition.labels["workflow_type"] == "ProbeCaseWorkflow"
    assert series(samples, metrics.ESCALATIONS, rung="unit_manager")[0].value == 1
    assert series(samples, metrics.DEADLINES_BREACHED, kind="pre_assessment")[0].value == 1
    [answered] = series(samples, metrics.CONSULTATION_ANSWER_SECONDS + "_count", agency="police")
    assert answered.value == 1 and answered.labels["activity_type"] == "probe_answer_consultation"

    # The SDK adds only these keys; none of them names a case.
    sdk_added = {"namespace", "task_queue", "workflow_type", "activity_type", "service_name"}
    for sample in samples:
        if sample.name.startswith("samverkan_"):
            assert (
                set(sample.labels) - {"le"}
                <= sdk_added
                | metrics.ALLOWED_LABELS[
                    sample.name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
                ]
            )
            assert not any("probe-" in value for value in sample.labels.values())
