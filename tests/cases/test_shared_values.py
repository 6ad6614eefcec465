"""Values every cached case holds alike are shared, and sharing changes no result."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activities.deadlines import DeadlineRequest, plan_deadline
from cases import (
    Agency,
    DeadlineKind,
    Policy,
    ScheduledRung,
    compute_deadline,
    escalation_schedule,
)
from cases.interning import Interner
from cases.policy import deadline_rule

START = datetime(2026, 12, 22, 16, 30, tzinfo=UTC)
CUSTOM = Policy.from_toml(
    '[time_limits]\npre_assessment_days = 10\n\n[[ladders.pre_assessment]]\nname = "only"\n'
    'anchor = "target"\nrole = "officer"\naction = "notify"\n'
)


def decoded(policy: Policy) -> Policy:
    return Policy.model_validate_json(policy.model_dump_json())


def test_policies_decoded_apart_share_their_ladders_and_references() -> None:
    first, second = decoded(Policy.default()), decoded(Policy.default())

    assert first == second
    assert first.ladders is second.ladders
    assert first.legal_references is second.legal_references
    assert first.consultation_times is second.consultation_times
    assert first.time_limits is second.time_limits


def test_interned_policy_is_one_object_per_value() -> None:
    first, second = decoded(Policy.default()), decoded(Policy.default())
    other = decoded(CUSTOM)

    assert first.interned() is second.interned()
    assert other.interned() is not first.interned()
    assert other.interned() == CUSTOM
    assert other.ladders[DeadlineKind.PRE_ASSESSMENT] != first.ladders[DeadlineKind.PRE_ASSESSMENT]


@pytest.mark.parametrize("policy", [Policy.default(), CUSTOM], ids=["default", "custom"])
@pytest.mark.parametrize("kind", list(DeadlineKind))
def test_a_deadline_request_carries_only_its_kind_and_plans_the_same(
    policy: Policy, kind: DeadlineKind
) -> None:
    agency = Agency.POLICE if kind is DeadlineKind.CONSULTATION else None
    request = DeadlineRequest(kind=kind, start=START, policy=policy, agency=agency, acute=True)

    assert set(request.policy.ladders) <= {kind}
    assert set(request.policy.legal_references) <= {
        deadline_rule(kind),
        deadline_rule(kind, extended=True),
    }
    assert len(request.model_dump_json()) < len(policy.model_dump_json())
    planned = plan_deadline(request)
    whole = compute_deadline(kind, START, policy=policy, agency=agency, acute=True)
    assert planned.deadline == whole
    assert planned.schedule == escalation_schedule(whole, policy)
    assert len(planned.schedule) == len(policy.ladders.get(kind, ()))
    # the activity decodes what the workflow sent, and computes the same plan
    assert plan_deadline(DeadlineRequest.model_validate_json(request.model_dump_json())) == planned


def test_a_request_with_a_bad_kind_is_still_rejected() -> None:
    with pytest.raises(ValueError, match="kind"):
        DeadlineRequest(kind="no_such_kind", start=START, policy=Policy.default())  # type: ignore[arg-type]


def test_rungs_share_their_field_names_but_copies_change_only_themselves() -> None:
    text = (
        '{"deadline_key":"pre_assessment","rung_index":0,"rung_name":"remind_officer",'
        '"fire_at":"2026-12-30T08:00:00+01:00","role":"officer","action":"remind"}'
    )
    first = ScheduledRung.model_validate_json(text)
    second = ScheduledRung.model_validate_json(text)

    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    moved = first.model_copy(update={"rung_index": 2})
    assert (moved.rung_index, first.rung_index, second.rung_index) == (2, 0, 0)
    assert first.model_fields_set == second.model_fields_set == set(first.model_dump())
    with pytest.raises(ValueError, match="frozen"):
        first.rung_index = 5  # type: ignore[misc]
    assert second.model_fields_set == set(first.model_dump())


def test_interner_forgets_its_oldest_value_when_full() -> None:
    interner: Interner[list[int]] = Interner(size=2)
    one, two, three = [1], [2], [3]

    assert interner.intern("one", one) is one
    assert interner.intern("one", [1]) is one
    interner.intern("two", two)
    interner.intern("three", three)

    assert len(interner) == 2
    assert interner.intern("three", [3]) is three
    fresh = [1]
    assert interner.intern("one", fresh) is fresh
