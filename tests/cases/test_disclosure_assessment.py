"""The officer states each basis's conditions; the disclosure record holds exactly that."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

import cases
from cases import Agency, LegalBasis, Rejected
from cases.commands import check_new_input
from cases.disclosure import (
    STATEMENT_PART,
    ConsentGiver,
    ConsentStatement,
    DisclosureStatement,
    HarmAssessment,
    YoungPersonConditions,
)
from cases.envelope import upcast
from cases.events import ConsultationRequested, DisclosureRecorded
from tests.cases.case_builders import Case

STATED: dict[LegalBasis, DisclosureStatement] = {
    LegalBasis.OSL_26_1: DisclosureStatement(
        harm_assessment=HarmAssessment(harm_found=False, reasons="Attendance only: no harm.")
    ),
    LegalBasis.OSL_10_18A: DisclosureStatement(
        osl_10_18a=YoungPersonConditions(
            risk_of_criminal_activity="Recruited by a violent group.",
            may_help_prevent="SSPF programme.",
            not_inappropriate="Support not hindered.",
        )
    ),
    LegalBasis.CONSENT: DisclosureStatement(
        consent=ConsentStatement(
            given_by=ConsentGiver.GUARDIANS,
            scope="Attendance, to the school.",
            given_on=date(2026, 1, 2),
        )
    ),
    LegalBasis.NECESSARY_DISCLOSURE: DisclosureStatement(necessity="The investigation needs it."),
    LegalBasis.OSL_26_9: DisclosureStatement(protective_intervention="Assessment by BUP."),
    LegalBasis.TERRORISM_INFORMATION_SHARING: DisclosureStatement(
        terrorism_purpose="Plans an attack."
    ),
    LegalBasis.OSL_10_28: DisclosureStatement(
        statutory_duty="lag om skyldighet att lämna uppgifter"
    ),
}
AGENCY = {
    LegalBasis.OSL_26_1: Agency.SCHOOL,
    LegalBasis.OSL_10_18A: Agency.POLICE,
    LegalBasis.CONSENT: Agency.SCHOOL,
    LegalBasis.NECESSARY_DISCLOSURE: Agency.BUP,
    LegalBasis.OSL_26_9: Agency.BUP,
    LegalBasis.TERRORISM_INFORMATION_SHARING: Agency.SAPO,
    LegalBasis.OSL_10_28: Agency.POLICE,
}


def _investigating() -> Case:
    case = Case()
    case.assess()
    case.do(cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="officer-1"))
    return case


@pytest.mark.parametrize("basis", list(STATED))
def test_the_record_holds_exactly_what_the_officer_stated(basis: LegalBasis) -> None:
    case = _investigating()
    if basis is LegalBasis.CONSENT:
        case.do(cases.ChangeConsent(given=True, scope="all", by_whom="guardian"))
    cid = case.ask(AGENCY[basis], basis, statement=STATED[basis])
    events = case.do(
        cases.RecordDisclosure(consultation_id=cid, decided_by="officer-2", harm_assessment="")
    )
    (record,) = events
    assert isinstance(record, DisclosureRecorded)
    assert record.statement == STATED[basis]
    assert record.stated_by == "officer-1" and record.decided_by == "officer-2"
    assert record.legal_reference is not None
    assert "summary" not in record.fields
    assert "statement" in DisclosureRecorded.personal_fields
    assert "statement" not in record.without_personal_data()


@pytest.mark.parametrize("basis", list(STATED))
def test_a_request_without_its_statement_is_refused_naming_the_field(basis: LegalBasis) -> None:
    command = cases.RequestConsultation(
        agency=AGENCY[basis], legal_basis=basis, questions="q", requested_by="officer-1"
    )
    with pytest.raises(Rejected) as info:
        check_new_input(command)
    assert info.value.field == f"statement.{STATEMENT_PART[basis]}"


@pytest.mark.parametrize("basis", list(STATED))
def test_another_basis_statement_is_refused(basis: LegalBasis) -> None:
    case = _investigating()
    other = next(b for b in STATED if b is not basis)
    with pytest.raises(Rejected) as info:
        case.ask(AGENCY[basis], basis, statement=STATED[other])
    assert info.value.code in {"statement_not_for_basis", "statement_required"}


@pytest.mark.parametrize(
    ("basis", "statement", "field"),
    [
        (
            LegalBasis.OSL_26_1,
            {"harm_assessment": {"harm_found": False, "reasons": " "}},
            "statement.harm_assessment.reasons",
        ),
        (
            LegalBasis.OSL_26_1,
            {"harm_assessment": {"harm_found": True, "reasons": "harm"}},
            "statement.harm_assessment.harm_found",
        ),
        (
            LegalBasis.OSL_10_18A,
            {
                "osl_10_18a": {
                    "risk_of_criminal_activity": "r",
                    "may_help_prevent": "",
                    "not_inappropriate": "n",
                }
            },
            "statement.osl_10_18a.may_help_prevent",
        ),
        (
            LegalBasis.CONSENT,
            {"consent": {"given_by": "guardians", "scope": "", "given_on": "2026-01-02"}},
            "statement.consent.scope",
        ),
        (
            LegalBasis.CONSENT,
            {"consent": {"given_by": "guardians", "scope": "s", "given_on": "2099-01-01"}},
            "statement.consent.given_on",
        ),
        (LegalBasis.NECESSARY_DISCLOSURE, {"necessity": "  "}, "statement.necessity"),
        (LegalBasis.OSL_26_9, {}, "statement.protective_intervention"),
    ],
)
def test_incomplete_statements_are_refused(
    basis: LegalBasis, statement: dict[str, Any], field: str
) -> None:
    case = _investigating()
    with pytest.raises(Rejected) as info:
        case.ask(AGENCY[basis], basis, statement=DisclosureStatement.model_validate(statement))
    assert info.value.field == field


def test_cve_needs_no_statement() -> None:
    check_new_input(
        cases.RequestConsultation(
            agency=Agency.CVE, legal_basis=LegalBasis.NONE, questions="q", requested_by="o"
        )
    )


def test_version_1_rows_read_without_a_statement() -> None:
    requested = upcast("ConsultationRequested", 1, {"consultation_id": "c"})
    assert requested["statement"] is None
    disclosed = upcast("DisclosureRecorded", 1, {"harm_assessment": "old text", "decided_by": "o"})
    assert disclosed["statement"] is None and disclosed["stated_by"] is None
    assert (
        disclosed["recorded_harm_assessment"] == "old text" and "harm_assessment" not in disclosed
    )
    assert ConsultationRequested.schema_version == 2 and DisclosureRecorded.schema_version == 2
