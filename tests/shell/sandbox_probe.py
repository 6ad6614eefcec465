"""A test-only workflow pair that gives a payload to every kind of command whose payloads
get a serialization context of their own: local activity, activity, child workflow, signal
to another workflow, timer summary, and the workflow's own result."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="sandbox_probe_echo")
async def sandbox_probe_echo(text: str) -> str:
    """Echo ``text`` (its input and result are payloads)."""
    return text


@workflow.defn(name="SandboxProbeChild")
class SandboxProbeChild:
    """Stands in for a consultation: signals its parent, then ends."""

    @workflow.run
    async def run(self, parent_id: str) -> str:
        await workflow.get_external_workflow_handle(parent_id).signal("report", "answered")
        return "child done"


@workflow.defn(name="SandboxProbeWorkflow")
class SandboxProbeWorkflow:
    """Stands in for a case."""

    def __init__(self) -> None:
        self._reports: list[str] = []

    @workflow.signal(name="report")
    def report(self, text: str) -> None:
        self._reports.append(text)

    @workflow.run
    async def run(self, text: str) -> list[str]:
        timeout = timedelta(seconds=10)
        local = await workflow.execute_local_activity(
            sandbox_probe_echo, text, start_to_close_timeout=timeout, summary="local echo"
        )
        remote = await workflow.execute_activity(
            sandbox_probe_echo, text, start_to_close_timeout=timeout, summary="echo"
        )
        child = await workflow.execute_child_workflow(
            SandboxProbeChild.run,
            workflow.info().workflow_id,
            id=f"{workflow.info().workflow_id}:consultation-1",
        )
        await workflow.wait_condition(lambda: bool(self._reports))
        await workflow.sleep(timedelta(seconds=1), summary="a short wait")
        return [local, remote, child, *self._reports]
