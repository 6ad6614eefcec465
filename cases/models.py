"""The vocabulary of a case: agencies, roles, states, legal bases, and the case input.

Owns the enums every other module uses and `OpenCase`, the JSON object an operator types
into the Web UI's start form to open a case from a report of concern (orosanmälan).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from cases.examples import EXAMPLE_OPEN_CASE
from cases.ids import CASE_NUMBER_PATTERN

FROZEN = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
"""Configuration of every domain model: immutable, no unknown fields, no input in errors."""


class DomainModel(BaseModel):
    """Base of the domain's value objects: frozen, strict about fields, never echoing input."""

    model_config = FROZEN


_FIELDS_SETS: dict[tuple[type[BaseModel], frozenset[str]], set[str]] = {}
_FIELDS_SETS_MAX = 1024


def share_fields_set(model: DomainModel) -> None:
    """Let ``model`` share its set of explicitly given field names with its equals.

    Pydantic keeps that set per instance (728 bytes for five to nine names, more than the
    values of a small model); a case workflow holds a few dozen such models for as long
    as it is cached. A frozen model never changes the set in place (``model_copy`` copies
    it first), so instances of a class given the same fields can hold one set. Call it
    from an ``after`` validator of models that workflows keep in numbers.
    """
    fields = model.__pydantic_fields_set__
    key = (type(model), frozenset(fields))
    shared = _FIELDS_SETS.get(key)
    if shared is None:
        if len(_FIELDS_SETS) < _FIELDS_SETS_MAX:
            _FIELDS_SETS[key] = fields
        return
    if shared is not fields:
        object.__setattr__(model, "__pydantic_fields_set__", shared)


class Agency(StrEnum):
    """An agency Samverkan consults (DESIGN §2).

    ``school`` school and student health (elevhälsa); ``police`` the Police Authority;
    ``sapo`` the Security Service (Säkerhetspolisen); ``sspf`` the local social services,
    school, police and leisure group (SSPF-grupp); ``bup`` child and adolescent psychiatry
    (barn- och ungdomspsykiatri); ``cve`` the Centre for Preventing Violent Extremism
    (Center mot våldsbejakande extremism), which gives method advice on anonymised questions.
    """

    SCHOOL = "school"
    POLICE = "police"
    SAPO = "sapo"
    SSPF = "sspf"
    BUP = "bup"
    CVE = "cve"


ACTOR_PATTERN = r"^[a-z][a-z0-9._-]{0,63}$"
"""The one format of an operator identifier (``decided_by``, ``requested_by``): a staff or
user id of 1 to 64 characters, lowercase letters, digits, ``.``, ``_`` and ``-``, starting
with a letter (``officer-17``, ``unit-manager-3``, ``anna.l``). Never a name with spaces,
never free text, never a personal identity number (the leading letter keeps
``YYYYMMDD-NNNN`` out): an id is meaningless outside the municipality's directory, while a
typed name or note would stay readable in the event store after shredding. Actors are not
authenticated yet: the value is checked for its form only."""

_ACTOR = re.compile(ACTOR_PATTERN)


def is_actor_id(value: str) -> bool:
    """Whether ``value`` has the form of an operator identifier (`ACTOR_PATTERN`)."""
    return _ACTOR.fullmatch(value) is not None


