"""What a consultation request may disclose to an agency.

Disclosure is decided per agency × legal basis (`DISCLOSURE_TABLE`): a request carries
only the fields its agency and legal basis permit, CVE never receives personal data, and
every request that does carry personal data is recorded as `DisclosureRecorded` with its
legal basis, harm assessment (menprövning), recipient, fields, time and decider. After
``closed`` nothing is disclosed.

Who may *read* a case is not decided here: docs/security.md, "Who can reach what".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from cases.disclosure import STATEMENT_PART, ConsentGiver, DisclosureStatement, HarmAssessment
from cases.errors import Rejected
from cases.events import ConsultationRequested, DisclosureRecorded, HarmResult
from cases.models import Agency, CaseStateName, DomainModel, LegalBasis
from cases.policy import LegalReference, Policy
from cases.state import CaseState, ConsultationStatus
from cases.workdays import local_date

_OSL = "OSL"
_OSL_SFS = "2009:400"
_OSL_IN_FORCE = date(2009, 6, 30)


def _osl(
    chapter: int, section: str, source: str, *, valid_from: date = _OSL_IN_FORCE
) -> LegalReference:
    return LegalReference(
        act=_OSL,
        sfs=_OSL_SFS,
        chapter=chapter,
        section=section,
        valid_from=valid_from,
        source=source,
        verified=False,
    )


OSL_12_2 = _osl(12, "2", "OSL 12:2 (12:3 for a child's guardians); secondary sources only")
OSL_10_2 = _osl(10, "2", "text quoted by elevhalsan.uppsala.se; not read in SFS")
OSL_26_1 = _osl(26, "1", "reverse harm test (omvänt skaderekvisit); not read in SFS")
OSL_10_18A = _osl(
    10,
    "18 a",
    "prop. 2011/12:171 (three conditions, under 21, to the police)",
    valid_from=date(2013, 1, 1),
)
OSL_26_9 = _osl(26, "9", "from memory: under 18, a necessary protective intervention")
OSL_TERRORISM = _osl(
    10,
    "18 b",
    "prop. 2019/20:123 (police and Säpo, from 2020-08-01); paragraph unverified",
    valid_from=date(2020, 8, 1),
)
OSL_10_28 = _osl(10, "28", "text quoted by elevhalsan.uppsala.se; not read in SFS")


@dataclass(frozen=True)
class Cell:
    """One permitted agency × legal basis: its provision, the payload fields it needs,
    the age the subject must be under (None: any age) and whether the case must have an
    opened investigation (utredning). No cell permits anything once the case is closed."""

    provision: LegalReference | None
    fields: frozenset[str]
    under_age: int | None = None
    needs_investigation: bool = False

    def describe(self, basis: LegalBasis) -> str:
        """The basis with its conditions, for a refusal's message."""
        conditions = []
        if self.under_age is not None:
            conditions.append(f"under {self.under_age}")
        if self.needs_investigation:
            conditions.append("once an investigation is opened")
        return basis.value + (f" ({', '.join(conditions)})" if conditions else "")


_IDENTITY = frozenset({"subject_name", "personal_identity_number", "birth_date"})
_FULL = _IDENTITY | {"questions"}
_NAME_AND_BIRTH = frozenset({"subject_name", "birth_date", "questions"})

DISCLOSURE_TABLE: dict[Agency, dict[LegalBasis, Cell]] = {
    Agency.SCHOOL: {
        LegalBasis.CONSENT: Cell(OSL_12_2, _NAME_AND_BIRTH),
        LegalBasis.NECESSARY_DISCLOSURE: Cell(OSL_10_2, _NAME_AND_BIRTH, needs_investigation=True),
        LegalBasis.OSL_26_1: Cell(OSL_26_1, _NAME_AND_BIRTH, needs_investigation=True),
    },
    Agency.POLICE: {
        LegalBasis.CONSENT: Cell(OSL_12_2, _FULL),
        LegalBasis.OSL_10_18A: Cell(OSL_10_18A, _FULL, under_age=21),
        LegalBasis.TERRORISM_INFORMATION_SHARING: Cell(OSL_TERRORISM, _FULL),
        LegalBasis.OSL_10_28: Cell(OSL_10_28, _FULL),
    },
    Agency.SAPO: {
        LegalBasis.CONSENT: Cell(OSL_12_2, _FULL),
        LegalBasis.TERRORISM_INFORMATION_SHARING: Cell(OSL_TERRORISM, _FULL),
        LegalBasis.OSL_10_28: Cell(OSL_10_28, _FULL),
    },
    Agency.SSPF: {
        LegalBasis.CONSENT: Cell(OSL_12_2, _NAME_AND_BIRTH),
    },
    Agency.BUP: {
        LegalBasis.CONSENT: Cell(OSL_12_2, _FULL),
        LegalBasis.OSL_26_9: Cell(OSL_26_9, _FULL, under_age=18, needs_investigation=True),
        LegalBasis.NECESSARY_DISCLOSURE: Cell(OSL_10_2, _FULL, needs_investigation=True),
        LegalBasis.OSL_26_1: Cell(OSL_26_1, _FULL, needs_investigation=True),
    },
    Agency.CVE: {LegalBasis.NONE: Cell(None, frozenset())},
}
"""Agency × legal basis × age × case state, each cell with its provision (docs/legal.md).
The payload never carries the report's summary nor the reporter's identity."""

