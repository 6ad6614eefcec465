"""Fields stored in clear take no free text (issue 16, item 3).

``AddInformation.source`` and ``ChangeConsent.scope`` are closed lists; an operator's
``decided_by`` / ``requested_by`` is an identifier (`ACTOR_PATTERN`), checked on new input.
Each is refused when a name is typed there (naming the field, never echoing the value),
accepts its valid values, and what was recorded before still decodes and still opens.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

import cases
from cases import Agency, LegalBasis, Rejected
from cases.commands import (
    ACTOR_FIELDS,
    AddInformation,
    ChangeConsent,
    CloseCase,
    ConcludeInvestigation,
    DecidePreAssessment,
    ExtendInvestigation,
    RecordDisclosure,
    RecordProtectionAssessment,
    RequestConsultation,
    StartFollowUp,
    check_new_input,
)
from cases.envelope import Envelope, open_envelope, seal
from cases.events import (
    CaseClosed,
    ConsentChanged,
    ConsultationRequested,
    InformationAdded,
    InvestigationOpened,
    ProtectionAssessed,
)
from cases.models import ACTOR_PATTERN, ConsentScope, DomainModel, InformationSource, is_actor_id
from cases.signals import CONSENT_ACTOR, SIGNAL_ACTOR, decide_signal
from tests.cases.case_builders import T0, Case, types

NAME = "Testperson Exempelsson"
"""What an operator might type into a clear-text field: the subject's (fictitious) name."""

_ACTOR_COMMANDS: list[tuple[type[DomainModel], dict[str, Any]]] = [
    (RecordProtectionAssessment, {"acute": False, "reasoning": "r", "decided_by": "x"}),
    (DecidePreAssessment, {"open_investigation": True, "reasons": "r", "decided_by": "x"}),
    (
        RequestConsultation,
        {"agency": "cve", "legal_basis": "none", "questions": "q", "requested_by": "x"},
    ),
    (ExtendInvestigation, {"until": "2027-01-01", "reasons": "r", "decided_by": "x"}),
    (ConcludeInvestigation, {"outcome": "intervention", "decided_by": "x"}),
    (StartFollowUp, {"decided_by": "x"}),
    (CloseCase, {"reason": "r", "decided_by": "x"}),
    (RecordDisclosure, {"consultation_id": "c", "harm_assessment": "h", "decided_by": "x"}),
]


def _command(cls: type[DomainModel], data: dict[str, Any], actor: str) -> DomainModel:
    field = next(name for name in ACTOR_FIELDS if name in data)
    return cls.model_validate({**data, field: actor})


def _actor_field(data: dict[str, Any]) -> str:
    return next(name for name in ACTOR_FIELDS if name in data)


def _signal(case: Case, signal: str, body: Any, *, strict: bool = True) -> cases.SignalOutcome:
    case.now += timedelta(minutes=1)
    outcome = decide_signal(case.s, signal, body, now=case.now, policy=case.policy, strict=strict)
    for event in outcome.events:
        case.state = cases.apply(case.state, event)
    return outcome


def _stored(event: cases.DomainEvent, *, schema_version: int | None = None) -> Envelope:
    """``event`` as the event store holds it (at an older ``schema_version`` if given)."""
    envelope = seal(
        event, event_id=uuid4(), case_id="T-1", version=1, occurred_at=T0, actor="officer-1"
    )
    if schema_version is None:
        return envelope
    return envelope.model_copy(update={"schema_version": schema_version})


def _legacy(event_type: str, data: dict[str, Any], actor: str = "officer-1") -> Envelope:
    """A version-1 row written before the clear-text fields were closed."""
    return Envelope(
        event_id=uuid4(),
        case_id="T-1",
        version=1,
        type=event_type,
        schema_version=1,
        occurred_at=T0,
        actor=actor,
        data=data,
    )


# -- operator identifiers -----------------------------------------------------------------


@pytest.mark.parametrize(
    "actor", ["officer-1", "officer-17", "unit-manager-3", "on-call-2", "o", "anna.l", "u_42"]
)
def test_an_identifier_is_an_actor(actor: str) -> None:
    assert is_actor_id(actor)
    assert re.fullmatch(ACTOR_PATTERN, actor)


@pytest.mark.parametrize(
    "actor",
    [
        NAME,
        "anna andersson",
        "Officer-1",
        "-officer",
        "officer:1",
        "1officer",
        "officer-1\n",
        "a" * 65,
        "",
        "19121212-1212",
        "annå",
    ],
)
def test_anything_else_is_not_an_actor(actor: str) -> None:
    assert not is_actor_id(actor)


