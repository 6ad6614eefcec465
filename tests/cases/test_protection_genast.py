"""The protection assessment is due "genast": its legal latest is its target (docs/legal.md).

Hand-checked dates (Stockholm): 2025-12-23 is a Tuesday, 24 December (julafton) is not a
working day under lag 1930:173, 25-26 December are public holidays, 27-28 December a
weekend. 2026-03-06 is a Friday; 2026-04-03 is Good Friday.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest
import typer
from typer.testing import CliRunner

import cases
from cases import STOCKHOLM, DeadlineKind, Policy, compute_deadline
from cases.policy import PROTECTION_CUTOFF_BASIS
from samverkan.commands.deadline import register

POLICY = Policy.default()
END = time(23, 59, 59, 999999)


def due(day: date, clock: time, policy: Policy = POLICY) -> cases.Deadline:
    start = datetime.combine(day, clock, tzinfo=STOCKHOLM)
    return compute_deadline(DeadlineKind.PROTECTION_ASSESSMENT, start, policy=policy)


@pytest.mark.parametrize(
    ("day", "clock", "target"),
    [
        (date(2025, 12, 23), time(16, 0), date(2025, 12, 24)),  # not 28 December
        (date(2025, 12, 23), time(14, 59), date(2025, 12, 23)),
        (date(2025, 12, 24), time(10, 0), date(2025, 12, 24)),  # a non-working day itself
        (date(2026, 3, 6), time(16, 30), date(2026, 3, 7)),  # Friday late: Saturday, not Monday
        (date(2026, 4, 3), time(9, 0), date(2026, 4, 3)),  # Good Friday
        (date(2026, 4, 2), time(15, 0), date(2026, 4, 3)),  # at the cut-off: next day
    ],
)
def test_legal_latest_is_the_target_whatever_the_calendar(
    day: date, clock: time, target: date
) -> None:
    deadline = due(day, clock)
    assert deadline.target == datetime.combine(target, END, tzinfo=STOCKHOLM)
    assert deadline.legal_latest == deadline.target
    assert deadline.moved_because == ()


def test_a_report_at_16_on_23_december_is_late_and_breached_after_24_december() -> None:
    deadline = due(date(2025, 12, 23), time(16, 0))
    assert not deadline.is_overdue(datetime(2025, 12, 24, 23, 0, tzinfo=STOCKHOLM))
    assert deadline.is_overdue(datetime(2025, 12, 25, 0, 1, tzinfo=STOCKHOLM))
    assert deadline.is_overdue(datetime(2025, 12, 27, 12, 0, tzinfo=STOCKHOLM))


def test_a_suspension_moves_the_target_and_legal_latest_together() -> None:
    deadline = due(date(2026, 3, 6), time(16, 30))
    moved = cases.suspend(
        deadline,
        datetime(2026, 3, 6, 17, 0, tzinfo=STOCKHOLM),
        datetime(2026, 3, 9, 9, 0, tzinfo=STOCKHOLM),
    )
    # one working day (Friday 6 March) suspended: Saturday 7 -> Monday 9 March
    assert moved.target.date() == date(2026, 3, 9)
    assert moved.legal_latest == moved.target


def test_the_cut_off_is_policy_labelled_local_practice() -> None:
    assert POLICY.time_limits.protection_cutoff == time(15, 0)
    assert POLICY.time_limits.protection_cutoff_basis == PROTECTION_CUTOFF_BASIS
    assert "local practice" in PROTECTION_CUTOFF_BASIS and "not law" in PROTECTION_CUTOFF_BASIS
    noon = Policy.from_toml("[time_limits]\nprotection_cutoff = 12:00:00\n")
    assert due(date(2026, 3, 2), time(12, 0), noon).target.date() == date(2026, 3, 3)
    assert due(date(2026, 3, 2), time(12, 0)).target.date() == date(2026, 3, 2)


def test_other_deadlines_still_move_past_holidays() -> None:
    start = datetime(2026, 3, 20, 9, 0, tzinfo=STOCKHOLM)
    pre = compute_deadline(DeadlineKind.PRE_ASSESSMENT, start, policy=POLICY)
    assert pre.target.date() == date(2026, 4, 3)  # Good Friday
    assert pre.legal_latest.date() == date(2026, 4, 7)  # Tuesday after Easter Monday


def cli(*args: str) -> dict[str, object]:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test app."""

    result = CliRunner().invoke(app, ["deadline", *args])
    assert result.exit_code == 0, result.stderr
    printed: dict[str, object] = json.loads(result.stdout)
    return printed


def test_the_cli_prints_genast_dates_the_cut_off_and_the_reference() -> None:
    out = cli("protection_assessment", "--from", "2025-12-23", "--at", "16:00")
    assert (out["target"], out["legal_latest"], out["at"]) == ("2025-12-24", "2025-12-24", "16:00")
    assert out["moved_because"] == []
    assert out["cutoff"] == {"at": "15:00", "basis": PROTECTION_CUTOFF_BASIS}
    assert "assumed" not in out
    reference = out["legal_reference"]
    assert isinstance(reference, dict)
    assert reference["cite"] == "SoL (2025:400) 20 kap. 1 § (unverified)"
    assert (reference["sfs"], reference["valid_from"]) == ("2025:400", "2025-07-01")


def test_the_cli_says_what_it_assumed_without_at() -> None:
    out = cli("protection_assessment", "--from", "2025-06-30")
    assert out["at"] == "00:00"
    assert out["assumed"] == "--at not given: the period is taken to start at 00:00 Stockholm time"
    assert (out["target"], out["legal_latest"]) == ("2025-06-30", "2025-06-30")
    reference = out["legal_reference"]
    assert isinstance(reference, dict)
    assert reference["cite"] == "SoL (2001:453) 11 kap. 1 a §"
    assert reference["valid_to"] == "2025-06-30"


def test_the_cli_prints_no_reference_for_a_consultation() -> None:
    out = cli("consultation:school", "--from", "2026-04-02", "--at", "09:00")
    assert out["legal_reference"] is None
    assert "cutoff" not in out
