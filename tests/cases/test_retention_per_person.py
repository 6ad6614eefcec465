"""Retention per person: all of a person's files go together, every placement is exempt,
the 30-year rule keeps a child's investigation, the research sample cites SoF (docs/legal.md).

Hand-checked dates: the builders' cases start on T0 (2026); a last entry in 2026 keeps a
file five years (2031), purged at the end of the following year: 2032-12-31. A child born
2012-03-16 reaches 30 on 2042-03-16.
"""

from __future__ import annotations

from datetime import date, timedelta

from cases import InvestigationOutcome, Policy, RetentionCategory
from cases.retention import (
    case_purge_date,
    child_investigation_kept_until,
    person_key,
    person_purge_date,
    retention_category,
)
from tests.cases.case_builders import T0, Case

CHILD = {"personal_identity_number": "20120316-0004", "name": "T T", "birth_date": "2012-03-16"}
SAME_CHILD_SHORT = {**CHILD, "personal_identity_number": "120316-0004"}
POLICY = Policy.default()


def closed(
    *, investigate: bool = False, later: timedelta = timedelta(0), subject: dict[str, str] = CHILD
) -> Case:
    case = Case(subject=subject, now=T0 + later)
    case.assess()
    case.pre_assess(open_investigation=investigate)
    if investigate:
        case.conclude()
    case.close()
    return case


def test_one_file_without_an_investigation_keeps_the_five_year_rule() -> None:
    case = closed()
    assert retention_category(case.s) is RetentionCategory.STANDARD
    assert case_purge_date(case.s, POLICY) == date(2032, 12, 31)
    assert person_purge_date([case.s], POLICY) == date(2032, 12, 31)


def test_a_persons_files_go_together_on_the_latest_date() -> None:
    first = closed()
    second = closed(later=timedelta(days=400))  # last entry in 2027: 2033-12-31
    assert case_purge_date(first.s, POLICY) == date(2032, 12, 31)
    assert case_purge_date(second.s, POLICY) == date(2033, 12, 31)
    assert person_purge_date([first.s, second.s], POLICY) == date(2033, 12, 31)


def test_nothing_is_purged_while_another_file_about_the_person_is_open() -> None:
    first = closed()
    still_open = Case(subject=CHILD)
    assert person_purge_date([first.s, still_open.s], POLICY) is None


def test_any_placement_exempts_the_file_and_the_person() -> None:
    acute = Case(subject=CHILD)
    acute.assess(acute=True)
    assert retention_category(acute.s) is RetentionCategory.PLACEMENT
    lvu = Case(subject=CHILD)
    lvu.assess()
    lvu.pre_assess(open_investigation=True)
    lvu.conclude(InvestigationOutcome.LVU_APPLICATION)
    lvu.close()
    assert retention_category(lvu.s) is RetentionCategory.PLACEMENT
    assert case_purge_date(lvu.s, POLICY) is None
    assert person_purge_date([closed().s, lvu.s], POLICY) is None


def test_a_childs_investigation_is_kept_thirty_years_from_birth() -> None:
    case = closed(investigate=True)
    assert child_investigation_kept_until(case.s, POLICY) == date(2042, 3, 16)
    assert case_purge_date(case.s, POLICY) == date(2042, 3, 16)
    # the person's other file, without an investigation, waits for it
    assert person_purge_date([closed().s, case.s], POLICY) == date(2042, 3, 16)


def test_the_thirty_year_rule_applies_from_its_date_in_force() -> None:
    case = closed(investigate=True)
    later_rule = Policy.from_toml("[retention]\nchild_investigation_rule_from = 2033-01-01\n")
    assert later_rule.retention.child_investigation_rule_from == date(2033, 1, 1)
    assert case_purge_date(case.s, later_rule) == date(2032, 12, 31)
    on_the_day = Policy.from_toml("[retention]\nchild_investigation_rule_from = 2032-12-31\n")
    assert case_purge_date(case.s, on_the_day) == date(2042, 3, 16)
    assert POLICY.retention.child_investigation_years == 30


def test_the_later_of_the_two_rules_wins() -> None:
    # born 2008-03-16: 30 on 2038-03-16, later than the five-year 2032-12-31
    older = {**CHILD, "personal_identity_number": "20080316-0006", "birth_date": "2008-03-16"}
    case = closed(investigate=True, subject=older)
    assert case_purge_date(case.s, POLICY) == date(2038, 3, 16)


def test_a_person_is_matched_by_number_in_either_form() -> None:
    long_form = closed()
    short_form = closed(subject=SAME_CHILD_SHORT)
    assert person_key(long_form.s) == person_key(short_form.s) == "201203160004"
    other = closed(
        subject={
            "personal_identity_number": "20120317-0003",
            "name": "T T",
            "birth_date": "2012-03-17",
        }
    )
    assert person_key(other.s) != person_key(long_form.s)


def test_the_research_sample_is_cited_from_the_ordinance() -> None:
    reference = POLICY.resolve("research_sample", on=date(2026, 3, 2))
    assert reference is not None and reference.cite() == "SoF (2001:937) 7 kap. 2 §"
    assert POLICY.resolve("placement_exempt", on=date(2025, 6, 30)) is not None
