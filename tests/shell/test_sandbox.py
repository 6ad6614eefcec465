"""The worker's sandbox (`infra.sandbox`) gives the SDK the same serialization contexts as
the stock sandbox, for every kind of command, without running code in the sandbox for it."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

from infra.converter import data_converter
from infra.sandbox import PASSTHROUGH_MODULES, DirectContextRunner, workflow_runner
from tests.shell.sandbox_probe import (
    SandboxProbeChild,
    SandboxProbeWorkflow,
    sandbox_probe_echo,
)

Seen = tuple[str, str | None, str | None, bool | None]


class ContextRecorder(PayloadCodec, WithSerializationContext):
    """Passes payloads through unchanged; notes every context the SDK asks it for."""

    def __init__(self, seen: list[Seen], context: SerializationContext | None = None) -> None:
        self._seen = seen
        self._context = context

    def with_context(self, context: SerializationContext) -> ContextRecorder:
        workflow_id = getattr(context, "workflow_id", None)
        if isinstance(context, ActivitySerializationContext):
            self._seen.append(("activity", workflow_id, context.activity_type, context.is_local))
        elif isinstance(context, WorkflowSerializationContext):
            self._seen.append(("workflow", workflow_id, None, None))
        else:
            self._seen.append((type(context).__name__, workflow_id, None, None))
        return ContextRecorder(self._seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def _contexts(
    env: WorkflowEnvironment, runner: SandboxedWorkflowRunner, task_queue: str
) -> Counter[Seen]:
    """Run the probe pair under ``runner``; how often each context was asked for, by kind
    and by workflow (the ids made relative to the run)."""
    seen: list[Seen] = []
    config = env.client.config()
    config["data_converter"] = data_converter(ContextRecorder(seen))
    client = Client(**config)
    workflow_id = f"case-S{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SandboxProbeWorkflow, SandboxProbeChild],
        activities=[sandbox_probe_echo],
        workflow_runner=runner,
    ):
        result = await client.execute_workflow(
            SandboxProbeWorkflow.run, "hej", id=workflow_id, task_queue=task_queue
        )
    assert result == ["hej", "hej", "child done", "answered"]
    return Counter(
        (kind, (wid or "").replace(workflow_id, "<case>"), activity, local)
        for kind, wid, activity, local in seen
    )


async def test_the_worker_sandbox_gives_the_same_contexts_as_the_stock_sandbox(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    stock = await _contexts(
        time_skipping_env, SandboxedWorkflowRunner(restrictions=restrictions), task_queue
    )
    direct = await _contexts(
        time_skipping_env, DirectContextRunner(restrictions=restrictions), task_queue + "-d"
    )
    assert direct == stock
    # every kind of context the codec relies on was asked for
    assert {(kind, wid, act, local) for kind, wid, act, local in stock} >= {
        ("activity", "<case>", "sandbox_probe_echo", True),
        ("activity", "<case>", "sandbox_probe_echo", False),
        ("workflow", "<case>", None, None),
        ("workflow", "<case>:consultation-1", None, None),
    }


async def test_the_worker_sandbox_runs_no_sandbox_code_to_answer_a_context_question(
    time_skipping_env: WorkflowEnvironment, task_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[str] = []
    original = _Instance._run_code

    def counting(self: _Instance, code: str, **extra: Any) -> None:
        executed.append(code)
        original(self, code, **extra)

    monkeypatch.setattr(_Instance, "_run_code", counting)
    await _contexts(time_skipping_env, workflow_runner(), task_queue)
    assert executed, "the workflows ran in the sandbox"
    assert not [c for c in executed if "get_serialization_context" in c]
    assert not [c for c in executed if "get_external_store_context" in c]
