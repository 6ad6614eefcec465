"""The case workflow's calls to the outside world.

Each function here is one activity call with its timeouts, retries and summary (what the
Web UI shows on the event), so `CaseWorkflow` reads as the law's steps and not as
plumbing. Only workflow code calls these. (How a signal becomes events is the domain's:
`cases.decide_signal`.)
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.deadlines import DeadlineRequest, PlannedDeadline
    from activities.errors import APPEND_ERRORS, NOTIFICATION_ERRORS
    from activities.eventstore import AppendEventsRequest, AppendEventsResult
    from activities.notifications import EscalationNotice
    from cases import DeadlineToSet, Envelope, Policy, ScheduledRung

__all__ = [
    "PlannedDeadline",
    "append_events",
    "compute_deadline",
    "load_policy",
    "notify_escalation",
]

#: A database that is down makes appends wait and retry; they never give up on their own.
APPEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=list(APPEND_ERRORS),
)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=list(NOTIFICATION_ERRORS),
)


async def load_policy() -> Policy:
    """The policy in force when the case opened, recorded in history."""
    policy: Policy = await workflow.execute_local_activity(
        "load_policy",
        result_type=Policy,
        start_to_close_timeout=timedelta(seconds=10),
        summary="load the case policy",
    )
    return policy.interned()  # one shared copy per value for every cached case


async def compute_deadline(deadline: DeadlineToSet, *, policy: Policy) -> PlannedDeadline:
    """A deadline and its escalation schedule, computed with the holiday calendar."""
    planned: PlannedDeadline = await workflow.execute_local_activity(
        "compute_deadline",
        DeadlineRequest(
            kind=deadline.kind,
            start=deadline.start,
            policy=policy,
            agency=deadline.agency,
            acute=deadline.acute,
            key=deadline.key,
            until=deadline.until,
        ),
        result_type=PlannedDeadline,
        start_to_close_timeout=timedelta(seconds=10),
        summary=f"compute the {deadline.kind.value.replace('_', ' ')} deadline",
    )
    return planned


async def append_events(case_id: str, expected_version: int, envelopes: list[Envelope]) -> None:
    """Append one step's events to the event store (idempotent on event id)."""
    await workflow.execute_activity(
        "append_events",
        AppendEventsRequest(
            case_id=case_id, expected_version=expected_version, envelopes=envelopes
        ),
        result_type=AppendEventsResult,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=APPEND_RETRY,
        summary="record " + ", ".join(e.type for e in envelopes),
    )


async def notify_escalation(case_number: str, rung: ScheduledRung) -> None:
    """Tell the rung's role about an escalation: case number, deadline and rung only."""
    await workflow.execute_activity(
        "notify_escalation",
        EscalationNotice(
            case_number=case_number,
            deadline_kind=rung.deadline_key.split(":", 1)[0],
            deadline_key=rung.deadline_key,
            rung_index=rung.rung_index,
            rung_name=rung.rung_name,
            role=str(rung.role),
            action=str(rung.action),
            due=rung.fire_at,
        ),
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=NOTIFY_RETRY,
        summary=f"notify {rung.role}: {rung.rung_name}",
    )
