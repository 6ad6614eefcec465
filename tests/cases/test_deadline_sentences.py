"""Every sentence about a deadline names it and gives its own date (issue 19, item 2).

The next step once said "Conclude the investigation by 2026-12-09", the police consultation's
due date: the date came from the earliest pending deadline of any kind. Here each sentence
in the summary and the Web UI's details is matched to the deadline it names and its date
checked against that deadline's last day in Swedish time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import cases
from cases import CaseState, Deadline
from cases.state import deadline_name, summary_key
from tests.cases.case_builders import STHLM, T0, Case
from workflows.presentation import current_details

DATE = r"(\d{4}-\d{2}-\d{2})"


def investigation_with_an_earlier_consultation() -> tuple[Case, str]:
    """An investigation due in July, and the school's answer due weeks before it."""
    case = Case()
    case.set_deadline(cases.DeadlineKind.PROTECTION_ASSESSMENT, T0)
    case.set_deadline(cases.DeadlineKind.PRE_ASSESSMENT, T0)
    case.assess()
    case.pre_assess(open_investigation=True)
    case.set_deadline(cases.DeadlineKind.INVESTIGATION, case.now)
    consultation_id = case.ask(cases.Agency.SCHOOL, cases.LegalBasis.DUTY_TO_INFORM)
    case.set_deadline(
        cases.DeadlineKind.CONSULTATION,
        case.now,
        agency=cases.Agency.SCHOOL,
        key=f"consultation:{consultation_id}",
    )
    return case, consultation_id


def by_name(state: CaseState) -> dict[str, Deadline]:
    return {deadline_name(d): d for d in state.deadlines.values()}


def test_the_next_step_gives_its_own_deadlines_date_not_the_earliest() -> None:
    case, _ = investigation_with_an_earlier_consultation()
    investigation = case.s.deadlines["investigation"]
    earliest = case.s.next_deadline()
    assert earliest is not None and earliest.kind is cases.DeadlineKind.CONSULTATION
    assert earliest.due != investigation.due  # the case the issue found

    action = case.s.next_expected_action()

    assert action.startswith(f"Conclude the investigation by {investigation.due.isoformat()}")
    assert earliest.due.isoformat() not in action


def test_each_pending_line_names_a_deadline_and_gives_its_own_date() -> None:
    case, _ = investigation_with_an_earlier_consultation()
    named = by_name(case.s)
    lines = case.s.pending_lines()

    assert len(lines) == len(case.s.pending_deadlines()) == 2
    for line in lines:
        name, due = re.fullmatch(rf"(.+) due {DATE}", line).groups()  # type: ignore[union-attr]
        assert named[name].due.isoformat() == due
    assert (
        lines[0]
        == "Answer from school (consultation 1) due "
        + named["Answer from school (consultation 1)"].due.isoformat()
    )


def test_overdue_lines_say_which_deadline_and_how_many_working_days_late() -> None:
    case = Case()
    case.set_deadline(cases.DeadlineKind.PROTECTION_ASSESSMENT, T0)
    pre = case.set_deadline(cases.DeadlineKind.PRE_ASSESSMENT, T0)
    case.assess()
    assert pre.due.isoformat() == "2026-03-16"  # a Monday, 14 days after receipt

    def at(day: int) -> datetime:
        return datetime(2026, 3, day, 9, 0, tzinfo=STHLM)

    assert case.s.overdue_lines(datetime(2026, 3, 16, 23, 0, tzinfo=STHLM)) == []
    assert case.s.overdue_lines(at(17)) == ["Pre-assessment 1 working day late, due 2026-03-16"]
    assert case.s.overdue_lines(at(19)) == ["Pre-assessment 3 working days late, due 2026-03-16"]
    # Saturday and Sunday add no working day; Monday does.
    assert case.s.overdue_lines(at(22)) == ["Pre-assessment 4 working days late, due 2026-03-16"]
    assert case.s.overdue_lines(at(23)) == ["Pre-assessment 5 working days late, due 2026-03-16"]
    assert pre.working_days_late(at(23)) == 5
    assert len(case.s.overdue_lines(at(23))) == case.s.overdue_count(at(23))


def test_a_deadline_due_on_friday_is_not_a_working_day_late_over_the_weekend() -> None:
    case = Case(now=datetime(2026, 3, 6, 10, 0, tzinfo=STHLM))  # a Friday
    case.set_deadline(cases.DeadlineKind.PROTECTION_ASSESSMENT, case.now)
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=STHLM)
    assert case.s.overdue_lines(saturday) == [
        "Protection assessment late (no working day since), due 2026-03-06"
    ]


def test_the_summary_names_each_deadline_with_its_date_under_a_readable_key() -> None:
    case, consultation_id = investigation_with_an_earlier_consultation()
    now = case.s.deadlines["investigation"].legal_latest + timedelta(days=10)

    summary = case.s.to_summary(now)

    assert not any(key.startswith("consultation:") for key in summary["deadlines"])
    assert "school_consultation_1" in summary["deadlines"]
    assert consultation_id.split(":")[0] not in "".join(summary["deadlines"])
    for key, entry in summary["deadlines"].items():
        [deadline] = [d for d in case.s.deadlines.values() if summary_key(d) == key]
        assert entry["name"] == deadline_name(deadline)
        assert entry["due"] == deadline.due.isoformat()
        assert entry["legal_latest"].startswith(entry["due"])
    named = by_name(case.s)
    assert summary["overdue"], "the investigation and the answer are both overdue"
    for line in summary["overdue"]:
        name, _, due = re.fullmatch(  # type: ignore[union-attr]
            rf"(.+) (\d+ working days? late|late \(no working day since\)), due {DATE}", line
        ).groups()
        assert named[name].due.isoformat() == due
    for line in summary["pending_deadlines"]:
        name, due = re.fullmatch(rf"(.+) due {DATE}", line).groups()  # type: ignore[union-attr]
        assert named[name].due.isoformat() == due
    assert case.s.to_summary()["overdue"] is None  # no clock, no lateness


def test_the_web_ui_details_give_each_deadline_its_own_date() -> None:
    case, _ = investigation_with_an_earlier_consultation()
    investigation = case.s.deadlines["investigation"]
    now = investigation.legal_latest + timedelta(days=3)
    named = by_name(case.s)

    details = current_details(case.s, now=now)

    assert f"**Next:** Conclude the investigation by {investigation.due.isoformat()}" in details
    assert "(legal latest" in details and "Investigation)" in details
    assert "Overdue deadlines:" not in details
    dated = [line for line in details.splitlines() if line.startswith("- ") and " due " in line]
    assert len(dated) == 4  # two overdue, two pending
    for line in dated:
        match = re.fullmatch(
            rf"- (.+?)(?: \d+ working days? late,| late \(no working day since\),)? due {DATE}",
            line,
        )
        assert match is not None, line
        name, due = match.groups()
        assert named[name].due.isoformat() == due, line