PERMITTED_BASES: dict[Agency, frozenset[LegalBasis]] = {
    agency: frozenset(cells) for agency, cells in DISCLOSURE_TABLE.items()
}
"""The legal bases on which each agency may be asked (the table's rows)."""

NEVER_PERMITTED: dict[LegalBasis, str] = {
    LegalBasis.DUTY_TO_INFORM: (
        "duty_to_inform is the school's duty to inform social services (anmälningsplikt), "
        "not a basis for social services to disclose"
    ),
    LegalBasis.OSL_10_15A: (
        "osl_10_15a does not lift social-services secrecy (OSL 26 kap. is excluded)"
    ),
}

LEGACY_PERMITTED_BASES: dict[Agency, frozenset[LegalBasis]] = {
    Agency.SCHOOL: frozenset({LegalBasis.CONSENT, LegalBasis.DUTY_TO_INFORM}),
    Agency.POLICE: frozenset({LegalBasis.OSL_10_18A, LegalBasis.CONSENT}),
    Agency.SAPO: frozenset({LegalBasis.TERRORISM_INFORMATION_SHARING}),
    Agency.SSPF: frozenset({LegalBasis.CONSENT}),
    Agency.BUP: frozenset({LegalBasis.CONSENT, LegalBasis.OSL_26_9}),
    Agency.CVE: frozenset({LegalBasis.NONE}),
}
"""The table before the officer stated assessments: only requests recorded then (no
statement) are read against it, so that a recorded case replays as it ran."""

PERSONAL_PAYLOAD_FIELDS = frozenset(
    {"subject_name", "personal_identity_number", "birth_date", "summary", "questions"}
)
"""Payload fields that carry personal data (``questions`` except towards CVE, where the
questions must be anonymised). ``summary`` is never sent any more."""

OSL_10_18A_AGE_LIMIT = 21
"""OSL 10:18 a lets social services share data with the police about a person under 21."""


class ConsultationRequestPayload(DomainModel):
    """What is sent to an agency for one consultation.

    Attributes:
        fields: names of the payload's fields that carry personal data (empty for CVE).
        payload: the JSON the agency receives.
        contains_personal_data: whether ``fields`` is non-empty (then a
            `DisclosureRecorded` must be recorded).
    """

    consultation_id: str
    case_number: str
    agency: Agency
    legal_basis: LegalBasis
    acute: bool
    fields: tuple[str, ...]
    payload: dict[str, Any]
    contains_personal_data: bool


def _permitted(agency: Agency) -> str:
    cells = DISCLOSURE_TABLE[agency]
    return "; ".join(cells[b].describe(b) for b in sorted(cells, key=lambda b: b.value))


def check_consultation_request(
    case: CaseState, *, agency: Agency, legal_basis: LegalBasis, questions: str, now: datetime
) -> Cell:
    """Refuse a consultation the disclosure table does not allow; the cell that allows it.

    Raises:
        Rejected: the case is closed; the basis is not one for this agency (the message
            lists what is permitted); the subject is too old, or of unknown age, for the
            basis; the basis needs an opened investigation; questions to CVE that name or
            number the subject.
    """
    if case.state is CaseStateName.CLOSED:
        raise Rejected("case_closed", None, "nothing is disclosed after the case is closed")
    cell = DISCLOSURE_TABLE[agency].get(legal_basis)
    if cell is None:
        why = NEVER_PERMITTED.get(
            legal_basis, f"{legal_basis.value} is not a basis for {agency.value}"
        )
        raise Rejected(
            "legal_basis_not_permitted",
            "legal_basis",
            f"{why}; permitted for {agency.value}: {_permitted(agency)}",
        )
    if cell.under_age is not None:
        age = case.subject.age_on(local_date(now))
        if age is None or age >= cell.under_age:
            raise Rejected(
                "legal_basis_not_applicable",
                "legal_basis",
                f"{legal_basis.value} applies only to a person under {cell.under_age}"
                + (" (the subject's age is not known)" if age is None else "")
                + f"; permitted for {agency.value}: {_permitted(agency)}",
            )
    if cell.needs_investigation and case.investigation_opened_at is None:
        raise Rejected(
            "investigation_required",
            "legal_basis",
            f"{legal_basis.value} to {agency.value} needs an opened investigation; before "
            f"one, permitted: consent"
            if LegalBasis.CONSENT in DISCLOSURE_TABLE[agency]
            else f"{legal_basis.value} to {agency.value} needs an opened investigation",
        )
    if agency is Agency.CVE and _names_subject(case, questions):
        raise Rejected(
            "personal_data_to_cve",
            "questions",
            "questions to cve must be anonymised: they contain the subject's name, "
            "personal identity number or birth date",
        )
    return cell


