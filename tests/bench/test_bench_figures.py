"""Each benchmark's figure from known measurements: Samverkan / baseline, in the right
direction, with the statistic and repetitions the row says it has."""

from __future__ import annotations

import pytest

from bench.append import GROUPING, Run, append_rows
from bench.cases import Reading, gateway_row, memory_row
from bench.report import check_row


def _runs(store: float, baseline: float, reps: int = 3) -> dict[str, list[Run]]:
    return {
        "samverkan": [Run(store, statements=50) for _ in range(reps)],
        "baseline": [Run(baseline, statements=None) for _ in range(reps)],
    }


def test_appends_figure_is_store_rate_over_baseline_rate() -> None:
    # 800 events: the store takes 1 s, raw grouped 0.8 s (raw is faster), eventsourcing 5.5 s
    rows = append_rows(
        batch=1,
        label="×4",
        events=800,
        appends=800,
        runs={
            "raw_grouped": _runs(1.0, 0.8),
            "raw": _runs(1.0, 2.0),
            "copy": _runs(1.0, 1.6),
            "eventsourcing": _runs(1.0, 5.5),
        },
    )
    grouped, single, es = rows
    assert grouped.samverkan.median == pytest.approx(800) and grouped.baseline is not None
    assert grouped.baseline.median == pytest.approx(1000)
    assert grouped.figure.median == pytest.approx(0.8)  # slower than raw: below 1
    assert grouped.target == ">= 0.8" and grouped.met is True
    assert single.figure.median == pytest.approx(2.0) and single.target == ""
    assert single.notes["store_vs_copy"]["median"] == pytest.approx(1.6)
    assert es.figure.median == pytest.approx(5.5) and es.met is True
    for row in rows:
        check_row(row)
    # the grouping each side got is stated and measured: 800 appends in 50 statements
    assert grouped.notes["appends_per_statement"]["samverkan"]["median"] == pytest.approx(16)
    assert grouped.notes["appends_per_statement"]["baseline"]["median"] == pytest.approx(1)
    assert grouped.notes["sides"] == {
        "samverkan": GROUPING["samverkan"],
        "baseline": GROUPING["raw_grouped"],
    }


def test_a_slower_store_misses_the_appends_targets() -> None:
    rows = append_rows(
        batch=10,
        label="×1",
        events=2000,
        appends=200,
        runs={"raw_grouped": _runs(2.0, 1.0), "eventsourcing": _runs(2.0, 4.0)},
    )
    grouped, es = rows
    assert grouped.figure.median == pytest.approx(0.5) and grouped.met is False
    assert es.figure.median == pytest.approx(2.0) and es.met is False
    assert "10 events/txn" in grouped.what


def test_appends_pair_each_repetition_with_its_own_store_run() -> None:
    runs = {
        "raw_grouped": {
            "samverkan": [Run(1.0), Run(2.0), Run(4.0)],
            "baseline": [Run(1.0), Run(2.0), Run(4.0)],
        }
    }
    (row,) = append_rows(batch=1, label="×1", events=100, appends=100, runs=runs)
    # a noisy machine slows both sides of a pair alike: each pair's ratio is 1
    assert row.figure.values == (1.0, 1.0, 1.0)
    assert row.samverkan.low == pytest.approx(25) and row.samverkan.high == pytest.approx(100)


def _latencies(value: float, count: int, slow: float | None = None) -> list[float]:
    values = [value] * count
    if slow is not None:
        values[-1] = slow
    return values


@pytest.mark.parametrize(
    ("count", "statistic"), [(8, "max"), (32, "p90"), (128, "p99")], ids=["x1", "x4", "x16"]
)
def test_gateway_figure_is_the_named_tail_over_the_client_updates(
    count: int, statistic: str
) -> None:
    measured = {
        "samverkan": [_latencies(150.0, count) for _ in range(3)],
        "baseline": [_latencies(100.0, count) for _ in range(3)],
    }
    row = gateway_row("×1", count, measured)
    assert row.figure.median == pytest.approx(1.5)  # the gateway is slower: above 1
    assert row.met is True
    assert row.figure_name == f"{statistic} ratio" and statistic in row.what
    assert row.notes["statistic"] == statistic
    check_row(row)


def test_gateway_tail_with_few_answers_is_the_maximum() -> None:
    # one slow answer in eight: the row's statistic (the max) shows it in full
    measured = {
        "samverkan": [_latencies(100.0, 8, slow=400.0) for _ in range(3)],
        "baseline": [_latencies(100.0, 8) for _ in range(3)],
    }
    row = gateway_row("×1", 8, measured)
    assert row.samverkan.median == pytest.approx(400.0)
    assert row.figure.median == pytest.approx(4.0) and row.met is False
    assert row.notes["p50_ratio"]["median"] == pytest.approx(1.0)


def _reading(*rss: float) -> Reading:
    return Reading(rss=list(rss), rate=10.0, segment_rate=10.0, cpu_ms_per_start=5.0)


def test_memory_with_one_pass_says_its_repetitions_are_samples() -> None:
    row = memory_row(
        625,
        "×1",
        [_reading(200.0, 202.0, 204.0)],
        [_reading(100.0, 100.0, 100.0)],
        idle={"samverkan": [100.0], "baseline": [90.0]},
        concurrency=32,
    )
    assert "3 RSS samples of 1 pass" in row.what
    assert row.notes["passes"] == 1
    assert row.figure.values == pytest.approx((2.0, 2.02, 2.04))  # bigger worker: above 1
    assert row.met is False
    assert row.notes["kib_per_open_workflow"] == {
        "samverkan": round(102 / 625 * 1024),
        "baseline": round(10 / 625 * 1024),
    }
    check_row(row)


def test_memory_with_several_passes_counts_each_pass_once() -> None:
    row = memory_row(
        625,
        "×1",
        [_reading(200.0, 210.0, 220.0), _reading(150.0, 150.0, 150.0)],
        [_reading(100.0, 100.0, 100.0), _reading(100.0, 100.0, 100.0)],
        idle={"samverkan": [100.0, 100.0], "baseline": [90.0, 90.0]},
        concurrency=32,
    )
    assert "(2 passes)" in row.what and row.samverkan.n == 2
    assert row.figure.values == pytest.approx((2.1, 1.5))
    check_row(row)
    with pytest.raises(ValueError):
        memory_row(625, "×1", [_reading(1.0)], [], idle={}, concurrency=32)