@pytest.mark.parametrize(("cls", "data"), _ACTOR_COMMANDS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_name_as_operator_is_refused_naming_the_field_not_the_value(
    cls: type[DomainModel], data: dict[str, Any]
) -> None:
    command = _command(cls, data, NAME)  # decodes: a recorded update must still replay
    with pytest.raises(Rejected) as info:
        check_new_input(command)
    field = _actor_field(data)
    assert info.value.code == "not_an_identifier"
    assert info.value.field == field
    assert field in info.value.message
    shown = json.dumps(info.value.to_dict()) + str(info.value)
    assert "Testperson" not in shown and "Exempelsson" not in shown


@pytest.mark.parametrize(("cls", "data"), _ACTOR_COMMANDS, ids=lambda v: getattr(v, "__name__", ""))
def test_an_identifier_as_operator_is_accepted(
    cls: type[DomainModel], data: dict[str, Any]
) -> None:
    check_new_input(_command(cls, data, "officer-17"))


@pytest.mark.parametrize("recorded", ["officer-1", "on-call-2", "o-1", "guardian", NAME])
def test_a_recorded_update_still_decodes_and_decides(recorded: str) -> None:
    """The replay corpus holds these values; a live history may hold a name."""
    case = Case()
    command = RecordProtectionAssessment.model_validate(
        {"acute": False, "reasoning": "No danger.", "decided_by": recorded}
    )
    events = case.do(command)
    assert types(events)[0] == "ProtectionAssessed"


def test_commands_without_an_operator_are_not_checked() -> None:
    check_new_input(AddInformation(source=InformationSource.SCHOOL, information="i"))
    check_new_input(ChangeConsent(given=True, scope=ConsentScope.ALL, by_whom=NAME))


@pytest.mark.parametrize(
    ("event_type", "data"),
    [
        ("ProtectionAssessed", {"acute": False, "reasoning": "r", "decided_by": NAME}),
        ("InvestigationOpened", {"reasons": "r", "decided_by": NAME}),
        ("CaseClosed", {"reason": "r", "decided_by": NAME}),
        (
            "ConsultationRequested",
            {
                "consultation_id": "case-T-1:consultation-1",
                "agency": "police",
                "legal_basis": "osl_10_18a",
                "questions": "q",
                "requested_by": NAME,
            },
        ),
    ],
)
def test_stored_events_with_a_legacy_operator_still_open(
    event_type: str, data: dict[str, Any]
) -> None:
    event = open_envelope(_legacy(event_type, {**data, "at": T0.isoformat()}, actor=NAME))
    assert isinstance(
        event, ProtectionAssessed | InvestigationOpened | CaseClosed | ConsultationRequested
    )


# -- information sources ------------------------------------------------------------------


def test_a_name_as_source_is_refused_naming_the_field_not_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        AddInformation.model_validate({"source": NAME, "information": "Absent all week."})
    assert [e["loc"] for e in info.value.errors()] == [("source",)]
    assert "Testperson" not in str(info.value)


def test_a_new_signal_with_a_name_as_source_is_recorded_as_rejected_without_it() -> None:
    case = Case()
    outcome = _signal(case, "add_information", {"source": NAME, "information": "Absent."})
    [rejected] = outcome.events
    assert isinstance(rejected, cases.SignalRejected)
    assert [e.field for e in rejected.errors] == ["source"]
    assert outcome.actor == SIGNAL_ACTOR
    assert "Testperson" not in rejected.model_dump_json()
    assert case.s.rejected_signal_count == 1


@pytest.mark.parametrize("source", list(InformationSource), ids=str)
def test_every_listed_source_is_accepted_and_is_the_actor(source: InformationSource) -> None:
    case = Case()
    outcome = _signal(case, "add_information", {"source": source.value, "information": "Seen."})
    [added] = outcome.events
    assert isinstance(added, InformationAdded) and added.source is source
    assert outcome.actor == source.value
    assert added.without_personal_data()["source"] == source.value  # the timeline's form


def test_an_agency_system_source_is_the_gateway_form() -> None:
    for agency in Agency:
        assert InformationSource.from_agency(agency).value == f"agency:{agency.value}"
        assert InformationSource(agency.value)  # an operator can record the agency too


def test_a_replayed_signal_reads_a_recorded_free_text_source_as_other() -> None:
    """A history recorded before the list: the replay records what the original run did
    (information added), and the text goes no further, not even into the actor."""
    case = Case()
    body = {"source": f"{NAME}, mentor at school", "information": "Absent."}
    outcome = _signal(case, "add_information", body, strict=False)
    [added] = outcome.events
    assert isinstance(added, InformationAdded)
    assert added.source is InformationSource.OTHER and outcome.actor == "other"
    assert "Testperson" not in added.model_dump_json()


@pytest.mark.parametrize("source", ["", "x" * 201, 42, None])
def test_a_replayed_signal_refuses_what_was_refused_then(source: object) -> None:
    case = Case()
    outcome = _signal(
        case, "add_information", {"source": source, "information": "Absent."}, strict=False
    )
    assert types(outcome.events) == ["SignalRejected"]


@pytest.mark.parametrize("recorded", ["school", "police", "agency:police", "guardian"])
def test_a_replayed_signal_keeps_a_recorded_listed_source(recorded: str) -> None:
    case = Case()
    outcome = _signal(
        case, "add_information", {"source": recorded, "information": "i"}, strict=False
    )
    [added] = outcome.events
    assert isinstance(added, InformationAdded) and added.source.value == recorded


def test_a_stored_version_1_free_text_source_opens_as_other() -> None:
    data = {"source": NAME, "information": "Absent.", "at": T0.isoformat()}
    event = open_envelope(_legacy("InformationAdded", data))
    assert isinstance(event, InformationAdded)
    assert event.source is InformationSource.OTHER
    assert event.information == "Absent."


@pytest.mark.parametrize("recorded", ["school", "agency:police"])
def test_a_stored_version_1_listed_source_opens_as_itself(recorded: str) -> None:
    data = {"source": recorded, "information": "i", "at": T0.isoformat()}
    event = open_envelope(_legacy("InformationAdded", data))
    assert isinstance(event, InformationAdded) and event.source.value == recorded


def test_information_added_is_stored_at_version_2_and_round_trips() -> None:
    event = InformationAdded(source=InformationSource.GUARDIAN, information="i", at=T0)
    envelope = _stored(event)
    assert envelope.schema_version == 2
    assert open_envelope(envelope) == event


def test_a_stored_version_2_free_text_source_is_malformed_without_echo() -> None:
    envelope = _stored(InformationAdded(source=InformationSource.OTHER, information="i", at=T0))
    tampered = envelope.model_copy(update={"data": {**envelope.data, "source": NAME}})
    with pytest.raises(cases.MalformedEvent) as info:
        open_envelope(tampered)
    assert "source" in str(info.value) and "Testperson" not in str(info.value)


# -- consent scope ------------------------------------------------------------------------


def test_a_name_as_scope_is_refused_naming_the_field_not_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        ChangeConsent.model_validate({"given": True, "scope": NAME, "by_whom": "guardian"})
    assert [e["loc"] for e in info.value.errors()] == [("scope",)]
    assert "Testperson" not in str(info.value)


@pytest.mark.parametrize("strict", [True, False])
def test_a_signal_with_a_name_as_scope_is_recorded_as_rejected_without_it(strict: bool) -> None:
    """Any scope outside the list was always refused, so a replay refuses it too."""
    case = Case()
    body = {"given": True, "scope": NAME, "by_whom": "guardian"}
    outcome = _signal(case, "consent_changed", body, strict=strict)
    [rejected] = outcome.events
    assert isinstance(rejected, cases.SignalRejected)
    assert [e.field for e in rejected.errors] == ["scope"]
    assert "Testperson" not in rejected.model_dump_json()


@pytest.mark.parametrize("scope", list(ConsentScope), ids=str)
def test_every_scope_is_accepted(scope: ConsentScope) -> None:
    case = Case()
    outcome = _signal(case, "consent_changed", {"given": True, "scope": scope, "by_whom": NAME})
    [changed] = outcome.events
    assert isinstance(changed, ConsentChanged) and changed.scope is scope
    assert case.s.consent_given(Agency.SCHOOL) is (scope in {ConsentScope.ALL, "school"})


def test_the_scopes_are_all_and_each_agency() -> None:
    assert {s.value for s in ConsentScope} == {"all", *(a.value for a in Agency)}


def test_a_change_of_consent_is_never_attributed_to_by_whom() -> None:
    """``by_whom`` is personal (sealed); the actor is stored and shown in clear."""
    case = Case()
    cid = case.ask(Agency.SCHOOL, LegalBasis.CONSENT)
    outcome = _signal(case, "consent_changed", {"given": True, "scope": "school", "by_whom": NAME})
    assert types(outcome.events) == ["ConsentChanged", "ClockResumed"]
    assert outcome.actor == CONSENT_ACTOR and is_actor_id(CONSENT_ACTOR) is False
    assert f"consultation:{cid}" not in case.s.suspended_clocks
    [changed, _] = outcome.events
    assert "by_whom" not in changed.without_personal_data()


@pytest.mark.parametrize("scope", list(ConsentScope), ids=str)
def test_a_stored_version_1_consent_opens(scope: ConsentScope) -> None:
    data = {"given": False, "scope": scope.value, "by_whom": "guardian", "at": T0.isoformat()}
    event = open_envelope(_legacy("ConsentChanged", data, actor="guardian"))
    assert isinstance(event, ConsentChanged) and event.scope is scope