def check_legacy_request(
    case: CaseState, *, agency: Agency, legal_basis: LegalBasis, questions: str, now: datetime
) -> None:
    """The check a request recorded without a statement was made under (replay only)."""
    if legal_basis not in LEGACY_PERMITTED_BASES[agency]:
        raise Rejected("legal_basis_not_permitted", "legal_basis", "legal_basis is not permitted")
    age = case.subject.age_on(local_date(now))
    too_old = age is not None and age >= OSL_10_18A_AGE_LIMIT
    if legal_basis is LegalBasis.OSL_10_18A and too_old:
        raise Rejected(
            "legal_basis_not_applicable",
            "legal_basis",
            "osl_10_18a applies only to a person under 21",
        )


def _missing(field: str, basis: LegalBasis) -> Rejected:
    return Rejected(
        "statement_required",
        field,
        f"a request on {basis.value} must state {field} (the officer's own assessment)",
    )


def _require(value: str | None, field: str, basis: LegalBasis) -> None:
    if value is None or not value.strip():
        raise _missing(field, basis)


def check_statement(
    case: CaseState,
    *,
    legal_basis: LegalBasis,
    statement: DisclosureStatement | None,
    now: datetime,
) -> None:
    """Refuse a request whose statement lacks what its basis asks for (`STATEMENT_PART`).

    Raises:
        Rejected: the part is missing or blank (the field is named), another basis's part
            is stated, the harm assessment found harm, consent is dated after today, or an
            adult's consent is not their own.
    """
    part = STATEMENT_PART.get(legal_basis)
    stated = statement or DisclosureStatement()
    extra = sorted(name for name, value in stated if value is not None and name != part)
    if extra:
        raise Rejected(
            "statement_not_for_basis",
            f"statement.{extra[0]}",
            f"statement.{extra[0]} is not a condition of {legal_basis.value}",
        )
    if part is None:
        return
    field = f"statement.{part}"
    value = getattr(stated, part)
    if value is None:
        raise _missing(field, legal_basis)
    if isinstance(value, str):
        _require(value, field, legal_basis)
    elif isinstance(value, HarmAssessment):
        _require(value.reasons, f"{field}.reasons", legal_basis)
        if value.harm_found:
            raise Rejected(
                "harm_found",
                f"{field}.harm_found",
                "the harm assessment found harm: the data is secret (OSL 26:1) and is not disclosed",
            )
    elif part == "osl_10_18a":
        for name in ("risk_of_criminal_activity", "may_help_prevent", "not_inappropriate"):
            _require(getattr(value, name), f"{field}.{name}", legal_basis)
    elif part == "consent":
        _require(value.scope, f"{field}.scope", legal_basis)
        today = local_date(now)
        if value.given_on > today:
            raise Rejected(
                "consent_not_given", f"{field}.given_on", "consent cannot be given after today"
            )
        age = case.subject.age_on(today)
        if age is not None and age >= 18 and value.given_by is not ConsentGiver.SUBJECT:
            raise Rejected(
                "consent_not_own",
                f"{field}.given_by",
                "an adult's data is disclosed on their own consent only (given_by: subject)",
            )


def _names_subject(case: CaseState, text: str) -> bool:
    lowered = text.casefold()
    subject = case.subject
    pin_digits = "".join(ch for ch in subject.personal_identity_number or "" if ch.isdigit())
    text_digits = "".join(ch for ch in text if ch.isdigit())
    name_parts = [p for p in (subject.name or "").casefold().split() if len(p) >= 2]
    return (
        any(part in lowered for part in name_parts)
        or (len(pin_digits) >= 10 and pin_digits[-10:] in text_digits)
        or (subject.birth_date is not None and subject.birth_date.isoformat() in text)
    )


def _resolve(case: CaseState, consultation: ConsultationRequested | str) -> ConsultationStatus:
    cid = consultation if isinstance(consultation, str) else consultation.consultation_id
    found = case.consultations.get(cid)
    if found is None:
        raise Rejected("unknown_consultation", "consultation_id", "no such consultation")
    return found


