"""Domain events: every state change of a case, as stored (DESIGN §4).

Each event is a `DomainEvent` (registered by class name, the stored ``type``) with a
``schema_version`` and the ``personal_fields`` that hold personal data (encrypted at
rest, left out of timelines). Instants are aware datetimes from the workflow's clock.
Old stored shapes are read through the upcasters at the end of this module.

Fields stored in clear take no free text: ``InformationAdded.source`` and
``ConsentChanged.scope`` are closed lists; ``decided_by`` / ``requested_by`` hold an
operator's identifier (`cases.models.ACTOR_PATTERN`, checked on new input by
`cases.commands.check_new_input`). They stay ``str`` here so that events recorded before
the check still read; such legacy values are not rewritten.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from cases.deadlines import Deadline
from cases.disclosure import DisclosureStatement
from cases.envelope import DomainEvent, JsonDict, upcaster
from cases.errors import Rejected
from cases.models import (
    Agency,
    ConcernCategory,
    ConsentScope,
    CourtFiling,
    CustodyDecisionMaker,
    EscalationAction,
    InformationSource,
    InformedParty,
    InvestigationOutcome,
    LegalBasis,
    ReportChannel,
    ReporterKind,
    Role,
    Subject,
    YoungAdultBasis,
)
from cases.policy import LegalReference


class ExpiryCause(StrEnum):
    """Why a consultation ended without an answer."""

    NO_ANSWER = "no_answer"
    DELIVERY_FAILED = "delivery_failed"
    CASE_CLOSED = "case_closed"


class HarmResult(StrEnum):
    """The result of a harm assessment (menprövning) before a disclosure."""

    NO_HARM = "no_harm"
    HARM_FOUND = "harm_found"
    NOT_ASSESSED = "not_assessed"


class ReportReceived(DomainEvent):
    """A report of concern (orosanmälan) was received and the case opened.

    Version 2 nests the subject and adds the channel; version 1 rows are upcast. A subject
    may be not yet identified (no personal identity number, an ``unidentified``
    description): the subject's new fields are optional, so every stored row reads as it
    was and the version stays 2.
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"subject", "summary"})

    case_number: str
    municipality: str
    received_at: AwareDatetime
    reporter_kind: ReporterKind
    mandatory_reporter: bool
    channel: ReportChannel = ReportChannel.UNKNOWN
    subject: Subject
    concern_category: ConcernCategory
    summary: str
    urgent: bool = False
    at: AwareDatetime


class ProtectionAssessed(DomainEvent):
    """The protection assessment (skyddsbedömning) was made."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"reasoning"})

    acute: bool
    reasoning: str
    decided_by: str
    at: AwareDatetime


class InvestigationOpened(DomainEvent):
    """The pre-assessment decided to open an investigation (inleda utredning, SoL 11:1).

    Version 2 adds ``young_adult_basis``: for an 18-to-20-year-old, the young person's
    consent or LVU 3 § (None for a child, and in version 1 rows).
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"reasons"})

    reasons: str
    decided_by: str
    young_adult_basis: YoungAdultBasis | None = None
    at: AwareDatetime


class SubjectIdentified(DomainEvent):
    """A child registered without a personal identity number was identified."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"subject"})

    subject: Subject
    decided_by: str
    at: AwareDatetime


class InvestigationDeclined(DomainEvent):
    """The pre-assessment decided not to open an investigation (inte inleda utredning)."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"reasons"})

    reasons: str
    decided_by: str
    at: AwareDatetime


class FeedbackSent(DomainEvent):
    """Feedback (återkoppling) to a mandatory reporter on whether an investigation was
    opened (SoL 14:1 a–b). Names the reporter's kind, never the reporter.

    Version 2 adds what an officer gave as a task (`FeedbackDue`): ``content`` (personal),
    whether a meeting was offered to the mandatory reporter, and ``decided_by``. Version 1
    rows (recorded automatically with the pre-assessment) read with none of them.
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"content"})

    reporter_kind: ReporterKind
    investigation_opened: bool
    legal_reference: LegalReference | None = None
    content: str | None = None
    meeting_offered: bool | None = None
    decided_by: str | None = None
    at: AwareDatetime


class FeedbackDue(DomainEvent):
    """Feedback to a mandatory reporter is owed: a task with its deadline
    (``feedback_to_reporter``), met by `FeedbackSent`. Names the reporter's kind only."""

    reporter_kind: ReporterKind
    investigation_opened: bool
    legal_reference: LegalReference | None = None
    at: AwareDatetime


