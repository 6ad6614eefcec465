"""Missing duties (issue 17 item 7), the part done: an investigation extension decided after
the deadline it extends is recorded as late, never as on time.

T0 is Monday 2 March 2026; the investigation opens that day, so its four months (SoL 11:2)
end on Thursday 2 July 2026, a working day (no Swedish public holiday), so the legal latest
moment is the end of that day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import cases
from cases.events import InvestigationExtended
from tests.cases.case_builders import STHLM, Case


def _investigating() -> tuple[Case, cases.Deadline]:
    case = Case()
    case.assess()
    case.pre_assess(open_investigation=True)
    opened = case.s.investigation_opened_at
    assert opened is not None
    deadline = case.set_deadline(cases.DeadlineKind.INVESTIGATION, opened)
    assert deadline.legal_latest == datetime(2026, 7, 2, 23, 59, 59, 999999, tzinfo=STHLM)
    return case, deadline


def _extend(case: Case, at: datetime) -> InvestigationExtended:
    [event] = case.do(
        cases.ExtendInvestigation(
            until=date(2026, 8, 31), reasons="special reasons", decided_by="unit-manager-1"
        ),
        after=at - case.now,
    )
    assert isinstance(event, InvestigationExtended)
    return event


def test_an_extension_on_the_last_day_is_on_time() -> None:
    case, _ = _investigating()
    assert _extend(case, datetime(2026, 7, 2, 16, 0, tzinfo=STHLM)).late is False


def test_an_extension_after_the_deadline_passed_is_recorded_as_late() -> None:
    case, deadline = _investigating()
    event = _extend(case, deadline.legal_latest + timedelta(microseconds=1))
    assert event.late is True
    assert case.s.extension_count == 1


def test_a_version_1_extension_reads_as_not_late() -> None:
    row = cases.Envelope(
        event_id=UUID(int=2),
        case_id="case-MAL-2020-0001",
        version=9,
        type="InvestigationExtended",
        schema_version=1,
        occurred_at=datetime(2020, 9, 4, tzinfo=UTC),
        actor="unit-manager-1",
        data={
            "until": "2020-10-30",
            "reasons": "r",
            "decided_by": "unit-manager-1",
            "extension_number": 1,
            "at": "2020-09-04T10:00:00+02:00",
        },
    )
    event = cases.open_envelope(row)
    assert isinstance(event, InvestigationExtended) and event.late is False