def _disclosable(case: CaseState, c: ConsultationStatus, *, harm_found: bool) -> frozenset[str]:
    if case.state is CaseStateName.CLOSED:
        raise Rejected("case_closed", None, "nothing is disclosed after the case is closed")
    if c.legal_basis is LegalBasis.CONSENT and not case.consent_given(c.agency):
        raise Rejected("consent_required", "legal_basis", "consent is not in force for this agency")
    cell = DISCLOSURE_TABLE[c.agency].get(c.legal_basis)
    if harm_found:
        return frozenset()
    if cell is not None:
        return cell.fields
    if c.statement is None and c.legal_basis in LEGACY_PERMITTED_BASES[c.agency]:
        # recorded before the table was corrected (replay only): never the summary
        return _FULL if c.agency is not Agency.CVE else frozenset()
    return frozenset()


def _payload(case: CaseState, c: ConsultationStatus, personal: frozenset[str]) -> dict[str, Any]:
    birth = case.subject.birth_date
    values: dict[str, Any] = {
        "subject_name": case.subject.name,
        "personal_identity_number": case.subject.personal_identity_number,
        "birth_date": birth.isoformat() if birth is not None else None,
        "questions": c.questions,
    }
    payload: dict[str, Any] = {
        "consultation_id": c.consultation_id,
        "case_number": case.case_number,
        "agency": c.agency.value,
        "legal_basis": c.legal_basis.value,
        "acute": c.acute,
        "concern_category": case.concern_category.value,
    }
    if c.agency is Agency.CVE:
        payload["questions"] = c.questions  # anonymised: checked when requested
    payload.update({name: values[name] for name in sorted(personal) if name in values})
    return payload


def consultation_request(
    case: CaseState, consultation: ConsultationRequested | str, *, harm_found: bool = False
) -> ConsultationRequestPayload:
    """The request to send to the consulted agency, minimised to what its basis needs.

    Raises:
        Rejected: unknown consultation, the case is closed, or consent is required and not
            in force.
    """
    c = _resolve(case, consultation)
    stated = c.statement.harm_assessment if c.statement is not None else None
    personal = _disclosable(case, c, harm_found=harm_found or bool(stated and stated.harm_found))
    personal = frozenset(f for f in personal if f != "summary")
    return ConsultationRequestPayload(
        consultation_id=c.consultation_id,
        case_number=case.case_number,
        agency=c.agency,
        legal_basis=c.legal_basis,
        acute=c.acute,
        fields=tuple(sorted(personal)),
        payload=_payload(case, c, personal),
        contains_personal_data=bool(personal),
    )


def disclosure_for(
    case: CaseState,
    consultation: ConsultationRequested | str,
    *,
    decided_by: str,
    harm_assessment: str,
    now: datetime,
    harm_found: bool = False,
    policy: Policy | None = None,
) -> tuple[ConsultationRequestPayload, DisclosureRecorded | None]:
    """The minimised request and, when it carries personal data, its disclosure record.

    The record holds what the requesting officer stated with the request (its statement
    and ``stated_by``), and the provision of the table's cell. ``harm_assessment`` /
    ``harm_found`` are a harm assessment stated when the request is sent, for a request
    recorded without a statement; blank, such a request is recorded as stating nothing
    (``statement`` None) — nothing is filled in for the officer.
    """
    c = _resolve(case, consultation)
    statement = c.statement
    stated_by = c.requested_by if statement is not None else None
    if statement is None and harm_assessment.strip():
        statement = DisclosureStatement(
            harm_assessment=HarmAssessment(harm_found=harm_found, reasons=harm_assessment)
        )
        stated_by = decided_by
    found = (
        statement is not None
        and statement.harm_assessment is not None
        and (statement.harm_assessment.harm_found)
    )
    request = consultation_request(case, consultation, harm_found=found)
    if not request.contains_personal_data:
        return request, None
    cell = DISCLOSURE_TABLE[request.agency].get(request.legal_basis)
    rules = policy or Policy.default()
    reference = rules.resolve(request.legal_basis.value, on=local_date(now)) or (
        cell.provision if cell is not None else None
    )
    record = DisclosureRecorded(
        consultation_id=request.consultation_id,
        recipient=request.agency,
        legal_basis=request.legal_basis,
        legal_reference=reference,
        statement=statement,
        stated_by=stated_by,
        harm_result=(
            HarmResult.NO_HARM
            if statement is not None and statement.harm_assessment is not None
            else HarmResult.NOT_ASSESSED
        ),
        fields=request.fields,
        disclosed_at=now,
        decided_by=decided_by,
    )
    return request, record