class InformationSource(StrEnum):
    """Where new information about a case comes from (``AddInformation.source``): a kind,
    never a person's name.

    People: ``reporter`` the person who made the report of concern; ``guardian``
    (vårdnadshavare); ``young_person`` the young person the case is about; ``relative``
    another relative; ``public`` a member of the public; ``anonymous``. Agencies as an
    operator records them: ``school`` (including student health), ``police``, ``sapo``,
    ``sspf``, ``bup``, ``cve`` (as `Agency`); ``health_care`` other health care;
    ``social_services`` social services (this or another municipality's);
    ``other_authority`` any other authority. ``agency:<agency>``: the agency's own system,
    through the gateway (authenticated). ``other``: any other source, and what a source
    recorded as free text before this list existed reads as.
    """

    REPORTER = "reporter"
    GUARDIAN = "guardian"
    YOUNG_PERSON = "young_person"
    RELATIVE = "relative"
    PUBLIC = "public"
    ANONYMOUS = "anonymous"
    SCHOOL = "school"
    POLICE = "police"
    SAPO = "sapo"
    SSPF = "sspf"
    BUP = "bup"
    CVE = "cve"
    HEALTH_CARE = "health_care"
    SOCIAL_SERVICES = "social_services"
    OTHER_AUTHORITY = "other_authority"
    AGENCY_SCHOOL = "agency:school"
    AGENCY_POLICE = "agency:police"
    AGENCY_SAPO = "agency:sapo"
    AGENCY_SSPF = "agency:sspf"
    AGENCY_BUP = "agency:bup"
    AGENCY_CVE = "agency:cve"
    OTHER = "other"

    @classmethod
    def from_agency(cls, agency: Agency) -> InformationSource:
        """The source of information an agency's own system sends (``agency:<agency>``)."""
        return cls(f"agency:{agency.value}")

    @classmethod
    def reading(cls, value: object) -> object:
        """``value`` as recorded before the list existed: a listed value as it is, any other
        string that was accepted then (1 to 200 characters) as ``other`` (the free text is
        not kept); anything else unchanged, to be refused as it was then."""
        if isinstance(value, str) and 1 <= len(value) <= 200 and value not in _SOURCES:
            return cls.OTHER.value
        return value


_SOURCES = frozenset(s.value for s in InformationSource)


class ConsentScope(StrEnum):
    """Whom a consent (samtycke) covers (``ChangeConsent.scope``): ``all`` every agency
    Samverkan consults, or one agency (as `Agency`). An agency's own consent overrides
    ``all``. It is what the domain has always accepted (any other scope was refused), now
    a closed list in the schema too."""

    ALL = "all"
    SCHOOL = "school"
    POLICE = "police"
    SAPO = "sapo"
    SSPF = "sspf"
    BUP = "bup"
    CVE = "cve"


class Role(StrEnum):
    """Who decides, acts or is escalated to (not who may read: docs/security.md).

    Operator roles: ``officer`` case worker (handläggare); ``unit_manager`` (enhetschef);
    ``head_of_division`` (avdelningschef); ``on_call`` out-of-hours social services
    (socialjour); ``coordinator`` prevention coordinator (samordnare); ``auditor``
    supervisor or auditor. ``agency`` is any external agency system.
    """

    OFFICER = "officer"
    UNIT_MANAGER = "unit_manager"
    HEAD_OF_DIVISION = "head_of_division"
    ON_CALL = "on_call"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    AGENCY = "agency"


class CaseStateName(StrEnum):
    """Where a case stands (DESIGN §2).

    ``protection_assessment`` skyddsbedömning; ``immediate_protection`` omedelbart skydd;
    ``pre_assessment`` förhandsbedömning; ``investigation`` utredning; ``decided`` beslut;
    ``follow_up`` uppföljning; ``closed`` avslutat ärende.
    """

    RECEIVED = "received"
    PROTECTION_ASSESSMENT = "protection_assessment"
    IMMEDIATE_PROTECTION = "immediate_protection"
    PRE_ASSESSMENT = "pre_assessment"
    INVESTIGATION = "investigation"
    DECIDED = "decided"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


class DeadlineKind(StrEnum):
    """Which statutory or agreed time limit a deadline is."""

    PROTECTION_ASSESSMENT = "protection_assessment"
    PRE_ASSESSMENT = "pre_assessment"
    INVESTIGATION = "investigation"
    CONSULTATION = "consultation"
    CUSTODY_SUBMISSION = "custody_submission"
    CARE_APPLICATION = "care_application"
    FEEDBACK_TO_REPORTER = "feedback_to_reporter"


