"""Tiny workflows and an activity that record Samverkan metrics, for the scrape tests.

Kept apart from the test module so the workflow sandbox never imports httpx or pytest.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from cases import Agency, CaseStateName, ConsultationOutcomeKind, DeadlineKind
from infra import metrics


@activity.defn(name="probe_answer_consultation")
async def probe_answer_consultation() -> str:
    """Fails its first attempt (so the SDK counts a failure), then records an answer time."""
    if activity.info().attempt == 1:
        raise ApplicationError("agency system unavailable", type="ProbeUnavailable")
    metrics.record_consultation_answer_time(
        activity.metric_meter(),
        agency=Agency.POLICE,
        outcome=ConsultationOutcomeKind.ANSWERED,
        elapsed=timedelta(days=2),
    )
    return "answered"


@workflow.defn(name="ProbeCaseWorkflow")
class ProbeCaseWorkflow:
    """Moves through two states, each on its own workflow task, recording metrics as it goes."""

    @workflow.run
    async def run(self) -> str:
        meter = workflow.metric_meter()
        metrics.record_case_transition(
            meter,
            from_state=CaseStateName.RECEIVED,
            to_state=CaseStateName.PROTECTION_ASSESSMENT,
        )
        await workflow.sleep(timedelta(milliseconds=10))
        metrics.record_escalation(meter, kind=DeadlineKind.PRE_ASSESSMENT, rung="unit_manager")
        result = await workflow.execute_activity(
            probe_answer_consultation,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=50)),
        )
        metrics.record_deadline_breached(meter, kind=DeadlineKind.PRE_ASSESSMENT)
        return result


@workflow.defn(name="ProbeBrokenWorkflow")
class ProbeBrokenWorkflow:
    """Fails every workflow task, as a workflow with a bug does until a fixed worker ships."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("bug in workflow code")