class ImmediateCustodyDecided(DomainEvent):
    """An immediate custody (omedelbart omhändertagande, LVU 6 §) was decided.

    ``decided_at`` is when the decision was made (LVU 7 §'s week runs from its day),
    ``carried_out_at`` when it was carried out (LVU 8 §'s four weeks run from its day; the
    decision's moment when not yet known, the earlier and so protective start).
    """

    decision_maker: CustodyDecisionMaker
    decided_by: str
    decided_at: AwareDatetime
    carried_out_at: AwareDatetime
    legal_reference: LegalReference | None = None
    at: AwareDatetime


class CourtFilingMade(DomainEvent):
    """The committee filed with the administrative court: the custody decision submitted
    (LVU 7 §) or the application for care (LVU 8 §)."""

    filing: CourtFiling
    decided_by: str
    at: AwareDatetime


class ImmediateCustodyLapsed(DomainEvent):
    """An immediate custody ended by law (LVU 9 §): the deadline ``deadline_key``
    (``custody_submission`` or ``care_application``) passed without its filing."""

    deadline_key: str
    legal_reference: LegalReference | None = None
    at: AwareDatetime


class InformationGiven(DomainEvent):
    """A guardian or the young person was told that an investigation opened."""

    party: InformedParty
    decided_by: str
    at: AwareDatetime


class ChildViewsRecorded(DomainEvent):
    """The child's views (barnets inställning), or why the child was not heard."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"views", "reason_not_heard"})

    heard: bool
    views: str | None = None
    reason_not_heard: str | None = None
    decided_by: str
    at: AwareDatetime


class ReportJoined(DomainEvent):
    """A new report of concern about the same young person joined the running
    investigation: recorded, with no pre-assessment clock of its own."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"summary"})

    report_number: int = Field(ge=2)
    received_at: AwareDatetime
    reporter_kind: ReporterKind
    mandatory_reporter: bool
    channel: ReportChannel = ReportChannel.UNKNOWN
    concern_category: ConcernCategory
    summary: str
    decided_by: str
    at: AwareDatetime


class PreAssessmentExtended(DomainEvent):
    """The pre-assessment was given longer than 14 days for very exceptional reasons
    (synnerliga skäl), by a unit manager; ``late`` when decided after its legal latest."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"reasons"})

    until: date
    reasons: str
    decided_by: str
    decided_by_role: Role
    late: bool = False
    at: AwareDatetime


class InvestigationExtended(DomainEvent):
    """The investigation was extended for special reasons (förlängd utredningstid, SoL 11:2).

    Version 2 adds ``late``: the extension was decided after the investigation's legal
    latest day had passed (recorded as late, never as on time). Version 1 rows read as
    not late: no extension before version 2 was checked.
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"reasons"})

    until: date
    reasons: str
    decided_by: str
    extension_number: int = Field(ge=1)
    late: bool = False
    at: AwareDatetime


class InvestigationConcluded(DomainEvent):
    """The investigation was concluded with a decision (beslut)."""

    outcome: InvestigationOutcome
    decided_by: str
    at: AwareDatetime


class FollowUpStarted(DomainEvent):
    """Follow-up (uppföljning) of a decided case began."""

    decided_by: str
    at: AwareDatetime


class ConsultationRequested(DomainEvent):
    """Another agency was asked; ``consultation_id`` is ``case-<case number>:consultation-<n>``.

    Version 2 adds ``statement``: what the requesting officer stated for the basis's own
    conditions (`cases.disclosure.DisclosureStatement`; None in version 1 rows).
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"questions", "statement"})

    consultation_id: str
    agency: Agency
    legal_basis: LegalBasis
    questions: str
    acute: bool = False
    statement: DisclosureStatement | None = None
    requested_by: str
    at: AwareDatetime


class ConsultationDelivered(DomainEvent):
    """The request reached the agency's system."""

    consultation_id: str
    agency: Agency
    delivered_at: AwareDatetime
    at: AwareDatetime


class ConsultationAcknowledged(DomainEvent):
    """The agency received the request."""

    consultation_id: str
    agency: Agency
    at: AwareDatetime


