"""Decisions about consultations with other agencies and consent (part of `decide`)."""

from __future__ import annotations

from datetime import datetime

from cases.access import check_consultation_request, check_legacy_request, check_statement
from cases.commands import (
    ChangeConsent,
    RecordDelivery,
    ReportConsultationOutcome,
    RequestConsultation,
)
from cases.decide_deadlines import deadline_met, require_text
from cases.envelope import DomainEvent
from cases.errors import Rejected
from cases.events import (
    ClockResumed,
    ClockSuspended,
    ConsentChanged,
    ConsultationAcknowledged,
    ConsultationAnswered,
    ConsultationDeclined,
    ConsultationDelivered,
    ConsultationExpired,
    ConsultationRequested,
    ExpiryCause,
)
from cases.ids import consultation_id
from cases.models import (
    Agency,
    ConsultationOutcomeKind,
    ConsultationStatusName,
    LegalBasis,
)
from cases.state import CaseState, ConsultationStatus

CONSENT_WAIT = "waiting_for_consent"


def consultation_requested(
    state: CaseState, command: RequestConsultation, now: datetime
) -> list[DomainEvent]:
    """Ask an agency; suspend its clock when consent is the basis and not yet given."""
    require_text(command.questions, "questions")
    if command.statement is None and command.legal_basis is not LegalBasis.NONE:
        # recorded before statements were required (new input without one is refused by
        # `check_new_input`): read against the table it was made under, so it replays
        check_legacy_request(
            state,
            agency=command.agency,
            legal_basis=command.legal_basis,
            questions=command.questions,
            now=now,
        )
    else:
        check_consultation_request(
            state,
            agency=command.agency,
            legal_basis=command.legal_basis,
            questions=command.questions,
            now=now,
        )
        check_statement(
            state, legal_basis=command.legal_basis, statement=command.statement, now=now
        )
    cid = consultation_id(state.case_number, state.next_consultation_number)
    events: list[DomainEvent] = [
        ConsultationRequested(
            consultation_id=cid,
            agency=command.agency,
            legal_basis=command.legal_basis,
            questions=command.questions,
            acute=command.acute,
            statement=command.statement,
            requested_by=command.requested_by,
            at=now,
        )
    ]
    if command.legal_basis is LegalBasis.CONSENT and not state.consent_given(command.agency):
        events.append(
            ClockSuspended(
                deadline_key=f"consultation:{cid}", consultation_id=cid, reason=CONSENT_WAIT, at=now
            )
        )
    return events


def consultations_ready(state: CaseState) -> list[ConsultationStatus]:
    """Requested consultations that may go out now, oldest first.

    A consultation goes out once: its answer deadline in the state is the mark that it
    has. One on the consent basis waits, its clock suspended, until consent is given.
    """
    ready = []
    for c in state.open_consultations():
        key = f"consultation:{c.consultation_id}"
        if key in state.deadlines or key in state.suspended_clocks:
            continue
        ready.append(c)
    return ready


def addressed_consultation(
    state: CaseState, agency: Agency, consultation_id: str | None
) -> ConsultationStatus:
    """The open consultation an agency's message is about (its own, oldest first)."""
    asked = [c for c in state.consultations.values() if c.agency is agency]
    if consultation_id is not None:
        asked = [c for c in asked if c.consultation_id == consultation_id]
    if not asked:
        raise Rejected(
            "agency_not_consulted", "agency", "this agency has not been asked in this consultation"
        )
    open_ones = [c for c in asked if c.is_open]
    if not open_ones:
        raise Rejected(
            "consultation_closed",
            "agency",
            "the consultation is already answered, declined or expired",
        )
    return open_ones[0]


def answered(
    state: CaseState, c: ConsultationStatus, answer: str, now: datetime
) -> list[DomainEvent]:
    """The agency's answer, which meets the consultation's deadline."""
    require_text(answer, "answer")
    return [
        ConsultationAnswered(
            consultation_id=c.consultation_id, agency=c.agency, answer=answer, at=now
        ),
        *deadline_met(state, f"consultation:{c.consultation_id}", now),
    ]


def delivered(state: CaseState, command: RecordDelivery, now: datetime) -> list[DomainEvent]:
    """The request reached the agency (recorded once)."""
    found = state.consultations.get(command.consultation_id)
    if found is None:
        raise Rejected("unknown_consultation", "consultation_id", "no such consultation")
    if found.delivered_at is not None or not found.is_open:
        return []
    return [
        ConsultationDelivered(
            consultation_id=found.consultation_id,
            agency=found.agency,
            delivered_at=command.delivered_at,
            at=now,
        )
    ]


def consultation_outcome(
    state: CaseState, command: ReportConsultationOutcome, now: datetime
) -> list[DomainEvent]:
    """How a consultation child workflow ended; a repeated report changes nothing."""
    c = state.consultations.get(command.consultation_id)
    if c is None or c.agency is not command.agency:
        raise Rejected(
            "agency_not_consulted",
            "consultation_id",
            "no consultation with this id was sent to this agency",
        )
    if not c.is_open:
        return []  # the outcome is already recorded: reporting it again changes nothing
    match command.outcome:
        case ConsultationOutcomeKind.ACKNOWLEDGED:
            if c.status is ConsultationStatusName.ACKNOWLEDGED:
                return []
            return [
                ConsultationAcknowledged(consultation_id=c.consultation_id, agency=c.agency, at=now)
            ]
        case ConsultationOutcomeKind.ANSWERED:
            return answered(state, c, command.detail, now)
        case ConsultationOutcomeKind.DECLINED:
            return [
                ConsultationDeclined(
                    consultation_id=c.consultation_id,
                    agency=c.agency,
                    reason=command.detail or "declined",
                    at=now,
                ),
                *deadline_met(state, f"consultation:{c.consultation_id}", now),
            ]
        case ConsultationOutcomeKind.EXPIRED:
            cause = ExpiryCause.NO_ANSWER
        case _:
            cause = ExpiryCause.DELIVERY_FAILED
    return [
        ConsultationExpired(consultation_id=c.consultation_id, agency=c.agency, cause=cause, at=now)
    ]


def consent_changed(state: CaseState, command: ChangeConsent, now: datetime) -> list[DomainEvent]:
    """Consent given or withdrawn, resuming or suspending consent-based clocks."""
    scopes = {"all", *(a.value for a in Agency)}
    if command.scope not in scopes:
        raise Rejected(
            "unknown_consent_scope",
            "scope",
            "scope must be 'all' or an agency: " + ", ".join(sorted(scopes)),
        )
    events: list[DomainEvent] = [
        ConsentChanged(given=command.given, scope=command.scope, by_whom=command.by_whom, at=now)
    ]
    after = state.model_copy(update={"consents": {**state.consents, command.scope: command.given}})
    for c in state.open_consultations():
        if c.legal_basis is not LegalBasis.CONSENT:
            continue
        key = f"consultation:{c.consultation_id}"
        suspended_at = state.suspended_clocks.get(key)
        if after.consent_given(c.agency) and suspended_at is not None:
            events.append(
                ClockResumed(
                    deadline_key=key,
                    consultation_id=c.consultation_id,
                    suspended_at=suspended_at,
                    at=now,
                )
            )
        elif not after.consent_given(c.agency) and suspended_at is None:
            events.append(
                ClockSuspended(
                    deadline_key=key, consultation_id=c.consultation_id, reason=CONSENT_WAIT, at=now
                )
            )
    return events
