"""Commands: what operators, agencies and the case workflow ask a case to do.

Every field an operator types is plain JSON and no command asks for a timestamp: `decide`
takes ``now`` from the workflow's clock. Fields marked "personal" may hold personal data.
Free-text fields are checked for content by `decide` (a blank reason is a `Rejected`,
naming the field), so a rejected update is a domain answer rather than a schema error.

Fields that are stored in clear (not personal, so never encrypted) take no free text:
``AddInformation.source`` and ``ChangeConsent.scope`` are closed lists, and an operator's
``decided_by`` / ``requested_by`` is an identifier (`cases.models.ACTOR_PATTERN`). The
identifier form is checked on *new* input by `check_new_input` (the case workflow's
update validators call it), not when a model is decoded: an update recorded in a
workflow's history before the check existed must still decode when the case replays.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypeAlias

from pydantic import AwareDatetime, Field

from cases.deadlines import Deadline, ScheduledRung
from cases.disclosure import STATEMENT_PART, DisclosureStatement
from cases.errors import Rejected
from cases.models import (
    ACTOR_PATTERN,
    Agency,
    ConcernCategory,
    ConsentScope,
    ConsultationOutcomeKind,
    CourtFiling,
    CustodyDecisionMaker,
    DomainModel,
    EscalationAction,
    InformationSource,
    InformedParty,
    InvestigationOutcome,
    LegalBasis,
    OpenCase,
    ReportChannel,
    ReporterKind,
    Role,
    Subject,
    YoungAdultBasis,
    is_actor_id,
)

ShortText = Annotated[str, Field(max_length=2_000)]
LongText = Annotated[str, Field(max_length=20_000)]
Actor = Annotated[
    str, Field(min_length=1, max_length=200, description=f"identifier {ACTOR_PATTERN}")
]
"""An operator's identifier as a command decodes it: any recorded value (up to 200
characters, as accepted before `ACTOR_PATTERN`) still decodes; `check_new_input` holds
new input to `ACTOR_PATTERN`."""

ACTOR_FIELDS = ("decided_by", "requested_by")
"""The command fields in which an operator names themself."""


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
    young_adult_basis: YoungAdultBasis | None = Field(
        default=None,
        description=(
            "18-20 years old: consent (the young person consented) or lvu_3 (LVU 3 § may "
            "apply); required to open an investigation on the young-adult path"
        ),
    )


class IdentifySubject(DomainModel):
    """Identify a child registered without a personal identity number. The deadlines keep
    running from receipt; the birth date sets the age path (21 or older is refused)."""

    subject: Subject  # personal: must be identified (personal_identity_number)
    decided_by: Actor


class RequestConsultation(DomainModel):
    """Ask another agency (samråd / informationsutbyte) on a legal basis from the closed list."""

    agency: Agency
    legal_basis: LegalBasis
    questions: LongText  # personal, except towards CVE: anonymised
    acute: bool = False
    statement: DisclosureStatement | None = Field(
        default=None,
        description=(
            "the basis's own conditions as the officer assesses them (personal): "
            "harm_assessment for osl_26_1, osl_10_18a's three conditions, consent (given_by, "
            "scope, given_on), necessity for osl_10_2, protective_intervention for osl_26_9, "
            "terrorism_purpose, statutory_duty for osl_10_28; required for every basis but "
            "none (checked on new input: recorded requests without it still decode)"
        ),
    )  # personal
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


class DecideImmediateCustody(DomainModel):
    """An immediate custody under LVU 6 § (omedelbart omhändertagande), as decided.

    Starts the LVU 7 § week (the decision submitted to the administrative court, from the
    day it was decided) and the LVU 8 § four weeks (the application for care, from the day
    the custody was carried out); missing either ends the custody (LVU 9 §).
    """

    decision_maker: CustodyDecisionMaker = Field(
        description="committee (socialnämnden), chair (ordföranden) or appointed_member"
    )
    decided_at: AwareDatetime = Field(description="when the decision was made")
    carried_out_at: AwareDatetime | None = Field(
        default=None,
        description="when the custody was carried out; none yet: counted from decided_at",
    )
    decided_by: Actor


class RecordCourtFiling(DomainModel):
    """The custody decision was submitted to the court (LVU 7 §) or care applied for (8 §)."""

    filing: CourtFiling
    decided_by: Actor


class GiveFeedback(DomainModel):
    """Feedback to the mandatory reporter (återkoppling), the task `FeedbackDue` set."""

    content: LongText  # personal: what the reporter was told
    meeting_offered: bool = Field(description="whether the reporter was offered a meeting")
    decided_by: Actor


class RecordInformationGiven(DomainModel):
    """A guardian or the young person was told that the investigation opened."""

    party: InformedParty
    decided_by: Actor


class RecordChildViews(DomainModel):
    """The child's views, or why the child was not heard (exactly one of the two)."""

    views: LongText | None = None  # personal
    reason_not_heard: LongText | None = None  # personal
    decided_by: Actor


class JoinReport(DomainModel):
    """A new report about a young person already under investigation joins it."""

    received_at: AwareDatetime
    reporter_kind: ReporterKind
    mandatory_reporter: bool
    channel: ReportChannel = ReportChannel.UNKNOWN
    concern_category: ConcernCategory
    summary: LongText  # personal
    decided_by: Actor


class ExtendPreAssessment(DomainModel):
    """More time for the pre-assessment for very exceptional reasons (synnerliga skäl),
    decided by a unit manager (or head of division)."""

    until: date
    reasons: LongText  # personal
    decided_by_role: Role
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

    source: InformationSource  # a kind, never a name: stored in clear
    information: LongText  # personal


class ChangeConsent(DomainModel):
    """Consent (samtycke) given or withdrawn, for one agency or ``all`` (a signal)."""

    given: bool
    scope: ConsentScope
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
    | IdentifySubject
    | RequestConsultation
    | ExtendInvestigation
    | ConcludeInvestigation
    | DecideImmediateCustody
    | RecordCourtFiling
    | GiveFeedback
    | RecordInformationGiven
    | RecordChildViews
    | JoinReport
    | ExtendPreAssessment
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


def check_new_input(command: DomainModel) -> None:
    """Refuse new operator input that names its operator in anything but an identifier.

    Call it where input arrives (an update's validator), never while a recorded history
    replays: histories from before the check may hold other values.

    Raises:
        Rejected: ``decided_by`` or ``requested_by`` is not an identifier (`ACTOR_PATTERN`);
            the message names the field, never its value.
    """
    for name in ACTOR_FIELDS:
        value = getattr(command, name, None)
        if isinstance(value, str) and not is_actor_id(value):
            raise Rejected(
                "not_an_identifier",
                name,
                f"{name} must be a staff identifier: 1 to 64 lowercase letters, digits, "
                "'.', '_' or '-', starting with a letter (no names, no free text)",
            )
    if (
        isinstance(command, RequestConsultation)
        and command.statement is None
        and STATEMENT_PART.get(command.legal_basis) is not None
    ):
        part = STATEMENT_PART[command.legal_basis]
        raise Rejected(
            "statement_required",
            f"statement.{part}",
            f"a request on {command.legal_basis.value} must state statement.{part} "
            "(the officer's own assessment)",
        )