class ConsultationAnswered(DomainEvent):
    """The agency answered."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"answer"})

    consultation_id: str
    agency: Agency
    answer: str
    at: AwareDatetime


class ConsultationDeclined(DomainEvent):
    """The agency declined to answer."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"reason"})

    consultation_id: str
    agency: Agency
    reason: str
    at: AwareDatetime


class ConsultationExpired(DomainEvent):
    """The case proceeds without the agency's answer (recorded, DESIGN §2)."""

    consultation_id: str
    agency: Agency
    cause: ExpiryCause
    at: AwareDatetime


class DeadlineSet(DomainEvent):
    """A deadline was computed (by the deadline local activity) and is now in force.

    Setting a key again replaces its deadline (an extension, a suspension). Version 2's
    deadline carries ``legal_reference``, the provision resolved for the case's date
    (`cases.Policy.resolve`); version 1 rows read with none (they were recorded without).
    """

    schema_version: ClassVar[int] = 2

    deadline: Deadline
    at: AwareDatetime | None = None


class DeadlineMet(DomainEvent):
    """The decision a deadline waits for was made; ``late`` when after ``legal_latest``."""

    deadline_key: str
    late: bool = False
    at: AwareDatetime


class DeadlineBreached(DomainEvent):
    """A deadline's ``legal_latest`` passed without its decision."""

    deadline_key: str
    legal_latest: AwareDatetime
    at: AwareDatetime


class EscalationRaised(DomainEvent):
    """A rung of an escalation ladder fired (exactly once per deadline and rung)."""

    deadline_key: str
    rung_index: int = Field(ge=0)
    rung_name: str
    role: Role
    action: EscalationAction
    at: AwareDatetime


class InformationAdded(DomainEvent):
    """New information about the case arrived, from a kind of source (never a name).

    Version 2 holds ``source`` as an `InformationSource`; version 1 held free text, read
    as the listed value it was or else as ``other`` (the text is not carried on).
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"information"})

    source: InformationSource
    information: str
    at: AwareDatetime


class ConsentChanged(DomainEvent):
    """Consent (samtycke) was given or withdrawn for one agency or ``all``.

    ``scope`` was a string of the same closed list from the start (`decide` refused any
    other), so every stored version-1 row reads as a `ConsentScope`.
    """

    personal_fields: ClassVar[frozenset[str]] = frozenset({"by_whom"})

    given: bool
    scope: ConsentScope
    by_whom: str
    at: AwareDatetime


class DisclosureRecorded(DomainEvent):
    """Personal data was disclosed to an agency (utlämnande): its legal basis and provision,
    and what the officer stated for the basis's conditions, and who stated it.

    Version 2 replaces the free-text ``harm_assessment`` with ``statement`` (None: nothing
    was stated — a request recorded before statements were required) and ``stated_by``;
    a version 1 row keeps its text as ``recorded_harm_assessment``, stated by nobody.
    """

    schema_version: ClassVar[int] = 2
    personal_fields: ClassVar[frozenset[str]] = frozenset({"statement", "recorded_harm_assessment"})

    consultation_id: str
    recipient: Agency
    legal_basis: LegalBasis
    legal_reference: LegalReference | None = None
    statement: DisclosureStatement | None = None
    stated_by: str | None = None
    recorded_harm_assessment: str | None = None
    harm_result: HarmResult
    fields: tuple[str, ...]
    disclosed_at: AwareDatetime
    decided_by: str


class ClockSuspended(DomainEvent):
    """A deadline's clock stopped (e.g. waiting for consent)."""

    deadline_key: str
    consultation_id: str | None = None
    reason: str
    at: AwareDatetime


class ClockResumed(DomainEvent):
    """A stopped clock runs again; the workflow records the pushed deadline next."""

    deadline_key: str
    consultation_id: str | None = None
    suspended_at: AwareDatetime
    at: AwareDatetime


class CaseClosed(DomainEvent):
    """The case was closed (avslutat); the retention clock runs from the last entry."""

    personal_fields: ClassVar[frozenset[str]] = frozenset({"reason"})

    reason: str
    decided_by: str
    at: AwareDatetime


