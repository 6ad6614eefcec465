"""The case workflow's calls to the outside world, and how its signals become events.

Each function here is one activity call with its timeouts, retries and summary (what the
Web UI shows on the event), so `CaseWorkflow` reads as the law's steps and not as
plumbing. Only workflow code calls these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import cases
    from activities.deadlines import DeadlineRequest, PlannedDeadline
    from activities.errors import APPEND_ERRORS, NOTIFICATION_ERRORS
    from activities.eventstore import AppendEventsRequest, AppendEventsResult
    from activities.notifications import EscalationNotice
    from cases import (
        AddInformation,
        Agency,
        CaseState,
        ChangeConsent,
        DeadlineKind,
        DomainEvent,
        Envelope,
        Policy,
        Rejected,
        ScheduledRung,
    )
    from workflows.messages import ConsultationReport, ReportKind

__all__ = ["PlannedDeadline", "append_events", "compute_deadline", "events_for_signal"]

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


async def compute_deadline(
    kind: DeadlineKind,
    start: datetime,
    *,
    policy: Policy,
    agency: Agency | None = None,
    acute: bool = False,
    key: str | None = None,
    until: date | None = None,
) -> PlannedDeadline:
    """A deadline and its escalation schedule, computed with the holiday calendar."""
    planned: PlannedDeadline = await workflow.execute_local_activity(
        "compute_deadline",
        DeadlineRequest(
            kind=kind, start=start, policy=policy, agency=agency, acute=acute, key=key, until=until
        ),
        result_type=PlannedDeadline,
        start_to_close_timeout=timedelta(seconds=10),
        summary=f"compute the {kind.value.replace('_', ' ')} deadline",
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


@dataclass
class SignalOutcome:
    """The events one signal turns into, who they are attributed to, and a rung to notify."""

    events: list[DomainEvent]
    actor: str
    rung: ScheduledRung | None = field(default=None)


SIGNAL_ACTOR = "system:signal"
#: Rung index of the escalation raised when an agency refuses a delivery; past any ladder's end.
DELIVERY_FAILED_RUNG = 100


def events_for_signal(
    state: CaseState, item: dict[str, Any], *, now: datetime, policy: Policy | None
) -> SignalOutcome:
    """Validate one queued signal and decide its events; a bad one becomes ``SignalRejected``."""
    signal, body = item["signal"], item["body"]
    try:
        if signal == "add_information":
            info = AddInformation.model_validate(body)
            return SignalOutcome(cases.decide(state, info, now=now, policy=policy), info.source)
        if signal == "consent_changed":
            consent = ChangeConsent.model_validate(body)
            return SignalOutcome(
                cases.decide(state, consent, now=now, policy=policy), consent.by_whom
            )
        report = ConsultationReport.model_validate(body)
    except ValidationError as exc:
        return SignalOutcome(
            [cases.SignalRejected.from_validation_error(signal, exc, at=now)], SIGNAL_ACTOR
        )
    except Rejected as exc:
        return SignalOutcome(
            [cases.SignalRejected.from_rejected(signal, exc, at=now)], SIGNAL_ACTOR
        )
    try:
        return _events_for_report(state, report, now=now, policy=policy)
    except Rejected as exc:
        return SignalOutcome(
            [cases.SignalRejected.from_rejected(signal, exc, at=now)], SIGNAL_ACTOR
        )


def _events_for_report(
    state: CaseState, report: ConsultationReport, *, now: datetime, policy: Policy | None
) -> SignalOutcome:
    actor = f"agency:{report.agency.value}"
    if report.kind is ReportKind.ESCALATED:
        if report.rung is None:
            raise Rejected("missing_rung", "rung", "an escalation report names its rung")
        command: Any = cases.RaiseEscalation.from_rung(report.rung)
        events = cases.decide(state, command, now=now, policy=policy)
        return SignalOutcome(events, actor, rung=report.rung if events else None)
    if report.kind is ReportKind.DELIVERED:
        command = cases.RecordDelivery(
            consultation_id=report.consultation_id, delivered_at=report.at
        )
        return SignalOutcome(cases.decide(state, command, now=now, policy=policy), actor)
    outcome = {
        ReportKind.ACKNOWLEDGED: cases.ConsultationOutcomeKind.ACKNOWLEDGED,
        ReportKind.ANSWERED: cases.ConsultationOutcomeKind.ANSWERED,
        ReportKind.DECLINED: cases.ConsultationOutcomeKind.DECLINED,
        ReportKind.EXPIRED: cases.ConsultationOutcomeKind.EXPIRED,
        ReportKind.DELIVERY_FAILED: cases.ConsultationOutcomeKind.FAILED,
    }[report.kind]
    command = cases.ReportConsultationOutcome(
        consultation_id=report.consultation_id,
        agency=report.agency,
        outcome=outcome,
        detail=report.detail,
    )
    if report.kind is not ReportKind.DELIVERY_FAILED:
        return SignalOutcome(cases.decide(state, command, now=now, policy=policy), actor)
    # The agency refused the request: a person must act, at once (never a retry loop).
    rung = ScheduledRung(
        deadline_key=f"consultation:{report.consultation_id}",
        rung_index=DELIVERY_FAILED_RUNG,
        rung_name="delivery_failed",
        fire_at=now,
        role=cases.Role.OFFICER,
        action=cases.EscalationAction.NOTIFY,
    )
    raised = cases.decide(state, cases.RaiseEscalation.from_rung(rung), now=now, policy=policy)
    after = state
    for event in raised:
        after = cases.apply(after, event)
    expired = cases.decide(after, command, now=now, policy=policy)
    return SignalOutcome([*raised, *expired], actor, rung=rung if raised else None)