#: Deadlines due on their own day and never moved to a working day by lag (1930:173): the
#: protection assessment ("genast") and the LVU 7 § and 8 § limits, whose passing ends an
#: immediate custody (LVU 9 §) — whether lag 1930:173 reaches them is not confirmed, so the
#: protective reading is kept (docs/legal.md).
NOT_MOVED_BY_CALENDAR = frozenset(
    {
        DeadlineKind.PROTECTION_ASSESSMENT,
        DeadlineKind.CUSTODY_SUBMISSION,
        DeadlineKind.CARE_APPLICATION,
    }
)

#: The deadlines an immediate custody (LVU 6 §) starts; missing either ends it (LVU 9 §).
CUSTODY_DEADLINES = frozenset({DeadlineKind.CUSTODY_SUBMISSION, DeadlineKind.CARE_APPLICATION})


class CustodyDecisionMaker(StrEnum):
    """Who decided an immediate custody under LVU 6 §: the social welfare committee
    (socialnämnden), or when its decision cannot wait its chair (ordföranden) or another
    member it has appointed (förordnad ledamot)."""

    COMMITTEE = "committee"
    CHAIR = "chair"
    APPOINTED_MEMBER = "appointed_member"


class CourtFiling(StrEnum):
    """What the committee filed with the administrative court (förvaltningsrätten) about an
    immediate custody: the decision submitted for review (underställning, LVU 7 §) or the
    application for care (ansökan om vård, LVU 8 §)."""

    CUSTODY_SUBMITTED = "custody_submitted"
    CARE_APPLIED = "care_applied"


class InformedParty(StrEnum):
    """Who was told that an investigation opened: a guardian (vårdnadshavare) or the young
    person."""

    GUARDIAN = "guardian"
    YOUNG_PERSON = "young_person"


class LegalBasis(StrEnum):
    """The closed list of grounds on which personal data may be disclosed to an agency.

    Which agency may be asked on which basis, at which age and in which case state, and
    the provision behind each, is `cases.access.DISCLOSURE_TABLE` (docs/legal.md).
    ``consent`` samtycke (OSL 12:2, for a child 12:3); ``osl_10_2`` necessary disclosure
    (nödvändigt utlämnande, OSL 10:2); ``osl_26_1`` no harm after the harm assessment
    (menprövning, OSL 26:1); ``osl_10_18a`` a young person under 21, to the police
    (OSL 10:18 a); ``osl_26_9`` to health care for a protective intervention for a child
    (OSL 26:9); ``terrorism_information_sharing`` to the police or Säpo to prevent or
    investigate terrorism offences (prop. 2019/20:123); ``osl_10_28`` a duty to disclose
    in a law or ordinance (OSL 10:28); ``none`` no personal data (CVE).
    ``duty_to_inform`` (the school's duty to inform social services, not a basis to
    disclose) and ``osl_10_15a`` (not for social-services secrecy) are kept so recorded
    requests still read; neither is permitted.
    """

    CONSENT = "consent"
    NECESSARY_DISCLOSURE = "osl_10_2"
    OSL_26_1 = "osl_26_1"
    OSL_10_18A = "osl_10_18a"
    OSL_26_9 = "osl_26_9"
    TERRORISM_INFORMATION_SHARING = "terrorism_information_sharing"
    OSL_10_28 = "osl_10_28"
    OSL_10_15A = "osl_10_15a"
    DUTY_TO_INFORM = "duty_to_inform"
    NONE = "none"


class ReporterKind(StrEnum):
    """Who made the report of concern (anmälare)."""

    SCHOOL = "school"
    POLICE = "police"
    HEALTH_CARE = "health_care"
    SOCIAL_SERVICES = "social_services"
    OTHER_AUTHORITY = "other_authority"
    GUARDIAN = "guardian"
    RELATIVE = "relative"
    PUBLIC = "public"
    ANONYMOUS = "anonymous"
    SELF = "self"


class ReportChannel(StrEnum):
    """How the report arrived."""

    WRITTEN = "written"
    PHONE = "phone"
    IN_PERSON = "in_person"
    DIGITAL = "digital"
    UNKNOWN = "unknown"


