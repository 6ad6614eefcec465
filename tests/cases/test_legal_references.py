"""Legal references are versioned data, resolved by the case's date (docs/legal.md)."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from cases import STOCKHOLM, DeadlineKind, DeadlineSet, Envelope, Policy, compute_deadline
from cases.envelope import open_envelope
from cases.policy import LegalReference, deadline_rule

POLICY = Policy.default()
OLD_LAST_DAY = date(2025, 6, 30)
NEW_FIRST_DAY = date(2025, 7, 1)

# rule -> (old SoL 2001:453 citation, new SoL 2025:400 citation)
SOL_RULES = {
    "protection_assessment": ("SoL (2001:453) 11 kap. 1 a §", "SoL (2025:400) 20 kap. 1 §"),
    "pre_assessment": ("SoL (2001:453) 11 kap. 1 a §", "SoL (2025:400) 20 kap. 2 §"),
    "investigation": ("SoL (2001:453) 11 kap. 2 §", "SoL (2025:400) 20 kap. 9 §"),
    "investigation_extension": ("SoL (2001:453) 11 kap. 2 §", "SoL (2025:400) 20 kap. 9 §"),
    "feedback_to_reporter": ("SoL (2001:453) 14 kap. 1 b §", "SoL (2025:400) 19 kap. 7 §"),
    "retention": ("SoL (2001:453) 12 kap. 1 §", "SoL (2025:400) 29 kap. 1 §"),
    "placement_exempt": ("SoL (2001:453) 12 kap. 2 §", "SoL (2025:400) 29 kap. 2 §"),
}


@pytest.mark.parametrize("rule", sorted(SOL_RULES))
def test_each_sol_rule_cites_the_act_in_force_on_the_day(rule: str) -> None:
    old, new = SOL_RULES[rule]
    before = POLICY.resolve(rule, on=OLD_LAST_DAY)
    after = POLICY.resolve(rule, on=NEW_FIRST_DAY)
    assert before is not None and before.cite() == old
    assert (before.sfs, before.valid_to) == ("2001:453", OLD_LAST_DAY)
    assert after is not None and after.cite() == new
    assert (after.sfs, after.valid_from, after.valid_to) == ("2025:400", NEW_FIRST_DAY, None)
    assert POLICY.resolve(rule, on=date(2030, 1, 1)) == after


def test_every_reference_names_its_source() -> None:
    for rule, refs in POLICY.legal_references.items():
        assert refs, rule
        for ref in refs:
            assert ref.source, rule


def test_the_new_sol_paragraphs_are_marked_unverified_until_checked() -> None:
    ref = POLICY.resolve("pre_assessment", on=NEW_FIRST_DAY)
    assert ref is not None and ref.verified is False
    assert ref.label() == "SoL (2025:400) 20 kap. 2 § (unverified)"
    old = POLICY.resolve("pre_assessment", on=OLD_LAST_DAY)
    assert old is not None and old.label() == "SoL (2001:453) 11 kap. 1 a §"


def test_the_research_sample_cites_the_ordinance_not_the_act() -> None:
    ref = POLICY.resolve("research_sample", on=date(2024, 5, 5))
    assert ref is not None and ref.cite() == "SoF (2001:937) 7 kap. 2 §"


def test_lag_1930_173_is_always_in_force() -> None:
    ref = POLICY.resolve("time_limits", on=NEW_FIRST_DAY)
    assert ref is not None and ref.cite() == "Lag (1930:173) om beräkning av lagstadgad tid 2 §"
    assert POLICY.resolve("time_limits", on=date(2001, 1, 1)) == ref


def test_no_reference_before_a_provision_existed_or_for_an_unknown_rule() -> None:
    assert POLICY.resolve("pre_assessment", on=date(2012, 12, 31)) is None
    assert POLICY.resolve("no_such_rule", on=NEW_FIRST_DAY) is None


def at(day: date, clock: time = time(9, 0)) -> datetime:
    return datetime.combine(day, clock, tzinfo=STOCKHOLM)


@pytest.mark.parametrize(
    ("kind", "day", "cite"),
    [
        (DeadlineKind.PROTECTION_ASSESSMENT, OLD_LAST_DAY, "SoL (2001:453) 11 kap. 1 a §"),
        (DeadlineKind.PROTECTION_ASSESSMENT, NEW_FIRST_DAY, "SoL (2025:400) 20 kap. 1 §"),
        (DeadlineKind.PRE_ASSESSMENT, OLD_LAST_DAY, "SoL (2001:453) 11 kap. 1 a §"),
        (DeadlineKind.PRE_ASSESSMENT, NEW_FIRST_DAY, "SoL (2025:400) 20 kap. 2 §"),
        (DeadlineKind.INVESTIGATION, OLD_LAST_DAY, "SoL (2001:453) 11 kap. 2 §"),
        (DeadlineKind.INVESTIGATION, NEW_FIRST_DAY, "SoL (2025:400) 20 kap. 9 §"),
    ],
)
def test_a_deadline_carries_the_reference_of_the_day_its_period_started(
    kind: DeadlineKind, day: date, cite: str
) -> None:
    deadline = compute_deadline(kind, at(day), policy=POLICY)
    assert deadline.legal_reference is not None
    assert deadline.legal_reference.cite() == cite


def test_a_later_step_resolves_by_its_own_date() -> None:
    # received under the old act, investigation opened under the new one
    pre = compute_deadline(DeadlineKind.PRE_ASSESSMENT, at(date(2025, 6, 25)), policy=POLICY)
    opened = compute_deadline(DeadlineKind.INVESTIGATION, at(date(2025, 7, 3)), policy=POLICY)
    extended = compute_deadline(
        DeadlineKind.INVESTIGATION, at(date(2025, 7, 3)), policy=POLICY, until=date(2026, 1, 5)
    )
    assert pre.legal_reference is not None and pre.legal_reference.sfs == "2001:453"
    assert opened.legal_reference is not None and opened.legal_reference.sfs == "2025:400"
    assert deadline_rule(DeadlineKind.INVESTIGATION, extended=True) == "investigation_extension"
    assert extended.legal_reference == POLICY.resolve(
        "investigation_extension", on=date(2025, 7, 3)
    )


def test_a_consultation_cites_no_act() -> None:
    from cases import Agency

    deadline = compute_deadline(
        DeadlineKind.CONSULTATION, at(NEW_FIRST_DAY), policy=POLICY, agency=Agency.SCHOOL
    )
    assert deadline.legal_reference is None


def test_the_resolution_is_the_same_with_the_trimmed_deadline_policy() -> None:
    for kind in DeadlineKind:
        trimmed = POLICY.for_deadline(kind)
        for day in (OLD_LAST_DAY, NEW_FIRST_DAY):
            rule = deadline_rule(kind)
            if rule is not None:
                assert trimmed.resolve(rule, on=day) == POLICY.resolve(rule, on=day)


def test_a_policy_file_may_give_one_reference_or_a_versioned_list() -> None:
    single = Policy.from_toml(
        '[legal_references.feedback_to_reporter]\nact = "SoL"\nsfs = "2025:400"\n'
        'chapter = 19\nsection = "8"\nvalid_from = 2025-07-01\nsource = "checked"\n'
        "verified = true\n"
    )
    ref = single.resolve("feedback_to_reporter", on=NEW_FIRST_DAY)
    assert ref is not None and ref.label() == "SoL (2025:400) 19 kap. 8 §"
    assert single.resolve("feedback_to_reporter", on=OLD_LAST_DAY) is None
    listed = Policy.from_toml(
        "[[legal_references.retention]]\n"
        'act = "SoL"\nsfs = "2001:453"\nchapter = 12\nsection = "1"\n'
        "valid_from = 2002-01-01\nvalid_to = 2025-06-30\n"
        "[[legal_references.retention]]\n"
        'act = "SoL"\nsfs = "2025:400"\nchapter = 29\nsection = "1"\nvalid_from = 2025-07-01\n'
    )
    old = listed.resolve("retention", on=OLD_LAST_DAY)
    new = listed.resolve("retention", on=NEW_FIRST_DAY)
    assert old is not None and old.sfs == "2001:453"
    assert new is not None and new.sfs == "2025:400"


def test_a_reference_stored_before_versioning_still_reads() -> None:
    stored = {"act": "SoL (2001:453)", "chapter": 14, "section": "1 b", "valid_from": "2013-07-01"}
    ref = LegalReference.model_validate(stored)
    assert ref.cite() == "SoL (2001:453) 14 kap. 1 b §"
    assert (ref.valid_to, ref.verified) == (None, False)
    # a policy serialised with one reference per rule (recorded load_policy results)
    old_policy = POLICY.model_dump(mode="json")
    old_policy["legal_references"] = {"feedback_to_reporter": stored}
    policy = Policy.model_validate(old_policy)
    assert policy.resolve("feedback_to_reporter", on=date(2020, 1, 1)) == ref


def test_a_version_1_deadline_set_reads_with_no_reference() -> None:
    deadline = compute_deadline(DeadlineKind.PRE_ASSESSMENT, at(date(2026, 3, 2)), policy=POLICY)
    data = DeadlineSet(deadline=deadline).model_dump(mode="json")
    del data["deadline"]["legal_reference"]
    envelope = Envelope(
        event_id="00000000-0000-0000-0000-000000000001",
        case_id="case-1",
        version=3,
        type="DeadlineSet",
        schema_version=1,
        occurred_at=at(date(2026, 3, 2)),
        actor="system",
        data=data,
    )
    event = open_envelope(envelope)
    assert isinstance(event, DeadlineSet)
    assert event.deadline.legal_reference is None
    assert (
        event.deadline.model_copy(update={"legal_reference": deadline.legal_reference}) == deadline
    )
    assert DeadlineSet.schema_version == 2


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="valid_to"):
        LegalReference(
            act="SoL", section="1", valid_from=date(2025, 7, 1), valid_to=date(2025, 6, 30)
        )
