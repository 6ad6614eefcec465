"""The baselines' workflows: bare Temporal code with the same shape as a Samverkan case.

`BareCase` issues the commands a `CaseWorkflow` issues for one complete case (as counted
from a recorded case history, see `bench.cases.shape_of`): local activities at the start,
an activity per operator update and per consultation report, children that deliver with an
activity, take the agency's ``acknowledge``/``answer`` updates and signal the parent. Every
activity is `noop`, so the difference to Samverkan is everything Samverkan does on top.
Benchmark 4 pads its bare case with search-attribute upserts (one history event each, no
extra workflow task) until its history has as many events as the Samverkan case's.
`BareSleeper` is the bare workflow waiting on a timer (benchmark 5).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

SLEEP_STATE = SearchAttributeKey.for_keyword("CaseState")


@activity.defn(name="noop")
async def noop(value: str) -> str:
    """Does nothing; returns its argument."""
    return value


@dataclass
class BareCaseInput:
    """How many commands the bare case issues where a Samverkan case issues its own."""

    local_activities_at_start: int = 3
    activities_at_start: int = 3
    activities_per_update: int = 1
    activities_per_report: int = 1
    upserts_at_start: int = 0  # benchmark 4: pads the history to the case's event count


@dataclass
class BareConsultationInput:
    parent_id: str


_ACT = {"start_to_close_timeout": timedelta(seconds=30)}


@workflow.defn(name="BareConsultation")
class BareConsultation:
    @workflow.init
    def __init__(self, request: BareConsultationInput) -> None:
        self._parent = request.parent_id
        self._answered = False

    @workflow.run
    async def run(self, request: BareConsultationInput) -> str:
        await workflow.execute_activity(noop, "deliver", **_ACT)  # type: ignore[arg-type]
        await self._report("delivered")
        await workflow.wait_condition(lambda: self._answered)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "answered"

    async def _report(self, kind: str) -> None:
        await workflow.get_external_workflow_handle(self._parent).signal("report", kind)

    @workflow.update(name="acknowledge")
    async def acknowledge(self, note: str) -> str:
        await self._report("acknowledged")
        return "acknowledged"

    @workflow.update(name="answer")
    async def answer(self, note: str) -> str:
        self._answered = True
        await self._report("answered")
        return "answered"


@workflow.defn(name="BareCase")
class BareCase:
    @workflow.init
    def __init__(self, shape: BareCaseInput) -> None:
        self._shape = shape
        self._reports = 0
        self._done = False
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self, shape: BareCaseInput) -> str:
        async with self._lock:
            for _ in range(shape.local_activities_at_start):
                await workflow.execute_local_activity(noop, "local", **_ACT)  # type: ignore[arg-type]
            for k in range(shape.upserts_at_start):
                workflow.upsert_search_attributes([SLEEP_STATE.value_set(f"step-{k}")])
            await self._activities(shape.activities_at_start)
        while not self._done:
            await workflow.wait_condition(lambda: self._reports > 0 or self._done)
            async with self._lock:
                while self._reports:
                    self._reports -= 1
                    await self._activities(shape.activities_per_report)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    async def _activities(self, count: int) -> None:
        for _ in range(count):
            await workflow.execute_activity(noop, "step", **_ACT)  # type: ignore[arg-type]

    @workflow.signal(name="report")
    def report(self, kind: str) -> None:
        self._reports += 1

    @workflow.update(name="step")
    async def step(self, note: str) -> str:
        async with self._lock:
            await self._activities(self._shape.activities_per_update)
        return "ok"

    @workflow.update(name="consult")
    async def consult(self, child_id: str) -> str:
        async with self._lock:
            await self._activities(self._shape.activities_per_update)
            await workflow.start_child_workflow(
                BareConsultation.run,
                BareConsultationInput(parent_id=workflow.info().workflow_id),
                id=child_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        return child_id

    @workflow.update(name="close")
    async def close(self, note: str) -> str:
        async with self._lock:
            await self._activities(self._shape.activities_per_update)
            self._done = True
        return "closed"


@workflow.defn(name="BareSleeper")
class BareSleeper:
    """A bare workflow that says it is waiting (search attribute) and sleeps on a timer."""

    @workflow.run
    async def run(self, days: int) -> str:
        workflow.upsert_search_attributes([SLEEP_STATE.value_set("sleeping")])
        await workflow.sleep(timedelta(days=days))
        return "woke"


BARE_WORKFLOWS = [BareCase, BareConsultation, BareSleeper]