class ConcernCategory(StrEnum):
    """What the concern is about, in the broad categories the statistics use."""

    VIOLENT_EXTREMIST_ENVIRONMENT = "violent_extremist_environment"
    RADICALISATION = "radicalisation"
    TRAVEL_RISK = "travel_risk"
    VIOLENCE = "violence"
    ONLINE_PROPAGANDA = "online_propaganda"
    OTHER = "other"


class InvestigationOutcome(StrEnum):
    """What an investigation ended in: an intervention (insats), none, an application under
    the Care of Young Persons Act (LVU), a transfer to another municipality (överflyttning),
    or a commitment plan in the SSPF group (åtagandeplan)."""

    INTERVENTION = "intervention"
    NO_INTERVENTION = "no_intervention"
    LVU_APPLICATION = "lvu_application"
    TRANSFER = "transfer"
    SSPF_PLAN = "sspf_plan"


class ConsultationOutcomeKind(StrEnum):
    """What a consultation child workflow reports: an acknowledgement, or how it ended."""

    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    DECLINED = "declined"
    EXPIRED = "expired"
    FAILED = "failed"


class ConsultationStatusName(StrEnum):
    """Where one consultation stands."""

    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    DECLINED = "declined"
    EXPIRED = "expired"


class EscalationAction(StrEnum):
    """What an escalation rung asks of its role."""

    REMIND = "remind"
    NOTIFY = "notify"
    EXTENSION_DECISION_DUE = "extension_decision_due"
    DEVIATION_REPORT = "deviation_report"
    CONTACT_PERSON = "contact_person"
    PROCEED_WITHOUT_ANSWER = "proceed_without_answer"


_PIN = re.compile(r"^(?P<century>\d{2})?(?P<yy>\d{2})(?P<mm>\d{2})(?P<dd>\d{2})[-+]\d{4}$")


def _encoded_date(value: str) -> tuple[int | None, int, int, int] | None:
    """(century or None, two-digit year, month, day) a personal identity number encodes."""
    match = _PIN.match(value)
    if match is None:
        return None
    day = int(match["dd"])
    if day > 60:  # a coordination number (samordningsnummer) adds 60 to the day
        day -= 60
    century = int(match["century"]) if match["century"] is not None else None
    return century, int(match["yy"]), int(match["mm"]), day


class AgePath(StrEnum):
    """Which path the law sets for the young person by age on the day the report arrived.

    ``child`` under 18 (SoL, LVU 2 §); ``young_adult`` 18, 19 or 20: an investigation needs
    the young person's consent unless care under LVU 3 § may apply, which LVU 1 § third
    paragraph allows only for one who has turned 18 but not 20 (`LVU_3_AGE_LIMIT`);
    ``unidentified`` a child not yet identified, on the child path until identified.
    Reports about people 21 or older are refused (`ADULT_AGE`).
    """

    CHILD = "child"
    YOUNG_ADULT = "young_adult"
    UNIDENTIFIED = "unidentified"


YOUNG_ADULT_AGE = 18
"""Age from which the young-adult path applies (myndighetsålder, FB 9:1)."""
LVU_3_AGE_LIMIT = 20
"""LVU 1 § third paragraph: care under 3 § for one who has turned 18 but not 20."""
ADULT_AGE = 21
"""Age from which a report is refused: neither LVU (3 §: under 20) nor the information
sharing for young people under 21 (OSL 10:18 a) reaches the person."""


class YoungAdultBasis(StrEnum):
    """Why an investigation of an 18-to-20-year-old may open: ``consent`` the young person
    consented; ``lvu_3`` care under LVU 3 § (own behaviour) may apply, which needs no
    consent (LVU 1 §: care is given without consent when the conditions are met)."""

    CONSENT = "consent"
    LVU_3 = "lvu_3"


