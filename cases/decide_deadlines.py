"""Decisions about deadlines: started, recorded, met, breached, escalated (part of `decide`).

Which deadlines a step starts is decided here (`deadlines_at_report`,
`deadlines_started_by`, `consultation_deadline`); the workflow computes each with the
holiday calendar in a local activity and records it with `RecordDeadline`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from cases.commands import (
    RaiseEscalation,
    RecordBreach,
    RecordDeadline,
)
from cases.envelope import DomainEvent
from cases.errors import Rejected
from cases.events import (
    DeadlineBreached,
    DeadlineMet,
    DeadlineSet,
    EscalationRaised,
    FeedbackDue,
    ImmediateCustodyDecided,
    InvestigationExtended,
    InvestigationOpened,
    PreAssessmentExtended,
)
from cases.models import (
    Agency,
    DeadlineKind,
)
from cases.state import CaseState, ConsultationStatus


@dataclass(frozen=True)
class DeadlineToSet:
    """A deadline a step starts: what the deadline activity computes (`compute_deadline`'s
    arguments but the policy), to be recorded with `RecordDeadline`."""

    kind: DeadlineKind
    start: datetime
    until: date | None = None
    agency: Agency | None = None
    acute: bool = False
    key: str | None = None


def deadlines_at_report(state: CaseState) -> list[DeadlineToSet]:
    """A report starts two deadlines, both from receipt: the protection assessment and the
    pre-assessment (SoL 11:1 a), in that order."""
    return [
        DeadlineToSet(DeadlineKind.PROTECTION_ASSESSMENT, state.received_at),
        DeadlineToSet(DeadlineKind.PRE_ASSESSMENT, state.received_at),
    ]


def deadlines_started_by(events: Iterable[DomainEvent], *, now: datetime) -> list[DeadlineToSet]:
    """The deadlines ``events`` start, running from ``now``, in the events' order: an opened
    investigation its four months (SoL 11:2), an extension the new last day it decided
    (the pre-assessment's too), feedback owed to a reporter its days, and an immediate
    custody its LVU 7 § week (from the decision) and LVU 8 § four weeks (from when it was
    carried out)."""
    started = []
    for event in events:
        if isinstance(event, InvestigationOpened):
            started.append(DeadlineToSet(DeadlineKind.INVESTIGATION, now))
        elif isinstance(event, InvestigationExtended):
            started.append(DeadlineToSet(DeadlineKind.INVESTIGATION, now, until=event.until))
        elif isinstance(event, PreAssessmentExtended):
            started.append(DeadlineToSet(DeadlineKind.PRE_ASSESSMENT, now, until=event.until))
        elif isinstance(event, FeedbackDue):
            started.append(DeadlineToSet(DeadlineKind.FEEDBACK_TO_REPORTER, now))
        elif isinstance(event, ImmediateCustodyDecided):
            started.append(DeadlineToSet(DeadlineKind.CUSTODY_SUBMISSION, event.decided_at))
            started.append(DeadlineToSet(DeadlineKind.CARE_APPLICATION, event.carried_out_at))
    return started


def consultation_deadline(consultation: ConsultationStatus, *, now: datetime) -> DeadlineToSet:
    """A consultation's answer deadline, running from its delivery at ``now``."""
    return DeadlineToSet(
        DeadlineKind.CONSULTATION,
        now,
        agency=consultation.agency,
        acute=consultation.acute,
        key=f"consultation:{consultation.consultation_id}",
    )


def require_text(value: str, field: str) -> None:
    """Refuse a blank free-text field, naming it."""
    if not value.strip():
        raise Rejected(f"{field}_required", field, f"{field} must not be blank")


def deadline_met(state: CaseState, key: str, now: datetime) -> list[DomainEvent]:
    """`DeadlineMet` for ``key`` unless already met; late when after ``legal_latest``."""
    status = state.deadline_status.get(key)
    if status is not None and status.met_at is not None:
        return []
    deadline = state.deadlines.get(key)
    late = deadline is not None and now > deadline.legal_latest
    return [DeadlineMet(deadline_key=key, late=late, at=now)]


def _known_key(state: CaseState, key: str) -> bool:
    if key.startswith("consultation:"):
        return key.removeprefix("consultation:") in state.consultations
    return key in {k.value for k in DeadlineKind if k is not DeadlineKind.CONSULTATION}


def record_deadline(state: CaseState, command: RecordDeadline) -> list[DomainEvent]:
    """Record a computed deadline; the same deadline again changes nothing."""
    deadline = command.deadline
    if not _known_key(state, deadline.key):
        raise Rejected(
            "unknown_deadline", "deadline.key", "the deadline key names no deadline of this case"
        )
    if state.deadlines.get(deadline.key) == deadline:
        return []
    return [DeadlineSet(deadline=deadline)]


def escalate(state: CaseState, command: RaiseEscalation, now: datetime) -> list[DomainEvent]:
    """Raise a rung exactly once, and never for a settled deadline."""
    if command.deadline_key not in state.deadlines:
        raise Rejected("unknown_deadline", "deadline_key", "the case has no such deadline")
    if (command.deadline_key, command.rung_index) in state.escalations_raised:
        return []  # each rung fires exactly once
    if state.deadline_is_settled(command.deadline_key):
        return []
    return [
        EscalationRaised(
            deadline_key=command.deadline_key,
            rung_index=command.rung_index,
            rung_name=command.rung_name,
            role=command.role,
            action=command.action,
            at=now,
        )
    ]


def breach(state: CaseState, command: RecordBreach, now: datetime) -> list[DomainEvent]:
    """Record a breach once ``legal_latest`` has passed without the deadline's decision."""
    deadline = state.deadlines.get(command.deadline_key)
    if deadline is None:
        raise Rejected("unknown_deadline", "deadline_key", "the case has no such deadline")
    if now <= deadline.legal_latest:
        raise Rejected(
            "deadline_not_passed", "deadline_key", "the deadline's legal latest day has not passed"
        )
    status = state.deadline_status.get(command.deadline_key)
    if (
        state.deadline_is_settled(command.deadline_key)
        or command.deadline_key in state.suspended_clocks
        or (status is not None and status.breached_at is not None)
    ):
        return []
    return [
        DeadlineBreached(
            deadline_key=command.deadline_key, legal_latest=deadline.legal_latest, at=now
        )
    ]
