"""The benchmark harness's pure parts: statistics, targets, run order and report writing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.cli import parse_args
from bench.report import BEGIN, END, Row, row_from_json, splice, update_docs, write_results
from bench.stats import alternation, meets, paired_ratios, percentile, summarize


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