class Subject(DomainModel):
    """The young person a report is about (den enskilde). Every field is personal data.

    Identified: the personal identity number (personnummer, or samordningsnummer with
    day + 60) is checked for its shape and its date, and must agree with ``birth_date``;
    ``name`` is required; the check digit is not required to be valid (test numbers and
    historical numbers exist). Not yet identified: no personal identity number, and
    ``unidentified`` describes what is known (e.g. "pupil in class 8B, about 14"); name and
    birth date are optional (a known birth date puts the young person on their age's path).
    """

    personal_identity_number: str | None = Field(
        default=None, description="personnummer or samordningsnummer: YYYYMMDD-NNNN or YYMMDD-NNNN"
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: date | None = None
    unidentified: str | None = Field(
        default=None,
        min_length=1,
        max_length=2_000,
        description="what is known of a child not yet identified (no personal identity number)",
    )

    @field_validator("personal_identity_number")
    @classmethod
    def _valid_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        encoded = _encoded_date(value)
        if encoded is None:
            raise ValueError("personal_identity_number must be YYYYMMDD-NNNN or YYMMDD-NNNN")
        century, yy, month, day = encoded
        try:
            date(2000 + yy if century is None else century * 100 + yy, month, day)
        except ValueError:
            raise ValueError("personal_identity_number does not hold a valid date") from None
        return value

    @model_validator(mode="after")
    def _birth_date_matches(self) -> Subject:
        if self.personal_identity_number is None:
            if self.unidentified is None or not self.unidentified.strip():
                raise ValueError(
                    "a subject without personal_identity_number needs unidentified "
                    "(what is known of the child)"
                )
            return self
        if self.unidentified is not None:
            raise ValueError("an identified subject takes no unidentified description")
        if self.name is None:
            raise ValueError("name is required with personal_identity_number")
        if self.birth_date is None:
            raise ValueError("birth_date is required with personal_identity_number")
        encoded = _encoded_date(self.personal_identity_number)
        if encoded is None:
            raise ValueError("personal_identity_number must be YYYYMMDD-NNNN or YYMMDD-NNNN")
        century, yy, month, day = encoded
        born = self.birth_date
        if century is not None and born.year // 100 != century:
            raise ValueError("birth_date does not match personal_identity_number")
        if (born.year % 100, born.month, born.day) != (yy, month, day):
            raise ValueError("birth_date does not match personal_identity_number")
        return self

    @property
    def identified(self) -> bool:
        """Whether the subject has a personal identity number."""
        return self.personal_identity_number is not None

    def age_on(self, day: date) -> int | None:
        """Completed years of age on ``day``; None when the birth date is unknown."""
        if self.birth_date is None:
            return None
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years

    def age_path(self, day: date) -> AgePath | None:
        """The path for the young person's age on ``day``; None when 21 or older (refused).
        A subject with neither identity nor birth date is ``unidentified`` (child path)."""
        age = self.age_on(day)
        if age is None:
            return AgePath.UNIDENTIFIED
        if age >= ADULT_AGE:
            return None
        return AgePath.YOUNG_ADULT if age >= YOUNG_ADULT_AGE else AgePath.CHILD


class OpenCase(DomainModel):
    """A report of concern (orosanmälan) as an operator registers it: the case workflow's input.

    Plain JSON; see ``cases.examples.EXAMPLE_OPEN_CASE``. ``case_number`` becomes the
    workflow id (``case-<case number>``) and must carry no personal data.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        json_schema_extra={"examples": [EXAMPLE_OPEN_CASE]},
    )

    case_number: str = Field(pattern=CASE_NUMBER_PATTERN, description="no personal data")
    municipality: str = Field(min_length=1, max_length=100)
    received_at: AwareDatetime
    reporter_kind: ReporterKind
    mandatory_reporter: bool = Field(description="reported under the duty to report (SoL 14:1)")
    channel: ReportChannel = ReportChannel.UNKNOWN
    subject: Subject
    concern_category: ConcernCategory
    summary: str = Field(min_length=1, max_length=20_000, description="personal data")
    urgent: bool = False
