"""The worker's sandbox (`infra.sandbox`) gives the SDK the same serialization contexts as
the stock sandbox, for every kind of command, without running code in the sandbox for it;
on another ``temporalio`` than the one it was checked against, or without the SDK's private
instance class, `workflow_runner` is the stock sandbox and says so in one log line."""

from __future__ import annotations

import importlib.metadata
import logging
import re
import uuid
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
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
from temporalio.worker.workflow_sandbox import _runner as sdk_runner
from temporalio.worker.workflow_sandbox._runner import _Instance

from infra import sandbox
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


def _sandbox_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What `infra.sandbox` logged, each line with its level."""
    return [f"{r.levelname}: {r.getMessage()}" for r in caplog.records if r.name == "infra.sandbox"]


def _passthrough(runner: SandboxedWorkflowRunner) -> set[str]:
    return set(runner.restrictions.passthrough_modules)


def test_the_checked_temporalio_version_is_the_one_pinned() -> None:
    lock = (Path(__file__).resolve().parents[2] / "requirements.lock").read_text()
    [pinned] = re.findall(r"^temporalio==(\S+)$", lock, flags=re.MULTILINE)
    assert pinned == sandbox.CHECKED_TEMPORALIO_VERSION


def test_on_the_checked_temporalio_the_worker_sandbox_is_the_direct_runner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert importlib.metadata.version("temporalio") == sandbox.CHECKED_TEMPORALIO_VERSION
    with caplog.at_level(logging.DEBUG, logger="infra.sandbox"):
        runner = workflow_runner("bench")
    assert type(runner) is DirectContextRunner
    assert _passthrough(runner) >= {*PASSTHROUGH_MODULES, "bench"}
    assert _sandbox_lines(caplog) == []


async def test_on_another_temporalio_the_worker_sandbox_is_the_stock_runner_and_says_so_once(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    installed = importlib.metadata.version("temporalio")
    monkeypatch.setattr(sandbox, "CHECKED_TEMPORALIO_VERSION", "1.34.0")
    with caplog.at_level(logging.DEBUG, logger="infra.sandbox"):
        runner = workflow_runner("bench")
    assert type(runner) is SandboxedWorkflowRunner
    assert _passthrough(runner) >= {*PASSTHROUGH_MODULES, "bench"}
    [line] = _sandbox_lines(caplog)
    assert line.startswith("WARNING: ")
    assert "SandboxedWorkflowRunner" in line
    assert f"temporalio {installed} is not 1.34.0" in line
    # and it runs the probe pair with the contexts the codec relies on
    seen = await _contexts(time_skipping_env, runner, task_queue)
    assert ("workflow", "<case>:consultation-1", None, None) in seen


def test_without_the_sdks_private_instance_class_the_worker_sandbox_is_the_stock_runner(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(sdk_runner, "_Instance")  # an SDK that renamed or moved it
    sandbox._direct_instance_class.cache_clear()
    try:
        with caplog.at_level(logging.DEBUG, logger="infra.sandbox"):
            runner = workflow_runner()
        assert type(runner) is SandboxedWorkflowRunner
        [line] = _sandbox_lines(caplog)
        assert line.startswith("WARNING: ")
        assert "no private sandbox _Instance" in line
    finally:
        sandbox._direct_instance_class.cache_clear()  # rebuilt once the SDK's class is back
