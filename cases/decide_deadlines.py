"""Decisions about deadlines: met, breached, recorded, escalated (part of `decide`)."""

from __future__ import annotations

from datetime import datetime

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
)
from cases.models import (
    DeadlineKind,
)
from cases.state import CaseState


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
