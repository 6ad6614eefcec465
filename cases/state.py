"""`CaseState` and the fold: ``apply(state, event) -> state``.

The one fold both the case workflow and the PostgreSQL projections use, so the case held
by a workflow and the case read from the event store agree. `apply` is total over every
event `decide` emits (and `DeadlineSet`, `SignalRejected`, `DisclosureRecorded` that the
workflow records), never computes a deadline, and reads no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import AwareDatetime, Field

from cases.deadlines import Deadline
from cases.disclosure import DisclosureStatement
from cases.envelope import DomainEvent
from cases.events import (
    CaseClosed,
    ChildViewsRecorded,
    ClockResumed,
    ClockSuspended,
    ConsentChanged,
    ConsultationAcknowledged,
    ConsultationAnswered,
    ConsultationDeclined,
    ConsultationDelivered,
    ConsultationExpired,
    ConsultationRequested,
    CourtFilingMade,
    DeadlineBreached,
    DeadlineMet,
    DeadlineSet,
    DisclosureRecorded,
    EscalationRaised,
    FeedbackDue,
    FeedbackSent,
    FollowUpStarted,
    ImmediateCustodyDecided,
    ImmediateCustodyLapsed,
    InformationAdded,
    InformationGiven,
    InvestigationConcluded,
    InvestigationDeclined,
    InvestigationExtended,
    InvestigationOpened,
    PreAssessmentExtended,
    ProtectionAssessed,
    ReportJoined,
    ReportReceived,
    SignalRejected,
    SubjectIdentified,
    event_time,
)
from cases.ids import parse_workflow_id
from cases.models import (
    CUSTODY_DEADLINES,
    Agency,
    AgePath,
    CaseStateName,
    ConcernCategory,
    ConsultationStatusName,
    DeadlineKind,
    DomainModel,
    InvestigationOutcome,
    LegalBasis,
    ReporterKind,
    Subject,
    YoungAdultBasis,
)
from cases.workdays import local_date

OPEN_CONSULTATION = frozenset(
    {ConsultationStatusName.REQUESTED, ConsultationStatusName.ACKNOWLEDGED}
)
PERSONAL_STATE_FIELDS = frozenset({"subject", "summary"})
"""Fields of `CaseState` that hold personal data (``questions`` of consultations too)."""


class UnexpectedEvent(ValueError):
    """An event that cannot follow the state it is applied to (a corrupt or foreign stream)."""


class ConsultationStatus(DomainModel):
    """One consultation with another agency, as the case sees it. ``questions`` is personal."""

    consultation_id: str
    agency: Agency
    legal_basis: LegalBasis
    acute: bool = False
    questions: str = ""
    status: ConsultationStatusName = ConsultationStatusName.REQUESTED
    requested_at: AwareDatetime
    delivered_at: AwareDatetime | None = None
    acknowledged_at: AwareDatetime | None = None
    answered_at: AwareDatetime | None = None
    declined_at: AwareDatetime | None = None
    expired_at: AwareDatetime | None = None
    disclosed_fields: tuple[str, ...] = ()
    statement: DisclosureStatement | None = None  # personal: what the requester stated
    requested_by: str | None = None

    @property
    def is_open(self) -> bool:
        """True while the agency may still acknowledge or answer."""
        return self.status in OPEN_CONSULTATION


class DeadlineStatus(DomainModel):
    """Whether a deadline was met (and whether late) or breached, and when."""

    met_at: AwareDatetime | None = None
    late: bool = False
    breached_at: AwareDatetime | None = None

    @property
    def label(self) -> str:
        """``met``, ``met_late``, ``breached`` or ``open``."""
        if self.met_at is not None:
            return "met_late" if self.late else "met"
        return "breached" if self.breached_at is not None else "open"


class CaseState(DomainModel):
    """A case folded from its events. ``subject``, ``summary`` and consultation questions
    are personal data; `to_summary` leaves them out."""

    case_number: str
    municipality: str
    state: CaseStateName
    urgent: bool = False
    mandatory_reporter: bool
    reporter_kind: ReporterKind
    received_at: AwareDatetime
    subject: Subject
    summary: str
    concern_category: ConcernCategory
    protection_acute: bool | None = None
    young_adult_basis: YoungAdultBasis | None = None
    investigation_opened_at: AwareDatetime | None = None
    investigation_extended_until: date | None = None
    extension_count: int = 0
    outcome: InvestigationOutcome | None = None
    deadlines: dict[str, Deadline] = Field(default_factory=dict)
    deadline_status: dict[str, DeadlineStatus] = Field(default_factory=dict)
    escalations_raised: tuple[tuple[str, int], ...] = ()
    consultations: dict[str, ConsultationStatus] = Field(default_factory=dict)
    consents: dict[str, bool] = Field(default_factory=dict)
    suspended_clocks: dict[str, AwareDatetime] = Field(default_factory=dict)
    next_consultation_number: int = 1
    disclosure_count: int = 0
    rejected_signal_count: int = 0
    closed_at: AwareDatetime | None = None
    custody_decided_at: AwareDatetime | None = None
    custody_in_force: bool = False
    custody_lapsed_key: str | None = None
    court_filings: tuple[str, ...] = ()
    feedback_owed: bool = False
    informed_parties: tuple[str, ...] = ()
    child_views_recorded: bool = False
    joined_reports: int = 0
    pre_assessment_extended_until: date | None = None
    version: int = 0
    last_event_at: AwareDatetime | None = None

    # -- questions the workflow and the read models ask ---------------------------------

    @property
    def age_path(self) -> AgePath | None:
        """The young person's path by age on the day the report arrived (receipt, not
        today: the deadlines and the path run from receipt); None when 21 or older."""
        return self.subject.age_path(local_date(self.received_at))

    def open_consultations(self) -> list[ConsultationStatus]:
        """Consultations still waiting for the agency, oldest first."""
        return [c for c in self.consultations.values() if c.is_open]

    def open_consultation_ids(self) -> list[str]:
        """Ids of `open_consultations`."""
        return [c.consultation_id for c in self.open_consultations()]

    def consent_given(self, agency: Agency) -> bool:
        """Whether consent is in force for ``agency`` (an agency's own scope overrides ``all``)."""
        if agency.value in self.consents:
            return self.consents[agency.value]
        return self.consents.get("all", False)

    def deadline_is_settled(self, key: str) -> bool:
        """True when a deadline needs no more escalation: met, its consultation over, or the
        case closed. A breached deadline is not settled: its later rungs still fire."""
        if self.state is CaseStateName.CLOSED:
            return True
        if self.custody_lapsed_key not in (None, key) and key in CUSTODY_DEADLINES:
            return True  # the custody ended on the other deadline: nothing left to file
        status = self.deadline_status.get(key)
        if status is not None and status.met_at is not None:
            return True
        consultation_id = key.removeprefix("consultation:")
        if key.startswith("consultation:") and consultation_id in self.consultations:
            return not self.consultations[consultation_id].is_open
        return False

    def pending_deadlines(self) -> list[Deadline]:
        """Deadlines still waiting for their decision, earliest ``legal_latest`` first."""
        pending = [d for key, d in self.deadlines.items() if not self.deadline_is_settled(key)]
        return sorted(pending, key=lambda d: (d.legal_latest, d.key))

    # ``pending``: `pending_deadlines` when the caller has it already (the workflow asks
    # several of these questions after every step; on replay that adds up).

    def next_deadline(self, pending: list[Deadline] | None = None) -> Deadline | None:
        """The pending deadline with the earliest ``legal_latest``."""
        pending = self.pending_deadlines() if pending is None else pending
        return pending[0] if pending else None

    def overdue_count(self, now: datetime, pending: list[Deadline] | None = None) -> int:
        """How many pending deadlines are past their ``legal_latest`` at ``now`` (a deadline
        whose clock is suspended is not overdue)."""
        pending = self.pending_deadlines() if pending is None else pending
        return sum(1 for d in pending if d.is_overdue(now) and d.key not in self.suspended_clocks)

    def step_deadline(self, pending: list[Deadline] | None = None) -> Deadline | None:
        """The pending deadline of the step the case is at (the protection assessment, the
        pre-assessment or the investigation); None when that step has none pending. Not the
        earliest pending deadline: a consultation's answer is due on its own date."""
        kind = _STEP_DEADLINE.get(self.state)
        pending = self.pending_deadlines() if pending is None else pending
        return next((d for d in pending if d.kind is kind and d.key == kind), None)

    def pending_lines(self, pending: list[Deadline] | None = None) -> list[str]:
        """Each pending deadline in plain words with its own last day (Swedish time), e.g.
        ``Investigation due 2027-04-02``; earliest first."""
        pending = self.pending_deadlines() if pending is None else pending
        return [
            f"{deadline_name(d)} due {d.due.isoformat()}"
            + (" (clock suspended)" if d.key in self.suspended_clocks else "")
            for d in pending
        ]

    def overdue_lines(self, now: datetime, pending: list[Deadline] | None = None) -> list[str]:
        """Each overdue deadline (those `overdue_count` counts) with how late it is in
        working days, e.g. ``Pre-assessment 3 working days late, due 2026-11-20``."""
        pending = self.pending_deadlines() if pending is None else pending
        lines = []
        for d in pending:
            if not d.is_overdue(now) or d.key in self.suspended_clocks:
                continue
            late = d.working_days_late(now)
            how = (
                f"{late} working day{'' if late == 1 else 's'} late"
                if late
                else "late (no working day since)"
            )
            lines.append(f"{deadline_name(d)} {how}, due {d.due.isoformat()}")
        return lines

    def next_expected_action(self, pending: list[Deadline] | None = None) -> str:
        """Where the case stands and what it waits for, in plain words (no personal data)."""
        due = self.step_deadline(pending)
        by = f" by {due.due.isoformat()}" if due is not None else ""
        waiting = sorted({c.agency.value for c in self.open_consultations()})
        words = {
            CaseStateName.RECEIVED: f"Make the protection assessment{by}",
            CaseStateName.PROTECTION_ASSESSMENT: f"Make the protection assessment{by}",
            CaseStateName.IMMEDIATE_PROTECTION: (
                f"Protect the child now; open the investigation at once{by}"
            ),
            CaseStateName.PRE_ASSESSMENT: f"Decide whether to open an investigation{by}",
            CaseStateName.INVESTIGATION: f"Conclude the investigation{by}",
            CaseStateName.DECIDED: "Start the follow-up or close the case",
            CaseStateName.FOLLOW_UP: "Close the case when the follow-up is done",
            CaseStateName.CLOSED: "Nothing: the case is closed",
        }[self.state]
        if self.state is not CaseStateName.CLOSED:
            words += "".join(f"; {duty}" for duty in self.open_duties())
        if waiting and self.state is not CaseStateName.CLOSED:
            words += f"; waiting for answers from {', '.join(waiting)}"
        return words + "."

    def open_duties(self) -> list[str]:
        """Duties recorded as owed and not yet done, in plain words (no personal data)."""
        duties = []
        if self.custody_in_force:
            if "custody_submitted" not in self.court_filings:
                duties.append("submit the immediate custody to the administrative court (LVU 7 §)")
            if "care_applied" not in self.court_filings:
                duties.append("apply for care under LVU (LVU 8 §)")
        if self.feedback_owed:
            duties.append("give feedback to the reporter and offer a meeting")
        if self.state is CaseStateName.INVESTIGATION:
            if not self.informed_parties:
                duties.append("tell the guardian or the young person the investigation opened")
            if not self.child_views_recorded:
                duties.append("record the child's views or why they were not heard")
        return duties

    def to_summary(self, now: datetime | None = None) -> dict[str, Any]:
        """The case as JSON with no personal data: state, deadlines, open consultations,
        overdue count (when ``now`` is given) and the next expected action."""
        return {
            "case_number": self.case_number,
            "municipality": self.municipality,
            "state": self.state.value,
            "urgent": self.urgent,
            "concern_category": self.concern_category.value,
            "received_at": self.received_at.isoformat(),
            "deadlines": {
                summary_key(d): {
                    "name": deadline_name(d),
                    "due": d.due.isoformat(),
                    "kind": d.kind.value,
                    "target": d.target.isoformat(),
                    "legal_latest": d.legal_latest.isoformat(),
                    "moved_because": list(d.moved_because),
                    "status": self.deadline_status.get(key, DeadlineStatus()).label,
                    "suspended": key in self.suspended_clocks,
                }
                for key, d in sorted(self.deadlines.items())
            },
            "open_consultations": [
                {
                    "consultation_id": c.consultation_id,
                    "agency": c.agency.value,
                    "status": c.status.value,
                    "requested_at": c.requested_at.isoformat(),
                }
                for c in self.open_consultations()
            ],
            "overdue_count": self.overdue_count(now) if now is not None else None,
            "overdue": self.overdue_lines(now) if now is not None else None,
            "pending_deadlines": self.pending_lines(),
            "next_deadline": (
                d.legal_latest.isoformat() if (d := self.next_deadline()) is not None else None
            ),
            "extension_count": self.extension_count,
            "outcome": self.outcome.value if self.outcome is not None else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at is not None else None,
            "version": self.version,
            "next_expected_action": self.next_expected_action(),
        }


_STEP_DEADLINE = {
    CaseStateName.RECEIVED: DeadlineKind.PROTECTION_ASSESSMENT,
    CaseStateName.PROTECTION_ASSESSMENT: DeadlineKind.PROTECTION_ASSESSMENT,
    CaseStateName.IMMEDIATE_PROTECTION: DeadlineKind.PRE_ASSESSMENT,
    CaseStateName.PRE_ASSESSMENT: DeadlineKind.PRE_ASSESSMENT,
    CaseStateName.INVESTIGATION: DeadlineKind.INVESTIGATION,
}
_DEADLINE_NAMES = {
    DeadlineKind.PROTECTION_ASSESSMENT: "Protection assessment",
    DeadlineKind.PRE_ASSESSMENT: "Pre-assessment",
    DeadlineKind.INVESTIGATION: "Investigation",
    DeadlineKind.CUSTODY_SUBMISSION: "Custody submitted to the court (LVU 7 §)",
    DeadlineKind.CARE_APPLICATION: "Application for care (LVU 8 §)",
    DeadlineKind.FEEDBACK_TO_REPORTER: "Feedback to the reporter",
}


def _consultation_number(deadline: Deadline) -> int | None:
    """The n of a consultation deadline's ``consultation:case-<number>:consultation-<n>``."""
    parsed = parse_workflow_id(deadline.key.removeprefix("consultation:"))
    return parsed.consultation if parsed is not None else None


def deadline_name(deadline: Deadline) -> str:
    """A deadline in plain words: ``Pre-assessment``, ``Answer from police (consultation 1)``."""
    if deadline.kind is DeadlineKind.CONSULTATION:
        agency = deadline.agency.value if deadline.agency is not None else "the agency"
        number = _consultation_number(deadline)
        return f"Answer from {agency}" + (f" (consultation {number})" if number else "")
    return _DEADLINE_NAMES.get(deadline.kind, deadline.kind.value.replace("_", " ").capitalize())


def summary_key(deadline: Deadline) -> str:
    """A deadline's key in the summary: its own for a statutory one (``investigation``), and
    ``<agency>_consultation_<n>`` for a consultation's answer (never the workflow id)."""
    number = _consultation_number(deadline)
    if deadline.kind is DeadlineKind.CONSULTATION and number is not None:
        agency = deadline.agency.value if deadline.agency is not None else "agency"
        return f"{agency}_consultation_{number}"
    return deadline.key


def _consultation(state: CaseState, consultation_id: str) -> ConsultationStatus:
    found = state.consultations.get(consultation_id)
    if found is None:
        raise UnexpectedEvent("event names a consultation this case never requested")
    return found


def _with_consultation(state: CaseState, consultation: ConsultationStatus) -> dict[str, Any]:
    return {"consultations": {**state.consultations, consultation.consultation_id: consultation}}


def _with_status(state: CaseState, key: str, **changes: Any) -> dict[str, Any]:
    current = state.deadline_status.get(key, DeadlineStatus())
    return {"deadline_status": {**state.deadline_status, key: current.model_copy(update=changes)}}


def _opened(event: ReportReceived) -> CaseState:
    return CaseState(
        case_number=event.case_number,
        municipality=event.municipality,
        state=CaseStateName.RECEIVED,
        urgent=event.urgent,
        mandatory_reporter=event.mandatory_reporter,
        reporter_kind=event.reporter_kind,
        received_at=event.received_at,
        subject=event.subject,
        summary=event.summary,
        concern_category=event.concern_category,
    )


def _deadline_set(state: CaseState, event: DeadlineSet) -> dict[str, Any]:
    deadline = event.deadline
    update: dict[str, Any] = {"deadlines": {**state.deadlines, deadline.key: deadline}}
    previous = state.deadlines.get(deadline.key)
    moved = previous is not None and (
        previous.target != deadline.target or previous.legal_latest != deadline.legal_latest
    )
    if moved:
        # a moved deadline is a new deadline: its rungs may fire again, an old breach is history
        update["escalations_raised"] = tuple(
            r for r in state.escalations_raised if r[0] != deadline.key
        )
        update.update(_with_status(state, deadline.key, breached_at=None))
    if state.state is CaseStateName.RECEIVED and deadline.key == "protection_assessment":
        update["state"] = CaseStateName.PROTECTION_ASSESSMENT
    return update


def _changes(state: CaseState, event: DomainEvent) -> dict[str, Any]:
    match event:
        case ProtectionAssessed(acute=acute):
            return {
                "protection_acute": acute,
                "state": (
                    CaseStateName.IMMEDIATE_PROTECTION if acute else CaseStateName.PRE_ASSESSMENT
                ),
            }
        case InvestigationOpened(at=at, young_adult_basis=basis):
            return {
                "state": CaseStateName.INVESTIGATION,
                "investigation_opened_at": at,
                "young_adult_basis": basis,
            }
        case SubjectIdentified(subject=subject):
            return {"subject": subject}
        case InvestigationDeclined():
            return {"state": CaseStateName.DECIDED}
        case InformationAdded():
            return {}
        case FeedbackSent():
            return {"feedback_owed": False}
        case FeedbackDue():
            return {"feedback_owed": True}
        case ImmediateCustodyDecided(decided_at=decided_at):
            # a new custody decision (e.g. after one lapsed) starts its deadlines afresh
            return {
                "custody_decided_at": decided_at,
                "custody_in_force": True,
                "custody_lapsed_key": None,
                "court_filings": (),
                "deadline_status": {
                    k: v for k, v in state.deadline_status.items() if k not in CUSTODY_DEADLINES
                },
                "escalations_raised": tuple(
                    r for r in state.escalations_raised if r[0] not in CUSTODY_DEADLINES
                ),
            }
        case CourtFilingMade(filing=filing):
            return {"court_filings": (*state.court_filings, filing.value)}
        case ImmediateCustodyLapsed(deadline_key=key):
            return {"custody_in_force": False, "custody_lapsed_key": key}
        case InformationGiven(party=party):
            return {"informed_parties": (*state.informed_parties, party.value)}
        case ChildViewsRecorded():
            return {"child_views_recorded": True}
        case ReportJoined():
            return {"joined_reports": state.joined_reports + 1}
        case PreAssessmentExtended(until=until):
            return {"pre_assessment_extended_until": until}
        case InvestigationExtended(until=until, extension_number=number):
            return {"investigation_extended_until": until, "extension_count": number}
        case InvestigationConcluded(outcome=outcome):
            return {"state": CaseStateName.DECIDED, "outcome": outcome}
        case FollowUpStarted():
            return {"state": CaseStateName.FOLLOW_UP}
        case ConsultationRequested():
            consultation = ConsultationStatus(
                consultation_id=event.consultation_id,
                agency=event.agency,
                legal_basis=event.legal_basis,
                acute=event.acute,
                questions=event.questions,
                requested_at=event.at,
                statement=event.statement,
                requested_by=event.requested_by,
            )
            return {
                **_with_consultation(state, consultation),
                "next_consultation_number": state.next_consultation_number + 1,
            }
        case ConsultationDelivered(consultation_id=cid, delivered_at=delivered_at):
            c = _consultation(state, cid)
            return _with_consultation(state, c.model_copy(update={"delivered_at": delivered_at}))
        case ConsultationAcknowledged(consultation_id=cid, at=at):
            c = _consultation(state, cid)
            return _with_consultation(
                state,
                c.model_copy(
                    update={"status": ConsultationStatusName.ACKNOWLEDGED, "acknowledged_at": at}
                ),
            )
        case ConsultationAnswered(consultation_id=cid, at=at):
            c = _consultation(state, cid)
            return _with_consultation(
                state,
                c.model_copy(update={"status": ConsultationStatusName.ANSWERED, "answered_at": at}),
            )
        case ConsultationDeclined(consultation_id=cid, at=at):
            c = _consultation(state, cid)
            return _with_consultation(
                state,
                c.model_copy(update={"status": ConsultationStatusName.DECLINED, "declined_at": at}),
            )
        case ConsultationExpired(consultation_id=cid, at=at):
            c = _consultation(state, cid)
            return _with_consultation(
                state,
                c.model_copy(update={"status": ConsultationStatusName.EXPIRED, "expired_at": at}),
            )
        case DeadlineSet():
            return _deadline_set(state, event)
        case DeadlineMet(deadline_key=key, late=late, at=at):
            return _with_status(state, key, met_at=at, late=late)
        case DeadlineBreached(deadline_key=key, at=at):
            return _with_status(state, key, breached_at=at)
        case EscalationRaised(deadline_key=key, rung_index=index):
            raised = set(state.escalations_raised) | {(key, index)}
            return {"escalations_raised": tuple(sorted(raised))}
        case ConsentChanged(given=given, scope=scope):
            return {"consents": {**state.consents, scope: given}}
        case DisclosureRecorded(consultation_id=cid, fields=fields):
            update: dict[str, Any] = {"disclosure_count": state.disclosure_count + 1}
            if cid in state.consultations:
                c = state.consultations[cid]
                merged = tuple(sorted(set(c.disclosed_fields) | set(fields)))
                update.update(
                    _with_consultation(state, c.model_copy(update={"disclosed_fields": merged}))
                )
            return update
        case ClockSuspended(deadline_key=key, at=at):
            return {"suspended_clocks": {**state.suspended_clocks, key: at}}
        case ClockResumed(deadline_key=key):
            return {
                "suspended_clocks": {k: v for k, v in state.suspended_clocks.items() if k != key}
            }
        case CaseClosed(at=at):
            return {"state": CaseStateName.CLOSED, "closed_at": at, "suspended_clocks": {}}
        case SignalRejected():
            return {"rejected_signal_count": state.rejected_signal_count + 1}
        case ReportReceived():
            raise UnexpectedEvent("ReportReceived can only open a case")
    raise UnexpectedEvent(f"no fold for event type {event.event_type()}")


def apply(state: CaseState | None, event: DomainEvent) -> CaseState:
    """The case after ``event``; ``state`` is None only before `ReportReceived`.

    Raises:
        UnexpectedEvent: the event cannot follow the state (e.g. an answer to a
            consultation never requested, or any event before the case was opened).
    """
    changes: dict[str, Any] = {}
    if state is None:
        if not isinstance(event, ReportReceived):
            raise UnexpectedEvent(f"{event.event_type()} before the case was opened")
        base = _opened(event)
    else:
        base, changes = state, _changes(state, event)  # never version or last_event_at
    moment = event_time(event)
    last = base.last_event_at
    if moment is not None and (last is None or moment > last):
        last = moment
    # one copy per event: the fold is the projector's and the workflow's hot path
    return base.model_copy(update={**changes, "version": base.version + 1, "last_event_at": last})


def fold(events: Iterable[DomainEvent]) -> CaseState:
    """The case folded from its events, first to last.

    Raises:
        UnexpectedEvent: no events, or an event that cannot follow the ones before it.
    """
    state: CaseState | None = None
    for event in events:
        state = apply(state, event)
    if state is None:
        raise UnexpectedEvent("no events to fold")
    return state
