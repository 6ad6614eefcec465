"""The benchmark harness's pure parts: statistics, targets, run order and report writing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.cli import parse_args, results_stem
from bench.report import (
    BEGIN,
    END,
    InconsistentRow,
    Row,
    check_row,
    render_machine,
    render_results,
    row_from_json,
    splice,
    update_docs,
    write_results,
)
from bench.stats import (
    Summary,
    alternation,
    meets,
    paired_order,
    paired_ratios,
    percentile,
    summarize,
    tail_statistic,
)


def test_summary_is_median_with_min_and_max() -> None:
    summary = summarize([3.0, 1.0, 2.0, 10.0])
    assert (summary.median, summary.low, summary.high, summary.n) == (2.5, 1.0, 10.0, 4)
    with pytest.raises(ValueError):
        summarize([])


def test_percentile_interpolates_between_ranks() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_ratios_pair_repetitions_and_refuse_a_zero_baseline() -> None:
    assert paired_ratios([2.0, 3.0], [1.0, 2.0]) == [2.0, 1.5]
    with pytest.raises(ValueError):
        paired_ratios([1.0], [0.0])
    with pytest.raises(ValueError):
        paired_ratios([1.0, 2.0], [1.0])


def test_sides_alternate_and_neither_always_goes_first() -> None:
    order = alternation(3)
    assert [side for _, side in order] == [
        "baseline",
        "samverkan",
        "samverkan",
        "baseline",
        "baseline",
        "samverkan",
    ]
    assert sorted({rep for rep, _ in order}) == [0, 1, 2]


def test_targets_are_checked_with_their_comparison() -> None:
    assert meets(0.8, ">= 0.7") is True
    assert meets(1.6, "<= 1.5") is False
    assert meets(120, "< 250") is True
    assert meets(1.0, "") is None


def test_fewer_than_three_repetitions_are_refused() -> None:
    with pytest.raises(SystemExit):
        parse_args(["--reps", "2"])
    args = parse_args(["--quick", "--only", "2,4"])
    assert args.only == ["2", "4"] and args.sizes == [("×1", 1)]


def _row() -> Row:
    return Row(
        bench="2",
        what="appends",
        size="×1",
        unit="ev/s",
        samverkan=summarize([80.0, 90.0, 85.0]),
        baseline=summarize([100.0, 100.0, 100.0]),
        baseline_name="raw INSERT",
        figure=summarize([0.8, 0.9, 0.85]),
        figure_name="× raw",
        target=">= 0.8",
    )


def test_results_file_and_docs_table_round_trip(tmp_path: Path) -> None:
    started = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    path = write_results(
        [_row()],
        machine={
            "cores": 2,
            "memory_gib": 24,
            "platform": "x",
            "python": "3.11",
            "versions": {"temporalio": "1.35.0"},
        },
        started=started,
        seconds=61,
        mode="quick",
        results_dir=tmp_path,
    )
    assert path.name == "2026-03-02-quick.json"
    document = json.loads(path.read_text())
    assert row_from_json(document["rows"][0]) == _row()
    assert document["rows"][0]["met"] is True

    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nProse stays.\n")
    update_docs(docs, path)
    update_docs(docs, path)  # regenerating replaces the block, never duplicates it
    text = docs.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "Prose stays." in text
    assert "| 2 | appends | ×1 | 85.0 (80.0–90.0) ev/s" in text
    assert "2 cores" in text and "temporalio 1.35.0" in text


def test_splice_keeps_text_after_the_block() -> None:
    text = f"a\n{BEGIN}\nold\n{END}\nafter\n"
    assert splice(text, f"{BEGIN}\nnew\n{END}") == f"a\n{BEGIN}\nnew\n{END}\nafter\n"


def test_memory_options_are_parsed() -> None:
    args = parse_args(["--only", "5", "--memory-largest", "2500", "--memory-concurrency", "64"])
    assert args.memory_largest == 2500 and args.memory_concurrency == 64
    args = parse_args([])
    assert args.memory_largest is None and args.memory_concurrency is None
    assert args.sizes == [("×1", 1), ("×4", 4), ("×16", 16)]


def test_minutes_per_benchmark_are_in_the_table_header(tmp_path: Path) -> None:
    path = write_results(
        [_row()],
        machine={"cores": 2, "memory_gib": 24, "platform": "x", "python": "3.11"},
        started=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        seconds=600,
        mode="full",
        results_dir=tmp_path,
        timings={"2": 90.0, "5": 300.0},
    )
    assert path.name == "2026-03-02.json"
    docs = tmp_path / "benchmarks.md"
    update_docs(docs, path)
    text = docs.read_text()
    assert "(full, 10.0 min)" in text and "Minutes per benchmark: 2 1.5, 5 5.0." in text


def test_a_summary_keeps_its_values_through_json() -> None:
    summary = summarize([3.0, 1.0, 2.0])
    assert summary.values == (3.0, 1.0, 2.0)
    assert Summary.from_json(json.loads(json.dumps(summary.as_json()))) == summary


def test_each_baseline_runs_next_to_its_own_samverkan_run() -> None:
    order = paired_order(3, ["raw", "eventsourcing"])
    assert len(order) == 3 * 2 * 2
    pairs = [order[i : i + 2] for i in range(0, len(order), 2)]
    for first, second in pairs:
        # back to back: same repetition, same baseline, one of each side
        assert first[:2] == second[:2]
        assert {first[2], second[2]} == {"samverkan", "baseline"}
    # for each baseline, which side goes first alternates from one repetition to the next
    for name in ("raw", "eventsourcing"):
        firsts = [pair[0][2] for pair in pairs if pair[0][1] == name]
        assert firsts[0] != firsts[1] and firsts[1] != firsts[2]
    # and within a repetition, not every baseline starts with the same side
    assert pairs[0][0][2] != pairs[1][0][2]


def test_the_tail_statistic_is_one_the_samples_support() -> None:
    assert tail_statistic(8) == ("max", 100.0)
    assert tail_statistic(10) == ("p90", 90.0)
    assert tail_statistic(99) == ("p90", 90.0)
    assert tail_statistic(100) == ("p99", 99.0)
    # with 8 values a "p99" is (nearly) the maximum, which is why it is not called one
    values = [100.0] * 7 + [400.0]
    assert percentile(values, 99) > 370  # 93 % of the way to the one slow answer


def _rigged(**changes: object) -> Row:
    import dataclasses

    return dataclasses.replace(_row(), **changes)


def test_a_row_whose_figure_is_not_samverkan_over_baseline_is_refused() -> None:
    check_row(_row())  # the honest row passes
    inverted = _rigged(figure=summarize(paired_ratios([100.0] * 3, [80.0, 90.0, 85.0])))
    with pytest.raises(InconsistentRow, match="not Samverkan"):
        check_row(inverted)
    edited = _rigged(figure=Summary(0.95, 0.8, 0.9, 3, (0.8, 0.9, 0.85)))
    with pytest.raises(InconsistentRow, match="median"):
        check_row(edited)
    shuffled = _rigged(figure=summarize([0.9, 0.8, 0.85]))  # same values, other pairing
    with pytest.raises(InconsistentRow):
        check_row(shuffled)
    unchecked = _rigged(figure=Summary(0.85, 0.8, 0.9, 3))  # no values to check it against
    with pytest.raises(InconsistentRow, match="keeps no measurements"):
        check_row(unchecked)


def test_a_row_without_baseline_reports_its_own_values() -> None:
    lag = Row(
        bench="3",
        what="lag",
        size="×1",
        unit="ms",
        samverkan=summarize([10.0, 12.0, 11.0]),
        baseline=None,
        baseline_name="—",
        figure=summarize([10.0, 12.0, 11.0]),
        figure_name="p99 ms",
        target="< 250",
    )
    check_row(lag)
    import dataclasses

    with pytest.raises(InconsistentRow):
        check_row(dataclasses.replace(lag, figure=summarize([1.0, 1.2, 1.1])))


def _document(tmp_path: Path) -> dict[str, object]:
    path = write_results(
        [_row()],
        machine={"cores": 2, "memory_gib": 24, "platform": "x", "python": "3.11"},
        started=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        seconds=60,
        mode="full",
        results_dir=tmp_path,
    )
    return json.loads(path.read_text())


def test_targets_and_whether_they_are_met_come_from_the_results_file(tmp_path: Path) -> None:
    document = _document(tmp_path)
    row = document["rows"][0]  # type: ignore[index]
    assert "| >= 0.8 | yes |" in render_results(document)
    row["target"] = ">= 0.9"  # the report has no target of its own: it shows the file's
    assert "| >= 0.9 | **no** |" in render_results(document)
    row["target"] = ">= 0.8"
    row["met"] = False  # ...but works out whether it is met again, from the figure
    assert "| >= 0.8 | yes |" in render_results(document)


def test_the_report_refuses_a_results_file_with_a_rigged_figure(tmp_path: Path) -> None:
    document = _document(tmp_path)
    row = document["rows"][0]  # type: ignore[index]
    row["figure"]["median"] = 1.5
    row["figure"]["values"] = [1.5, 1.5, 1.5]
    with pytest.raises(InconsistentRow):
        render_results(document)


def test_partial_runs_get_their_own_results_file() -> None:
    day = "2026-03-02"
    assert results_stem(parse_args([]), day) == day
    assert results_stem(parse_args(["--quick"]), day) == f"{day}-quick"
    assert results_stem(parse_args(["--only", "6,2"]), day) == f"{day}-only-2-6"
    assert results_stem(parse_args(["--sizes", "1,4"]), day) == f"{day}-sizes-1-4"
    assert parse_args(["--only", "2,6"]).partial and not parse_args([]).partial
    with pytest.raises(SystemExit):
        parse_args(["--memory-passes", "0"])


def test_the_table_header_says_what_else_ran_on_the_machine() -> None:
    text = render_machine(
        {"cores": 2, "memory_gib": 24, "platform": "x", "python": "3.11"},
        "2026-03-02T10:00:00+00:00",
        600,
        "full",
        conditions={
            "other_processes_cpu": {
                "median_cores": 1.2,
                "max_cores": 1.9,
                "samples": 60,
                "interval_s": 10.0,
            },
            "note": "Shared machine: other engineers' test suites ran at the same time",
            "partial": {"benchmarks": ["2", "6"], "sizes": ["×1"]},
            "checkout": {"commit": "0123456789abcdef", "modified": ["eventstore/postgres.py"]},
        },
    )
    assert "commit 0123456789 with uncommitted changes to eventstore/postgres.py." in text
    assert "Other processes on the machine used 1.20 cores (median of 60 samples 10 s" in text
    assert "max 1.90) of 2." in text
    assert "Shared machine: other engineers' test suites ran at the same time." in text
    assert "Only benchmarks 2, 6 at ×1." in text


def test_a_failing_benchmark_keeps_the_rows_of_those_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import cli

    async def run(args: object, load: object, rows: list[Row], timings: dict[str, float]) -> None:
        rows.append(_row())
        timings["2"] = 1.0
        raise RuntimeError("benchmark 6 fell over")

    monkeypatch.setattr(cli, "run", run)
    docs = tmp_path / "benchmarks.md"
    monkeypatch.setattr(cli, "DOCS", docs)
    with pytest.raises(RuntimeError, match="fell over"):
        cli.main(["--only", "2,6", "--results-dir", str(tmp_path), "--note", "test"])
    assert not docs.exists()  # a failed run's table never replaces a finished run's
    (written,) = tmp_path.glob("*.json")
    assert written.name.endswith("-only-2-6-incomplete.json")
    document = json.loads(written.read_text())
    assert [row_from_json(r) for r in document["rows"]] == [_row()]
    assert document["conditions"]["failed"] == "RuntimeError: benchmark 6 fell over"
