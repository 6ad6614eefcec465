"""How a case's signals become events (part of the domain's decisions, next to `decide`).

Signals are notices that need no answer: new information, a change of consent, and a
consultation's reports of what happened to it. A signal's body arrives as plain JSON; it
is validated here, and one that is malformed or that the case refuses is recorded as
`SignalRejected` instead of failing the workflow. `decide_signal` answers with the events
to record, whom they are attributed to, and the escalation rung to notify, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from cases.commands import (
    AddInformation,
    ChangeConsent,
    RaiseEscalation,
    RecordDelivery,
    ReportConsultationOutcome,
)
from cases.deadlines import ScheduledRung
from cases.decide import decide
from cases.envelope import DomainEvent
from cases.errors import Rejected
from cases.events import SignalRejected
from cases.models import (
    Agency,
    ConsultationOutcomeKind,
    DomainModel,
    EscalationAction,
    InformationSource,
    Role,
)
from cases.policy import Policy
from cases.state import CaseState, apply

#: Who a rejected signal's ``SignalRejected`` is recorded for.
SIGNAL_ACTOR = "system:signal"
#: Who a change of consent is recorded for (and the disclosures it lets go out): never
#: ``by_whom``, which is personal and sealed in the event, while the actor is in clear.
CONSENT_ACTOR = "system:consent"
#: Rung index of the escalation raised when an agency refuses a delivery; past any ladder's end.
DELIVERY_FAILED_RUNG = 100


class ReportKind(StrEnum):
    """What a consultation tells its case."""

    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    DECLINED = "declined"
    ESCALATED = "escalated"
    EXPIRED = "expired"


class ConsultationReport(DomainModel):
    """A consultation's signal to its case (``consultation_report``); ``detail`` holds an
    answer's text (personal) or a decline's reason."""

    consultation_id: str
    agency: Agency
    kind: ReportKind
    at: datetime
    detail: str = ""
    rung: ScheduledRung | None = None
    error_type: str | None = None


#: The consultation outcome each ending report records.
_OUTCOMES = {
    ReportKind.ACKNOWLEDGED: ConsultationOutcomeKind.ACKNOWLEDGED,
    ReportKind.ANSWERED: ConsultationOutcomeKind.ANSWERED,
    ReportKind.DECLINED: ConsultationOutcomeKind.DECLINED,
    ReportKind.EXPIRED: ConsultationOutcomeKind.EXPIRED,
    ReportKind.DELIVERY_FAILED: ConsultationOutcomeKind.FAILED,
}


@dataclass
class SignalOutcome:
    """The events one signal turns into, who they are attributed to, and a rung to notify."""

    events: list[DomainEvent]
    actor: str
    rung: ScheduledRung | None = field(default=None)


def decide_signal(
    state: CaseState,
    signal: str,
    body: Any,
    *,
    now: datetime,
    policy: Policy | None,
    strict: bool = True,
) -> SignalOutcome:
    """Validate one signal's ``body`` and decide its events at ``now``.

    ``signal`` is ``add_information``, ``consent_changed`` or (any other name)
    ``consultation_report``. A body that does not validate, or a command the case refuses,
    becomes one ``SignalRejected`` naming fields and rules only, never a value.

    ``strict`` (new signals) refuses an ``add_information`` whose ``source`` is not an
    `InformationSource`. Without it (a signal replayed from a history recorded before the
    list existed) such a source reads as ``other``, so the replay records the events the
    original run did, and the free text goes no further. Information is attributed to its
    source, a change of consent to `CONSENT_ACTOR` (``by_whom`` is personal).
    """
    try:
        if signal == "add_information":
            info = AddInformation.model_validate(body if strict else _legacy_information(body))
            return SignalOutcome(decide(state, info, now=now, policy=policy), info.source.value)
        if signal == "consent_changed":
            consent = ChangeConsent.model_validate(body)
            return SignalOutcome(decide(state, consent, now=now, policy=policy), CONSENT_ACTOR)
        report = ConsultationReport.model_validate(body)
    except ValidationError as exc:
        return SignalOutcome(
            [SignalRejected.from_validation_error(signal, exc, at=now)], SIGNAL_ACTOR
        )
    except Rejected as exc:
        return SignalOutcome([SignalRejected.from_rejected(signal, exc, at=now)], SIGNAL_ACTOR)
    try:
        return decide_report(state, report, now=now, policy=policy)
    except Rejected as exc:
        return SignalOutcome([SignalRejected.from_rejected(signal, exc, at=now)], SIGNAL_ACTOR)


def _legacy_information(body: Any) -> Any:
    """An ``add_information`` body as recorded before sources were a closed list: a free
    text ``source`` reads as ``other``."""
    if isinstance(body, dict) and "source" in body:
        return {**body, "source": InformationSource.reading(body["source"])}
    return body


def decide_report(
    state: CaseState, report: ConsultationReport, *, now: datetime, policy: Policy | None
) -> SignalOutcome:
    """The events a consultation's report causes, attributed to its agency.

    An escalation raises the reported rung (once); a delivery is recorded; an ending is
    recorded as the consultation's outcome. A refused delivery is escalated to the case
    officer at once (never retried in a loop), then the consultation expires.

    Raises:
        Rejected: an escalation report without its rung, or a report the case refuses.
    """
    actor = f"agency:{report.agency.value}"
    if report.kind is ReportKind.ESCALATED:
        if report.rung is None:
            raise Rejected("missing_rung", "rung", "an escalation report names its rung")
        events = decide(state, RaiseEscalation.from_rung(report.rung), now=now, policy=policy)
        return SignalOutcome(events, actor, rung=report.rung if events else None)
    if report.kind is ReportKind.DELIVERED:
        delivery = RecordDelivery(consultation_id=report.consultation_id, delivered_at=report.at)
        return SignalOutcome(decide(state, delivery, now=now, policy=policy), actor)
    outcome = ReportConsultationOutcome(
        consultation_id=report.consultation_id,
        agency=report.agency,
        outcome=_OUTCOMES[report.kind],
        detail=report.detail,
    )
    if report.kind is not ReportKind.DELIVERY_FAILED:
        return SignalOutcome(decide(state, outcome, now=now, policy=policy), actor)
    # The agency refused the request: a person must act, at once (never a retry loop).
    rung = ScheduledRung(
        deadline_key=f"consultation:{report.consultation_id}",
        rung_index=DELIVERY_FAILED_RUNG,
        rung_name="delivery_failed",
        fire_at=now,
        role=Role.OFFICER,
        action=EscalationAction.NOTIFY,
    )
    raised = decide(state, RaiseEscalation.from_rung(rung), now=now, policy=policy)
    after = state
    for event in raised:
        after = apply(after, event)
    expired = decide(after, outcome, now=now, policy=policy)
    return SignalOutcome([*raised, *expired], actor, rung=rung if raised else None)
