"""Age and identity drive the path (issue 17 item 5): under 18 the child path, 18 to 20 the
young-adult path (an investigation needs consent unless LVU 3 § may apply), 21 or older
refused naming the birth date field; a child not yet identified can be registered and
identified later, the deadlines running from receipt either way.

Ages are counted on the day the report arrived, T0 = Monday 2 March 2026 (Stockholm)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError

import cases
from cases import Rejected
from cases.commands import IdentifySubject
from cases.decide import check_new_decision, check_opening
from cases.events import InvestigationOpened, SubjectIdentified
from cases.models import AgePath, Subject, YoungAdultBasis
from tests.cases.case_builders import T0, Case, open_case


def person(pin: str, born: str) -> dict[str, str]:
    return {"personal_identity_number": pin, "name": "Testperson Exempelsson", "birth_date": born}


UNIDENTIFIED = {"unidentified": "pupil in class 8B at the school that reported, about 14"}


@pytest.mark.parametrize(
    ("pin", "born", "path"),
    [
        ("20120315-0004", "2012-03-15", AgePath.CHILD),  # 13
        ("20080303-0004", "2008-03-03", AgePath.CHILD),  # 17, turns 18 the next day
        ("20080302-0004", "2008-03-02", AgePath.YOUNG_ADULT),  # turns 18 on the day
        ("20050303-0004", "2005-03-03", AgePath.YOUNG_ADULT),  # 20, turns 21 the next day
        ("20050302-0004", "2005-03-02", None),  # turns 21 on the day: refused
        ("19860110-0004", "1986-01-10", None),  # 40
    ],
)
def test_the_path_follows_the_age_on_the_day_of_receipt(
    pin: str, born: str, path: AgePath | None
) -> None:
    subject = Subject.model_validate(person(pin, born))
    assert subject.age_path(T0.date()) is path


def test_a_40_year_old_is_refused_naming_the_birth_date_field_never_the_date() -> None:
    case = open_case(subject=person("19860110-0004", "1986-01-10"), received_at=T0.isoformat())
    with pytest.raises(Rejected) as refused:
        check_opening(case)
    assert refused.value.code == "subject_21_or_older"
    assert refused.value.field == "subject.birth_date"
    assert "21 or older" in refused.value.message
    for leak in ("1986", "19860110", "01-10", "Testperson"):
        assert leak not in str(refused.value) and leak not in refused.value.message


def test_a_child_and_a_young_adult_open() -> None:
    check_opening(open_case(received_at=T0.isoformat()))
    check_opening(
        open_case(subject=person("20050303-0004", "2005-03-03"), received_at=T0.isoformat())
    )
    check_opening(open_case(subject=UNIDENTIFIED, received_at=T0.isoformat()))


def _young_adult() -> Case:
    case = Case(subject=person("20060601-0004", "2006-06-01"))  # 19 on T0
    case.assess()
    return case


def test_a_young_adult_investigation_needs_consent_or_lvu_3() -> None:
    case = _young_adult()
    assert case.s.age_path is AgePath.YOUNG_ADULT
    bare = cases.DecidePreAssessment(open_investigation=True, reasons="r", decided_by="officer-1")
    with pytest.raises(Rejected) as refused:
        check_new_decision(case.s, bare)
    assert (refused.value.code, refused.value.field) == (
        "young_adult_basis_required",
        "young_adult_basis",
    )
    declining = cases.DecidePreAssessment(
        open_investigation=False, reasons="r", decided_by="officer-1"
    )
    check_new_decision(case.s, declining)  # not investigating needs no consent
    with_consent = bare.model_copy(update={"young_adult_basis": YoungAdultBasis.CONSENT})
    check_new_decision(case.s, with_consent)
    events = case.do(with_consent)
    opened = events[0]
    assert isinstance(opened, InvestigationOpened)
    assert opened.young_adult_basis is YoungAdultBasis.CONSENT
    assert case.s.young_adult_basis is YoungAdultBasis.CONSENT


def test_lvu_3_opens_a_young_adult_investigation_without_consent() -> None:
    case = _young_adult()
    command = cases.DecidePreAssessment(
        open_investigation=True,
        reasons="r",
        decided_by="officer-1",
        young_adult_basis=YoungAdultBasis.LVU_3,
    )
    check_new_decision(case.s, command)
    case.do(command)
    assert case.s.young_adult_basis is YoungAdultBasis.LVU_3
    assert case.s.state is cases.CaseStateName.INVESTIGATION


def test_a_child_takes_no_young_adult_basis_and_records_none() -> None:
    case = Case()
    case.assess()
    command = cases.DecidePreAssessment(
        open_investigation=True,
        reasons="r",
        decided_by="officer-1",
        young_adult_basis=YoungAdultBasis.CONSENT,
    )
    with pytest.raises(Rejected) as refused:
        check_new_decision(case.s, command)
    assert refused.value.code == "young_adult_basis_not_applicable"
    check_new_decision(case.s, command.model_copy(update={"young_adult_basis": None}))


def test_a_recorded_version_1_investigation_opened_reads_on_the_child_path() -> None:
    row = cases.Envelope(
        event_id=UUID(int=1),
        case_id="case-MAL-2020-0001",
        version=3,
        type="InvestigationOpened",
        schema_version=1,
        occurred_at=datetime(2020, 5, 4, tzinfo=UTC),
        actor="officer-1",
        data={"reasons": "r", "decided_by": "officer-1", "at": T0.isoformat()},
    )
    event = cases.open_envelope(row)
    assert isinstance(event, InvestigationOpened)
    assert event.young_adult_basis is None


def test_a_subject_without_identity_needs_a_description_and_an_identified_one_its_fields() -> None:
    with pytest.raises(ValidationError):
        Subject.model_validate({})
    with pytest.raises(ValidationError):
        Subject.model_validate({"unidentified": "   "})
    with pytest.raises(ValidationError):  # a number without the birth date
        Subject.model_validate({"personal_identity_number": "20120315-0004", "name": "X"})
    with pytest.raises(ValidationError):  # identified and described as unidentified
        Subject.model_validate({**person("20120315-0004", "2012-03-15"), **UNIDENTIFIED})
    unknown = Subject.model_validate(UNIDENTIFIED)
    assert not unknown.identified and unknown.age_on(T0.date()) is None
    assert unknown.age_path(T0.date()) is AgePath.UNIDENTIFIED


def test_an_unidentified_child_is_registered_and_identified_later_keeping_its_deadlines() -> None:
    case = Case(subject=UNIDENTIFIED)
    assert case.s.age_path is AgePath.UNIDENTIFIED
    protection = case.set_deadline(cases.DeadlineKind.PROTECTION_ASSESSMENT, case.s.received_at)
    pre = case.set_deadline(cases.DeadlineKind.PRE_ASSESSMENT, case.s.received_at)
    assert pre.start == T0  # from receipt, identified or not
    identified = Subject.model_validate(person("20120315-0004", "2012-03-15"))
    events = case.do(IdentifySubject(subject=identified, decided_by="officer-1"))
    assert [type(e) for e in events] == [SubjectIdentified]
    assert case.s.subject == identified
    after: AgePath | None = case.s.age_path
    assert after is AgePath.CHILD
    assert case.s.deadlines == {protection.key: protection, pre.key: pre}
    assert case.s.received_at == T0
    with pytest.raises(Rejected) as again:
        case.do(IdentifySubject(subject=identified, decided_by="officer-1"))
    assert again.value.code == "subject_already_identified"


def test_identifying_needs_a_number_and_refuses_someone_21_or_older() -> None:
    case = Case(subject=UNIDENTIFIED)
    with pytest.raises(Rejected) as no_number:
        case.do(
            IdentifySubject(
                subject=Subject.model_validate({**UNIDENTIFIED, "birth_date": "2012-03-15"}),
                decided_by="officer-1",
            )
        )
    assert no_number.value.field == "subject.personal_identity_number"
    adult = Subject.model_validate(person("20050302-0004", "2005-03-02"))  # 21 on T0
    with pytest.raises(Rejected) as refused:
        case.do(IdentifySubject(subject=adult, decided_by="officer-1"))
    assert (refused.value.code, refused.value.field) == (
        "subject_21_or_older",
        "subject.birth_date",
    )
    assert "2005" not in refused.value.message
    assert not case.s.subject.identified


def test_an_unidentified_birth_date_alone_sets_the_path() -> None:
    born = Subject.model_validate({**UNIDENTIFIED, "birth_date": date(2007, 1, 5).isoformat()})
    assert born.age_path(T0.date()) is AgePath.YOUNG_ADULT  # 19


def test_lvu_3_does_not_reach_a_20_year_old_who_needs_to_consent() -> None:
    case = Case(subject=person("20060302-0004", "2006-03-02"))  # turns 20 on T0
    case.assess()
    command = cases.DecidePreAssessment(
        open_investigation=True,
        reasons="r",
        decided_by="officer-1",
        young_adult_basis=YoungAdultBasis.LVU_3,
    )
    with pytest.raises(Rejected) as refused:
        check_new_decision(case.s, command)
    assert (refused.value.code, refused.value.field) == (
        "lvu_3_not_applicable",
        "young_adult_basis",
    )
    check_new_decision(
        case.s, command.model_copy(update={"young_adult_basis": YoungAdultBasis.CONSENT})
    )
    nineteen = Case(subject=person("20060303-0004", "2006-03-03"))  # 19, turns 20 the next day
    nineteen.assess()
    check_new_decision(nineteen.s, command)
