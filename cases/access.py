"""Who may see what, and what a consultation request may disclose to an agency.

Visibility is decided per case state × role (`visible_fields`). Disclosure is decided
per agency × legal basis (`DISCLOSABLE`): a request carries only the fields its agency
and legal basis permit, CVE never receives personal data, and every request that does
carry personal data is recorded as `DisclosureRecorded` with its legal basis, harm
assessment (menprövning), recipient, fields, time and decider. After ``closed`` nothing
is disclosed or visible externally.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cases.errors import Rejected
from cases.events import ConsultationRequested, DisclosureRecorded, HarmResult
from cases.models import Agency, CaseStateName, DomainModel, LegalBasis, Role
from cases.policy import Policy
from cases.state import CaseState, ConsultationStatus
from cases.workdays import local_date

PERMITTED_BASES: dict[Agency, frozenset[LegalBasis]] = {
    Agency.SCHOOL: frozenset({LegalBasis.CONSENT, LegalBasis.DUTY_TO_INFORM}),
    Agency.POLICE: frozenset({LegalBasis.OSL_10_18A, LegalBasis.CONSENT}),
    Agency.SAPO: frozenset({LegalBasis.TERRORISM_INFORMATION_SHARING}),
    Agency.SSPF: frozenset({LegalBasis.CONSENT}),
    Agency.BUP: frozenset({LegalBasis.CONSENT, LegalBasis.OSL_26_9}),
    Agency.CVE: frozenset({LegalBasis.NONE}),
}
"""The legal bases on which each agency may be asked (DESIGN §2)."""

PERSONAL_PAYLOAD_FIELDS = frozenset(
    {"subject_name", "personal_identity_number", "birth_date", "summary", "questions"}
)
"""Payload fields that carry personal data (``questions`` except towards CVE, where the
questions must be anonymised)."""

_IDENTITY = frozenset({"subject_name", "personal_identity_number", "birth_date"})

DISCLOSABLE: dict[Agency, frozenset[str]] = {
    Agency.SCHOOL: _IDENTITY | {"questions"},
    Agency.POLICE: _IDENTITY | {"questions", "summary"},
    Agency.SAPO: _IDENTITY | {"questions", "summary"},
    Agency.SSPF: _IDENTITY | {"questions", "summary"},
    Agency.BUP: _IDENTITY | {"questions"},
    Agency.CVE: frozenset(),
}
"""Personal fields each agency may receive on a permitted legal basis. CVE: none."""

OSL_10_18A_AGE_LIMIT = 21
"""OSL 10:18 a lets social services share data with the police about a person under 21."""

_STATE_FIELDS = (
    "case_number",
    "municipality",
    "state",
    "urgent",
    "mandatory_reporter",
    "reporter_kind",
    "received_at",
    "subject",
    "summary",
    "concern_category",
    "protection_acute",
    "investigation_opened_at",
    "investigation_extended_until",
    "extension_count",
    "outcome",
    "deadlines",
    "deadline_status",
    "escalations_raised",
    "consultations",
    "consents",
    "suspended_clocks",
    "next_consultation_number",
    "disclosure_count",
    "rejected_signal_count",
    "closed_at",
    "version",
    "last_event_at",
)
_PERSONAL_STATE = frozenset({"subject", "summary"})
ALL_FIELDS = frozenset(_STATE_FIELDS)
NON_PERSONAL_FIELDS = ALL_FIELDS - _PERSONAL_STATE
_ACUTE_STATES = frozenset(
    {
        CaseStateName.RECEIVED,
        CaseStateName.PROTECTION_ASSESSMENT,
        CaseStateName.IMMEDIATE_PROTECTION,
    }
)
_EXTERNAL_FIELDS = frozenset({"case_number", "state"})


def visible_fields(state: CaseStateName, role: Role) -> frozenset[str]:
    """The `CaseState` fields ``role`` may see while the case is in ``state``.

    Officers, unit managers and heads of division see everything. The on-call service
    (socialjour) sees everything while protection is being assessed, and no personal data
    after. Coordinators and auditors never see personal data. An external agency sees only
    the case number and state (its disclosures reach it as requests), and nothing once
    the case is closed. Consultation questions follow ``subject``: see `view_for`.
    """
    if role in {Role.OFFICER, Role.UNIT_MANAGER, Role.HEAD_OF_DIVISION}:
        return ALL_FIELDS
    if role is Role.ON_CALL:
        return ALL_FIELDS if state in _ACUTE_STATES else NON_PERSONAL_FIELDS
    if role in {Role.COORDINATOR, Role.AUDITOR}:
        return NON_PERSONAL_FIELDS
    return frozenset() if state is CaseStateName.CLOSED else _EXTERNAL_FIELDS


def view_for(case: CaseState, role: Role) -> dict[str, Any]:
    """The case as JSON with only the fields ``role`` may see (consultation questions only
    for a role that may see the subject)."""
    fields = visible_fields(case.state, role)
    data = case.model_dump(mode="json", include=set(fields))
    if "consultations" in data and "subject" not in fields:
        for consultation in data["consultations"].values():
            consultation.pop("questions", None)
    return data


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


def check_consultation_request(
    case: CaseState, *, agency: Agency, legal_basis: LegalBasis, questions: str, now: datetime
) -> None:
    """Refuse a consultation the law does not allow.

    Raises:
        Rejected: the legal basis is not one for this agency; OSL 10:18 a for a person
            21 or older; questions to CVE that name or number the subject.
    """
    if legal_basis not in PERMITTED_BASES[agency]:
        allowed = ", ".join(sorted(b.value for b in PERMITTED_BASES[agency]))
        raise Rejected(
            "legal_basis_not_permitted",
            "legal_basis",
            f"legal_basis is not permitted for {agency.value}; permitted: {allowed}",
        )
    age = case.subject.age_on(local_date(now))  # None: not yet identified, a child
    too_old = age is not None and age >= OSL_10_18A_AGE_LIMIT
    if legal_basis is LegalBasis.OSL_10_18A and too_old:
        raise Rejected(
            "legal_basis_not_applicable",
            "legal_basis",
            "osl_10_18a applies only to a person under 21",
        )
    if agency is Agency.CVE and _names_subject(case, questions):
        raise Rejected(
            "personal_data_to_cve",
            "questions",
            "questions to cve must be anonymised: they contain the subject's name, "
            "personal identity number or birth date",
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
    if harm_found or c.legal_basis not in PERMITTED_BASES[c.agency]:
        return frozenset()
    return DISCLOSABLE[c.agency]


def _payload(case: CaseState, c: ConsultationStatus, personal: frozenset[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "subject_name": case.subject.name,
        "personal_identity_number": case.subject.personal_identity_number,
        "birth_date": (
            case.subject.birth_date.isoformat() if case.subject.birth_date is not None else None
        ),
        "summary": case.summary,
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
    payload.update({name: values[name] for name in sorted(personal)})
    return payload


def consultation_request(
    case: CaseState, consultation: ConsultationRequested | str, *, harm_found: bool = False
) -> ConsultationRequestPayload:
    """The request to send to the consulted agency, minimised to what it may receive.

    Raises:
        Rejected: unknown consultation, the case is closed, or consent is required and not
            in force.
    """
    c = _resolve(case, consultation)
    personal = _disclosable(case, c, harm_found=harm_found)
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

    ``harm_found`` is the result of the harm assessment (menprövning): when harm was found
    no personal data is disclosed.

    Raises:
        Rejected: as `consultation_request`, or personal data would be disclosed without a
            written harm assessment.
    """
    request = consultation_request(case, consultation, harm_found=harm_found)
    if not request.contains_personal_data:
        return request, None
    if not harm_assessment.strip():
        raise Rejected(
            "harm_assessment_required",
            "harm_assessment",
            "a harm assessment is required before disclosing personal data",
        )
    rules = policy or Policy.default()
    record = DisclosureRecorded(
        consultation_id=request.consultation_id,
        recipient=request.agency,
        legal_basis=request.legal_basis,
        legal_reference=rules.legal_reference(request.legal_basis.value),
        harm_assessment=harm_assessment,
        harm_result=HarmResult.NO_HARM,
        fields=request.fields,
        disclosed_at=now,
        decided_by=decided_by,
    )
    return request, record
