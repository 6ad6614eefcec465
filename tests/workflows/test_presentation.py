"""What a case shows in the Web UI's details (`workflows.presentation.current_details`)."""

from __future__ import annotations

from datetime import UTC, datetime

import cases
from tests.cases.case_builders import T0, Case
from workflows.presentation import current_details


def test_details_give_deadlines_in_swedish_time_with_its_zone() -> None:
    case = Case()
    case.set_deadline(cases.DeadlineKind.PROTECTION_ASSESSMENT, T0)
    details = current_details(case.s, now=T0)
    # The protection assessment is due the same day, 23:59 in Stockholm (winter: CET).
    assert "**By:** 2026-03-02 23:59 CET (legal latest 2026-03-02 23:59 CET" in details


def test_a_summer_deadline_set_from_a_utc_clock_shows_in_cest() -> None:
    summer = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # 10:00 in Stockholm
    case = Case(now=summer)
    case.set_deadline(cases.DeadlineKind.PROTECTION_ASSESSMENT, summer)
    details = current_details(case.s, now=summer)
    assert "**By:** 2026-07-01 23:59 CEST" in details
    assert "UTC" not in details
