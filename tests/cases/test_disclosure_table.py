"""Every cell of the disclosure table (agency × basis × age × case state) and every refusal."""

from __future__ import annotations

import pytest

import cases
from cases import Agency, LegalBasis, Rejected
from cases.access import DISCLOSURE_TABLE, check_consultation_request
from tests.cases.case_builders import Case

CELLS = [(a, b) for a, row in DISCLOSURE_TABLE.items() for b in row]


def _case(*, investigation: bool) -> Case:
    case = Case()
    case.assess()
    if investigation:
        case.do(
            cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="officer-1")
        )
    return case


@pytest.mark.parametrize(("agency", "basis"), CELLS)
def test_each_cell_is_permitted_once_an_investigation_is_opened(
    agency: Agency, basis: LegalBasis
) -> None:
    case = _case(investigation=True)
    cell = check_consultation_request(
        case.s, agency=agency, legal_basis=basis, questions="method advice", now=case.now
    )
    assert cell is DISCLOSURE_TABLE[agency][basis]
    assert "summary" not in cell.fields
    assert (cell.provision is None) == (agency is Agency.CVE)


@pytest.mark.parametrize(("agency", "basis"), CELLS)
def test_cells_needing_an_investigation_are_refused_before_one(
    agency: Agency, basis: LegalBasis
) -> None:
    case = _case(investigation=False)
    cell = DISCLOSURE_TABLE[agency][basis]
    if not cell.needs_investigation:
        check_consultation_request(
            case.s, agency=agency, legal_basis=basis, questions="method advice", now=case.now
        )
        return
    with pytest.raises(Rejected) as info:
        check_consultation_request(
            case.s, agency=agency, legal_basis=basis, questions="q", now=case.now
        )
    assert info.value.code == "investigation_required"


@pytest.mark.parametrize("agency", list(Agency))
@pytest.mark.parametrize("basis", list(LegalBasis))
def test_every_combination_outside_the_table_is_refused_naming_what_is_permitted(
    agency: Agency, basis: LegalBasis
) -> None:
    if basis in DISCLOSURE_TABLE[agency]:
        return
    case = _case(investigation=True)
    with pytest.raises(Rejected) as info:
        check_consultation_request(
            case.s, agency=agency, legal_basis=basis, questions="q", now=case.now
        )
    assert info.value.code == "legal_basis_not_permitted"
    assert f"permitted for {agency.value}: " in info.value.message
    for permitted in DISCLOSURE_TABLE[agency]:
        assert permitted.value in info.value.message


def test_terrorism_sharing_goes_to_the_police_and_sapo_and_10_18a_to_the_police_only() -> None:
    assert LegalBasis.TERRORISM_INFORMATION_SHARING in DISCLOSURE_TABLE[Agency.POLICE]
    assert LegalBasis.TERRORISM_INFORMATION_SHARING in DISCLOSURE_TABLE[Agency.SAPO]
    assert LegalBasis.OSL_10_18A in DISCLOSURE_TABLE[Agency.POLICE]
    assert LegalBasis.OSL_10_18A not in DISCLOSURE_TABLE[Agency.SAPO]
    assert all(LegalBasis.DUTY_TO_INFORM not in row for row in DISCLOSURE_TABLE.values())


@pytest.mark.parametrize(
    ("basis", "agency", "limit"),
    [(LegalBasis.OSL_10_18A, Agency.POLICE, 21), (LegalBasis.OSL_26_9, Agency.BUP, 18)],
)
@pytest.mark.parametrize("years", [14, 17, 18, 19, 20, 21, 22, 40])
def test_age_bound_bases(basis: LegalBasis, agency: Agency, limit: int, years: int) -> None:
    case = _case(investigation=True)
    birth = case.s.subject.birth_date
    assert birth is not None
    age_now = case.s.subject.age_on(case.now.date())
    assert age_now is not None
    later = case.now.replace(year=case.now.year + (years - age_now))
    if years < limit:
        check_consultation_request(
            case.s, agency=agency, legal_basis=basis, questions="q", now=later
        )
    else:
        with pytest.raises(Rejected) as info:
            check_consultation_request(
                case.s, agency=agency, legal_basis=basis, questions="q", now=later
            )
        assert info.value.code == "legal_basis_not_applicable"


def test_nothing_is_permitted_once_the_case_is_closed() -> None:
    case = _case(investigation=True)
    closed = case.s.model_copy(update={"state": cases.CaseStateName.CLOSED})
    for agency, basis in CELLS:
        with pytest.raises(Rejected) as info:
            check_consultation_request(
                closed, agency=agency, legal_basis=basis, questions="q", now=case.now
            )
        assert info.value.code == "case_closed"
