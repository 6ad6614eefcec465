"""A test-only case workflow: carries personal data through input, activity, child and result."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class ProbeInput(BaseModel):
    """A subject, as personal as it gets."""

    name: str
    personal_identity_number: str


class ProbeResult(BaseModel):
    """What the probe made of it."""

    greeting: str
    child_said: str


@activity.defn(name="probe_echo")
async def probe_echo(subject: ProbeInput) -> ProbeInput:
    """Echo the subject back (an activity's input and result are payloads too)."""
    return subject


@workflow.defn(name="CodecProbeChild")
class CodecProbeChild:
    """Stands in for a consultation: a child with id ``case-<n>:consultation-<k>``."""

    @workflow.run
    async def run(self, subject: ProbeInput) -> str:
        return f"consulted about {subject.name}"


@workflow.defn(name="CodecProbeWorkflow")
class CodecProbeWorkflow:
    """Stands in for a case workflow."""

    @workflow.run
    async def run(self, subject: ProbeInput) -> ProbeResult:
        echoed = await workflow.execute_activity(
            probe_echo, subject, start_to_close_timeout=timedelta(seconds=10)
        )
        child = await workflow.execute_child_workflow(
            CodecProbeChild.run, echoed, id=f"{workflow.info().workflow_id}:consultation-1"
        )
        return ProbeResult(greeting=f"hej {echoed.name}", child_said=child)
