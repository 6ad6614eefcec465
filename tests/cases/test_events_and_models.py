"""Events as stored (envelopes, upcasters, personal fields) and the operator's input models."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

import cases
from cases import OpenCase, ReportReceived
from tests.cases.case_builders import T0, open_case

V1_REPORT = {
    "case_number": "MAL-2020-0001",
    "municipality": "Malmö",
    "received_at": "2020-05-04T09:00:00+02:00",
    "reporter_kind": "police",
    "mandatory_reporter": True,
    "subject_name": "Testperson Exempelsson",
    "personal_identity_number": "20120315-0004",
    "birth_date": "2012-03-15",
    "concern_category": "radicalisation",
    "summary": "old report",
    "at": "2020-05-04T09:01:00+02:00",
}


def envelope(type_: str, version: int, data: dict[str, object]) -> cases.Envelope:
    return cases.Envelope(
        event_id=UUID(int=1),
        case_id="case-MAL-2020-0001",
        version=1,
        type=type_,
        schema_version=version,
        occurred_at=datetime(2020, 5, 4, tzinfo=UTC),
        actor="t",
        data=data,
    )


def test_a_version_1_report_reads_as_the_current_model() -> None:
    event = cases.open_envelope(envelope("ReportReceived", 1, V1_REPORT))
    assert isinstance(event, ReportReceived)
    assert ReportReceived.schema_version == 2
    assert event.subject.name == "Testperson Exempelsson"
    assert event.channel is cases.ReportChannel.UNKNOWN
    assert cases.apply(None, event).subject.birth_date.isoformat() == "2012-03-15"


def test_a_current_report_round_trips_through_its_envelope() -> None:
    event = cases.decide(None, open_case(), now=T0)[0]
    sealed = cases.seal(
        event, event_id=UUID(int=2), case_id="case-X", version=1, occurred_at=T0, actor="operator"
    )
    assert sealed.schema_version == 2
    assert cases.open_envelope(sealed) == event


def test_every_case_event_is_registered_under_its_class_name() -> None:
    registered = cases.event_types()
    for name in [
        "ReportReceived",
        "ProtectionAssessed",
        "InvestigationOpened",
        "InvestigationDeclined",
        "FeedbackSent",
        "InvestigationExtended",
        "InvestigationConcluded",
        "ConsultationRequested",
        "ConsultationAcknowledged",
        "ConsultationAnswered",
        "ConsultationDeclined",
        "ConsultationExpired",
        "DeadlineSet",
        "DeadlineMet",
        "DeadlineBreached",
        "EscalationRaised",
        "InformationAdded",
        "ConsentChanged",
        "DisclosureRecorded",
        "ClockSuspended",
        "ClockResumed",
        "CaseClosed",
        "SignalRejected",
    ]:
        assert registered[name].event_type() == name


def test_personal_fields_are_left_out_of_the_timeline_form() -> None:
    event = cases.decide(None, open_case(), now=T0)[0]
    data = event.without_personal_data()
    assert "subject" not in data and "summary" not in data
    assert data["case_number"] == "MAL-2026-0042"


def test_a_malformed_signal_is_recorded_with_field_names_and_no_values() -> None:
    with pytest.raises(ValidationError) as info:
        cases.AddInformation.model_validate({"source": "", "information": "secret detail"})
    rejected = cases.SignalRejected.from_validation_error("add_information", info.value, at=T0)
    assert [e.field for e in rejected.errors] == ["source"]
    assert "secret detail" not in rejected.model_dump_json()


def test_a_refused_signal_is_recorded_with_its_rule() -> None:
    error = cases.Rejected("case_closed", None, "the case is closed")
    rejected = cases.SignalRejected.from_rejected("add_information", error, at=T0)
    assert rejected.errors[0].code == "case_closed"


def test_the_readme_example_is_a_valid_open_case() -> None:
    case = OpenCase.model_validate(cases.EXAMPLE_OPEN_CASE)
    assert case.case_number == "MAL-2026-0042"
    schema = OpenCase.model_json_schema()
    assert schema["examples"] == [cases.EXAMPLE_OPEN_CASE]


@pytest.mark.parametrize(
    "number", ["MAL/2026", "", "-starts-with-dash", "x" * 41, "19120315-0004 "]
)
def test_a_case_number_outside_the_pattern_is_refused(number: str) -> None:
    with pytest.raises(ValidationError):
        open_case(case_number=number)


def test_received_at_must_carry_a_time_zone() -> None:
    with pytest.raises(ValidationError):
        open_case(received_at="2026-03-02T10:15:00")


@pytest.mark.parametrize(
    ("number", "born"),
    [
        ("20120315-0004", "2012-03-15"),
        ("120315-0004", "2012-03-15"),
        ("20120375-0004", "2012-03-15"),
    ],  # a coordination number adds 60 to the day
)
def test_personal_identity_numbers_in_both_forms_are_accepted(number: str, born: str) -> None:
    subject = cases.Subject(personal_identity_number=number, name="T", birth_date=born)  # type: ignore[arg-type]
    assert subject.birth_date.isoformat() == born


@pytest.mark.parametrize(
    ("number", "born"),
    [
        ("2012-03-15", "2012-03-15"),
        ("20121315-0004", "2012-03-15"),
        ("20120315-0004", "2012-03-16"),
        ("19120315-0004", "2012-03-15"),
        ("201203150004", "2012-03-15"),
    ],
)
def test_a_malformed_or_mismatched_personal_identity_number_is_refused_without_echoing_it(
    number: str, born: str
) -> None:
    with pytest.raises(ValidationError) as info:
        cases.Subject(personal_identity_number=number, name="T", birth_date=born)  # type: ignore[arg-type]
    assert number not in str(info.value)


def test_commands_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        cases.CloseCase.model_validate({"reason": "r", "decided_by": "m", "extra": 1})


def test_signal_rejected_accepts_field_and_code_strings() -> None:
    rejected = cases.SignalRejected(signal="consent_changed", errors=["scope: missing"])  # type: ignore[list-item]
    assert (rejected.errors[0].field, rejected.errors[0].code) == ("scope", "missing")
