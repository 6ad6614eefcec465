"""Commands: what operators, agencies and the case workflow ask a case to do.

Every field an operator types is plain JSON and no command asks for a timestamp: `decide`
takes ``now`` from the workflow's clock. Fields marked "personal" may hold personal data.
Free-text fields are checked for content by `decide` (a blank reason is a `Rejected`,
naming the field), so a rejected update is a domain answer rather than a schema error.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypeAlias

from pydantic import AwareDatetime, Field

from cases.deadlines import Deadline, ScheduledRung
from cases.models import (
    Agency,
    ConsultationOutcomeKind,
    DomainModel,
    EscalationAction,
    InvestigationOutcome,
    LegalBasis,
    OpenCase,
    Role,
)

ShortText = Annotated[str, Field(max_length=2_000)]
LongText = Annotated[str, Field(max_length=20_000)]
Actor = Annotated[str, Field(min_length=1, max_length=200)]


class RecordProtectionAssessment(DomainModel):
    """The protection assessment (skyddsbedömning): is the child in acute need of protection?"""

    acute: bool
    reasoning: LongText  # personal
    decided_by: Actor


class DecidePreAssessment(DomainModel):
    """The pre-assessment decision (förhandsbedömning): open an investigation or not."""

    open_investigation: bool
    reasons: LongText  # personal
    decided_by: Actor


class RequestConsultation(DomainModel):
    """Ask another agency (samråd / informationsutbyte) on a legal basis from the closed list."""

    agency: Agency
    legal_basis: LegalBasis
    questions: LongText  # personal, except towards CVE: anonymised
    acute: bool = False
    requested_by: Actor


class ExtendInvestigation(DomainModel):
    """Extend the investigation for special reasons (särskilda skäl, SoL 11:2) to a new last day."""

    until: date
    reasons: ShortText
    decided_by: Actor


class ConcludeInvestigation(DomainModel):
    """Conclude the investigation (avsluta utredning) with its outcome."""

    outcome: InvestigationOutcome
    decided_by: Actor


class StartFollowUp(DomainModel):
    """Follow up a decided case (uppföljning) before closing it."""

    decided_by: Actor


class CloseCase(DomainModel):
    """Close the case (avsluta ärendet); starts the retention clock."""

    reason: ShortText
    decided_by: Actor


class AddInformation(DomainModel):
    """New information about the case from a source (a signal: needs no answer)."""

    source: Annotated[str, Field(min_length=1, max_length=200)]
    information: LongText  # personal


class ChangeConsent(DomainModel):
    """Consent (samtycke) given or withdrawn, for one agency or ``all`` (a signal)."""

    given: bool
    scope: Annotated[str, Field(min_length=1, max_length=40)]
    by_whom: Annotated[str, Field(min_length=1, max_length=200)]  # personal


class AcknowledgeConsultation(DomainModel):
    """The agency has received the consultation request."""

    agency: Agency
    consultation_id: str | None = None


class AnswerConsultation(DomainModel):
    """The agency's answer to a consultation."""

    agency: Agency
    answer: Annotated[str, Field(min_length=1, max_length=20_000)]  # personal
    consultation_id: str | None = None


class DeclineConsultation(DomainModel):
    """The agency will not answer, and why."""

    agency: Agency
    reason: Annotated[str, Field(min_length=1, max_length=2_000)]
    consultation_id: str | None = None


class ReportConsultationOutcome(DomainModel):
    """System: how a consultation child workflow ended (``detail`` holds an answer's text)."""

    consultation_id: str
    agency: Agency
    outcome: ConsultationOutcomeKind
    detail: LongText = ""  # personal when the outcome is an answer


class RecordDelivery(DomainModel):
    """System: the consultation request reached the agency's system."""

    consultation_id: str
    delivered_at: AwareDatetime


class RecordDeadline(DomainModel):
    """System: record a deadline computed by the deadline local activity."""

    deadline: Deadline


class RaiseEscalation(DomainModel):
    """System: a rung of an escalation ladder is due."""

    deadline_key: str
    rung_index: int = Field(ge=0)
    rung_name: str
    role: Role
    action: EscalationAction

    @classmethod
    def from_rung(cls, rung: ScheduledRung) -> RaiseEscalation:
        """The command that raises a scheduled rung."""
        return cls(
            deadline_key=rung.deadline_key,
            rung_index=rung.rung_index,
            rung_name=rung.rung_name,
            role=rung.role,
            action=rung.action,
        )


class RecordBreach(DomainModel):
    """System: a deadline's ``legal_latest`` has passed without the decision it waits for."""

    deadline_key: str


class RecordDisclosure(DomainModel):
    """Record the harm assessment (menprövning) made before sending a consultation request."""

    consultation_id: str
    decided_by: Actor
    harm_assessment: LongText  # personal
    harm_found: bool = False


Command: TypeAlias = (
    OpenCase
    | RecordProtectionAssessment
    | DecidePreAssessment
    | RequestConsultation
    | ExtendInvestigation
    | ConcludeInvestigation
    | StartFollowUp
    | CloseCase
    | AddInformation
    | ChangeConsent
    | AcknowledgeConsultation
    | AnswerConsultation
    | DeclineConsultation
    | ReportConsultationOutcome
    | RecordDelivery
    | RecordDeadline
    | RaiseEscalation
    | RecordBreach
    | RecordDisclosure
)
"""Every command `decide` accepts."""
