"""Policy as data, and the retention (purge) date of a closed case."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

import cases
from cases import Agency, DeadlineKind, Policy, PolicyError, RetentionCategory, purge_date
from tests.cases.case_builders import STHLM, Case


def test_the_default_policy_matches_the_design() -> None:
    policy = Policy.default()
    assert policy.time_limits.pre_assessment_days == 14
    assert policy.time_limits.investigation_months == 4
    assert policy.time_limits.protection_cutoff == time(15, 0)
    assert policy.consultation_times[Agency.POLICE].working_days == 5
    assert policy.consultation_times[Agency.POLICE].acute_working_days == 1
    assert policy.consultation_times[Agency.SCHOOL].working_days == 5
    assert policy.consultation_times[Agency.BUP].working_days == 10
    assert policy.consultation_times[Agency.SSPF].working_days == 10
    assert [r.name for r in policy.ladders[DeadlineKind.CONSULTATION]] == [
        "remind_agency",
        "agency_contact_person",
        "proceed_without_answer",
    ]
    assert policy.retention.years_after_last_entry == 5


def test_a_policy_file_overrides_only_what_it_names() -> None:
    policy = Policy.from_toml(
        'name = "Malmö 2027"\n[consultation_times.school]\nworking_days = 3\n'
    )
    assert policy.consultation_times[Agency.SCHOOL].working_days == 3
    assert policy.consultation_times[Agency.POLICE].working_days == 5
    start = datetime(2026, 3, 2, 9, tzinfo=STHLM)
    deadline = cases.compute_deadline(
        DeadlineKind.CONSULTATION, start, policy=policy, agency=Agency.SCHOOL
    )
    assert deadline.target.date() == date(2026, 3, 5)


def test_legal_references_are_data_that_a_new_act_can_replace() -> None:
    policy = Policy.from_toml(
        '[legal_references.feedback_to_reporter]\nact = "SoL (2025:400)"\nchapter = 10\n'
        'section = "7"\nvalid_from = 2026-01-01\n'
    )
    case = Case(policy=policy)
    case.assess()
    feedback = case.pre_assess()[-1]
    assert isinstance(feedback, cases.FeedbackSent)
    assert feedback.legal_reference is not None
    assert feedback.legal_reference.cite() == "SoL (2025:400) 10 kap. 7 §"


def test_a_step_before_its_provision_is_in_force_cites_none() -> None:
    """A reference is resolved on the step's day: a provision in force only later is not
    cited, whatever the table's newest entry (the case is decided on 2026-03-02)."""
    policy = Policy.from_toml(
        '[legal_references.feedback_to_reporter]\nact = "SoL (2025:400)"\nchapter = 10\n'
        'section = "7"\nvalid_from = 2026-07-01\n'
    )
    case = Case(policy=policy)
    case.assess()
    feedback = case.pre_assess()[-1]
    assert isinstance(feedback, cases.FeedbackSent)
    assert feedback.legal_reference is None


def test_a_policy_that_is_not_toml_is_refused_in_one_sentence() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        Policy.from_toml("[time_limits\n")


def test_a_policy_with_invalid_fields_names_them() -> None:
    with pytest.raises(PolicyError, match=r"time_limits\.pre_assessment_days"):
        Policy.from_toml("[time_limits]\npre_assessment_days = -1\n")


def test_the_policy_round_trips_as_json() -> None:
    policy = Policy.default()
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


def test_a_case_is_purged_at_the_end_of_the_year_after_five_years_from_its_last_entry() -> None:
    policy = Policy.default()
    assert purge_date(date(2026, 3, 10), RetentionCategory.STANDARD, policy) == date(2032, 12, 31)
    assert purge_date(date(2026, 12, 31), RetentionCategory.STANDARD, policy) == date(2032, 12, 31)
    assert purge_date(date(2027, 1, 1), RetentionCategory.STANDARD, policy) == date(2033, 12, 31)


def test_retention_counts_the_stockholm_date_of_the_last_entry() -> None:
    last = datetime(2026, 12, 31, 23, 30, tzinfo=STHLM)
    assert purge_date(last, RetentionCategory.STANDARD, Policy.default()) == date(2032, 12, 31)


@pytest.mark.parametrize(
    "category", [RetentionCategory.PLACEMENT, RetentionCategory.RESEARCH_SAMPLE]
)
def test_exempt_categories_are_never_purged_automatically(category: RetentionCategory) -> None:
    assert purge_date(date(2026, 3, 10), category, Policy.default()) is None


def test_retention_rules_come_from_the_policy() -> None:
    policy = Policy.from_toml(
        "[retention]\nyears_after_last_entry = 2\nuntil_end_of_following_year = false\n"
    )
    assert purge_date(date(2028, 2, 29), RetentionCategory.STANDARD, policy) == date(2030, 2, 28)


def test_a_closed_case_gets_its_purge_date_from_its_last_entry() -> None:
    case = Case(
        subject={
            "personal_identity_number": "20120316-0004",
            "name": "T T",
            "birth_date": "2012-03-16",
        }
    )
    assert cases.case_purge_date(case.s, case.policy) is None
    case.assess()
    case.pre_assess(open_investigation=False)
    case.close()
    assert cases.retention_category(case.s) is RetentionCategory.STANDARD
    assert cases.case_purge_date(case.s, case.policy) == date(2032, 12, 31)


def test_a_subject_born_on_the_15th_belongs_to_the_research_sample() -> None:
    case = Case()  # the example subject is born on 15 March
    assert cases.retention_category(case.s) is RetentionCategory.RESEARCH_SAMPLE
