"""Appends run as local activities, with the durable activity as fallback (patch
``samverkan-local-appends``).

A local append finishes the step in the workflow task that decided it. When the database
does not take the batch within the local window, the same batch goes on as a regular
activity (whose retries add nothing to history); a batch the store refuses fails at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cases import Envelope
from eventstore import AppendResult, InMemoryEventStore, WrongExpectedVersion
from tests.agencies.support import SimulatorAdmin
from tests.waiting import eventually
from tests.workflows.conftest import (
    CaseStack,
    activity_call,
    activity_calls,
    running_stack,
    stored_types,
)
from workflows import steps


class UnreliableStore(InMemoryEventStore):
    """An in-memory store whose database can be "down" (appends fail, retryably) or refuse
    the batches holding an event of a given type (as a stale writer's would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refuse: str | None = None
        self.calls = 0

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
    ) -> AppendResult:
        self.calls += 1
        if self.down:
            raise ConnectionRefusedError("the database does not answer")
        if self.refuse in {e.type for e in envelopes}:
            raise WrongExpectedVersion(case_id, expected_version, expected_version + 1)
        return await super().append(case_id, expected_version, envelopes, validated=validated)


@pytest_asyncio.fixture
async def unreliable(
    module_time_skipping_env: WorkflowEnvironment,
    workflow_simulator: SimulatorAdmin,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[CaseStack, UnreliableStore]]:
    quick = dataclasses.replace(
        steps.LOCAL_APPEND_RETRY, initial_interval=timedelta(seconds=0.2), maximum_attempts=3
    )
    monkeypatch.setattr(steps, "LOCAL_APPEND_RETRY", quick)
    store = UnreliableStore()
    async with running_stack(
        module_time_skipping_env, workflow_simulator, task_queue, store
    ) as stack:
        yield stack, store


async def _calls(handle: WorkflowHandle[Any, Any], *, local: bool) -> list[str]:
    history = await handle.fetch_history()
    return activity_calls(history, regular=not local, local=local)


async def test_a_step_is_appended_by_a_local_activity_when_the_database_answers(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
    )
    assert await _calls(handle, local=True) == [
        "load_policy",
        "compute_deadline",
        "compute_deadline",
        "append_events",  # the report and both deadlines
        "append_events",  # the protection assessment
    ]
    assert await _calls(handle, local=False) == []  # no activity task through the server
    assert await stored_types(stack, handle) == [
        "ReportReceived",
        "DeadlineSet",
        "DeadlineSet",
        "ProtectionAssessed",
        "DeadlineMet",
    ]


async def test_an_append_the_database_does_not_take_in_time_goes_on_as_an_activity(
    unreliable: tuple[CaseStack, UnreliableStore],
) -> None:
    stack, store = unreliable
    store.down = True
    handle = await stack.open()

    async def handed_to_the_server() -> bool:
        return "append_events" in await _calls(handle, local=False)

    await eventually(handed_to_the_server, seconds=30)
    history = await handle.fetch_history()
    [local_append] = [
        e.marker_recorded_event_attributes
        for e in history.events
        if activity_call(e) == ("append_events", True)
    ]
    assert local_append.HasField("failure")  # given up after its attempts, then handed over
    assert json.loads(local_append.details["data"].payloads[0].data)["attempt"] == 3
    store.down = False

    async def opened() -> bool:
        return len(await stored_types(stack, handle)) == 3

    await eventually(opened, seconds=30)
    assert await stored_types(stack, handle) == ["ReportReceived", "DeadlineSet", "DeadlineSet"]
    assert await _calls(handle, local=False) == ["append_events"]
    summary = await handle.query("summary")
    assert {"protection_assessment", "pre_assessment"} <= set(summary["deadlines"])


async def test_a_refused_local_append_fails_the_step_without_a_retry_as_an_activity(
    unreliable: tuple[CaseStack, UnreliableStore],
) -> None:
    stack, store = unreliable
    store.refuse = "ProtectionAssessed"
    handle = await stack.open()
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"},
        )
    assert await _calls(handle, local=False) == []
    assert "ProtectionAssessed" not in await stored_types(stack, handle)
