"""Every figure of the board and the compliance report, from the fixed cases of
`tests.board.streams` projected by the real projector, against hand-computed values."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from eventstore import Projector
from samverkan.board.compliance import AnswerRow, ShareRow, percentile, read_compliance
from samverkan.board.pages import all_plots, board_page, report_page
from samverkan.board.queries import municipalities, read_board
from tests.board.streams import NOW_BOARD, NOW_REPORT, PERSONAL, end_of


async def test_the_board_shows_each_panel_for_its_municipality_only(
    board_pool: asyncpg.Pool,
) -> None:
    board = await read_board(board_pool, "Malmö", NOW_BOARD)

    assert await municipalities(board_pool) == ["Lund", "Malmö"]
    assert board.open_by_state == [("pre_assessment", 1), ("investigation", 1), ("decided", 1)]
    assert board.open_cases == 3
    # due by Wednesday 11 March noon: D's police answer (Friday 6 March); C's investigation
    # (10 August) is not, and nothing of Lund's case
    assert [(d.case_number, d.deadline, d.legal_latest) for d in board.due_soon] == [
        ("2026-D4", "Answer from police (consultation 1)", end_of(3, 6))
    ]
    # D's pre-assessment was due Monday 2 March: Tuesday and Wednesday have begun
    assert [
        (d.case_number, d.deadline, d.working_days_late, d.legal_reference) for d in board.overdue
    ] == [("2026-D4", "Pre-assessment", 2, "SoL (2025:400) 20 kap. 2 § (unverified)")]
    assert list(board.waiting) == ["police"]
    (waiting,) = board.waiting["police"]
    assert (waiting.case_number, waiting.consultation, waiting.status) == (
        "2026-D4",
        "consultation-1",
        "requested",
    )
    assert waiting.age_days == pytest.approx(15 + 2 / 24)  # 17 Feb 10:00 to 4 Mar 12:00
    assert [(e.case_number, e.deadline, e.rungs, e.highest_rung) for e in board.escalated] == [
        ("2026-D4", "Pre-assessment", 2, 1)
    ]


async def test_lund_sees_its_own_overdue_protection_assessment(board_pool: asyncpg.Pool) -> None:
    board = await read_board(board_pool, "Lund", NOW_BOARD)

    assert board.open_by_state == [("protection_assessment", 1)]
    # due Saturday 10 January: 15 working days in January from Monday 12, 20 in February,
    # 2, 3 and 4 March
    assert [(d.case_number, d.working_days_late) for d in board.overdue] == [("2026-E5", 38)]
    assert board.waiting == {} and board.escalated == [] and board.due_soon == []


async def test_compliance_figures_per_month_match_the_hand_computed_ones(
    board_pool: asyncpg.Pool,
) -> None:
    figures = await read_compliance(
        board_pool, "Malmö", date(2026, 1, 1), date(2026, 2, 28), NOW_REPORT
    )

    assert figures.months == ["2026-01", "2026-02"]
    assert figures.shares["protection_assessment"] == [
        ShareRow("2026-01", counted=2, on_time=1),
        ShareRow("2026-02", counted=2, on_time=2),
    ]
    assert figures.shares["pre_assessment"] == [
        ShareRow("2026-01", counted=2, on_time=1),
        ShareRow("2026-02", counted=2, on_time=1),
    ]
    assert figures.shares["investigation"] == [
        ShareRow("2026-01", counted=1, on_time=1, extended=0),
        ShareRow("2026-02", counted=1, on_time=0, extended=1),
    ]
    assert figures.shares["pre_assessment"][0].share == 0.5
    assert figures.answers == [
        AnswerRow("2026-01", "police", 2, 4.0, 6.0, ended_otherwise=0, waiting=0),
        AnswerRow("2026-02", "police", 1, 1.0, 1.0, ended_otherwise=0, waiting=1),
    ]
    assert figures.reports == [("2026-01", 2), ("2026-02", 2)]
    assert figures.references["pre_assessment"] == [("SoL (2025:400) 20 kap. 2 § (unverified)", 4)]
    assert figures.references["investigation"] == [("SoL (2025:400) 20 kap. 9 § (unverified)", 2)]


async def test_a_deadline_not_yet_due_counts_in_no_share(board_pool: asyncpg.Pool) -> None:
    # On 4 March C's extended investigation (due 10 August) is undecided and not yet due
    figures = await read_compliance(
        board_pool, "Malmö", date(2026, 2, 1), date(2026, 2, 28), NOW_BOARD
    )

    assert figures.shares["investigation"] == [ShareRow("2026-02", counted=0, on_time=0)]
    assert figures.shares["investigation"][0].share is None


def test_the_90th_percentile_is_the_nearest_rank() -> None:
    assert percentile([1.0], 90) == 1.0
    assert percentile([5.0, 1.0, 3.0], 90) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 90) == 9.0
    assert percentile([float(n) for n in range(1, 11)], 50) == 5.0


async def test_pages_hold_links_and_no_personal_data(board_pool: asyncpg.Pool) -> None:
    board = await read_board(board_pool, "Malmö", NOW_BOARD)
    figures = await read_compliance(
        board_pool, "Malmö", date(2026, 1, 1), date(2026, 2, 28), NOW_REPORT
    )

    html = board_page(board, "http://ui.example", "samverkan-malmo", "")
    report = report_page(figures, all_plots(figures))

    assert 'href="http://ui.example/namespaces/samverkan-malmo/workflows/case-2026-D4"' in html
    assert "2026-E5" not in html and "2026-E5" not in report
    assert (
        report.count("<svg") == 5
        and "<script" not in report
        and "http" not in report.split("<svg", 1)[0]
    )
    for personal in PERSONAL:
        assert personal not in html and personal not in report


async def test_a_rebuilt_board_projection_equals_the_live_one(board_pool: asyncpg.Pool) -> None:
    async def rows() -> list[list[dict[str, object]]]:
        return [
            [dict(r) for r in await board_pool.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in ("board_cases", "board_deadlines", "board_consultations")
        ]

    before = await rows()
    await Projector(board_pool).rebuild("board")

    assert await rows() == before
    assert len(before[0]) == 5 and len(before[2]) == 4


def test_working_days_late_counted_once_over_the_span_equals_the_summarys_count() -> None:
    from datetime import timedelta

    from cases.deadlines import working_days_late
    from cases.workdays import end_of_day
    from samverkan.board.queries import working_days_late_by_day

    days = {date(2023, 12, 20) + timedelta(days=n) for n in range(0, 800, 3)}
    days |= {date(2024, 12, 24), date(2024, 12, 25), date(2025, 6, 6), NOW_BOARD.date()}
    counted = working_days_late_by_day(days, NOW_BOARD)

    assert counted == {day: working_days_late(end_of_day(day), NOW_BOARD) for day in days}
    assert counted[NOW_BOARD.date()] == 0