class FieldError(BaseModel):
    """One problem with a signal's input: where and what kind, never the value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    code: str
    message: str


class SignalRejected(DomainEvent):
    """A signal that could not be accepted; recorded instead of failing the workflow task."""

    signal: str
    errors: tuple[FieldError, ...]
    at: AwareDatetime | None = None

    @field_validator("errors", mode="before")
    @classmethod
    def _from_strings(cls, value: Any) -> Any:
        """Accept ``"field: code"`` strings as well as `FieldError` objects."""
        if not isinstance(value, list | tuple):
            return value
        parsed: list[Any] = []
        for item in value:
            if isinstance(item, str):
                field, _, code = item.partition(": ")
                parsed.append(FieldError(field=field, code=code or "invalid", message=code or item))
            else:
                parsed.append(item)
        return parsed

    @classmethod
    def from_validation_error(
        cls, signal: str, error: ValidationError, *, at: datetime
    ) -> SignalRejected:
        """The rejection of a malformed signal payload (field paths and error types only)."""
        errors = tuple(
            FieldError(
                field=".".join(str(p) for p in err["loc"]) or "<payload>",
                code=err["type"],
                message=f"{err['type'].replace('_', ' ')}",
            )
            for err in error.errors(include_url=False, include_input=False, include_context=False)
        )
        return cls(signal=signal, errors=errors, at=at)

    @classmethod
    def from_rejected(cls, signal: str, rejected: Rejected, *, at: datetime) -> SignalRejected:
        """The rejection of a well-formed signal that the case refused."""
        error = FieldError(
            field=rejected.field or "<case>", code=rejected.code, message=rejected.message
        )
        return cls(signal=signal, errors=(error,), at=at)


def event_time(event: DomainEvent) -> datetime | None:
    """The instant an event records (None for a `DeadlineSet` written without one)."""
    if isinstance(event, DisclosureRecorded):
        return event.disclosed_at
    moment: Any = getattr(event, "at", None)
    return moment if isinstance(moment, datetime) else None


@upcaster("ReportReceived", 1)
def _report_received_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 stored the subject flat (``subject_name``, ``personal_identity_number``,
    ``birth_date``) and had no channel."""
    upgraded = {
        k: v
        for k, v in data.items()
        if k not in {"subject_name", "personal_identity_number", "birth_date"}
    }
    upgraded["subject"] = {
        "personal_identity_number": data.get("personal_identity_number"),
        "name": data.get("subject_name"),
        "birth_date": data.get("birth_date"),
    }
    upgraded.setdefault("channel", ReportChannel.UNKNOWN.value)
    upgraded.setdefault("urgent", False)
    return upgraded


@upcaster("InformationAdded", 1)
def _information_added_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 held ``source`` as free text (up to 200 characters, stored in clear): a listed
    value reads as itself, any other text as ``other``."""
    return {**data, "source": InformationSource.reading(data.get("source"))}


@upcaster("InvestigationOpened", 1)
def _investigation_opened_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 had no young-adult basis: every investigation was on the child path."""
    return {**data, "young_adult_basis": None}


@upcaster("ConsultationRequested", 1)
def _consultation_requested_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 had no statement: the officer stated nothing with the request."""
    return {**data, "statement": None}


@upcaster("DisclosureRecorded", 1)
def _disclosure_recorded_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 held a free-text ``harm_assessment`` the workflow filled in: it is kept as
    recorded, attributed to nobody, and no statement is read into it."""
    rest = {k: v for k, v in data.items() if k != "harm_assessment"}
    return {
        **rest,
        "statement": None,
        "stated_by": None,
        "recorded_harm_assessment": data.get("harm_assessment"),
    }


@upcaster("DeadlineSet", 1)
def _deadline_set_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 deadlines had no legal reference: they read with none (never a guessed one)."""
    deadline = data.get("deadline")
    if not isinstance(deadline, dict):
        return data  # validation names the field
    return {**data, "deadline": {**deadline, "legal_reference": None}}


@upcaster("InvestigationExtended", 1)
def _investigation_extended_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 did not say whether the extension came after the deadline: read as not late."""
    return {**data, "late": False}


@upcaster("FeedbackSent", 1)
def _feedback_sent_v1_to_v2(data: JsonDict) -> JsonDict:
    """v1 was recorded automatically with the pre-assessment: no content, no meeting
    offered, decided by nobody."""
    return {**data, "content": None, "meeting_offered": None, "decided_by": None}
