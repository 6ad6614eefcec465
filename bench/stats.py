"""Pure statistics for benchmark results: medians, ranges, percentiles and paired ratios.

A benchmark runs its baseline and Samverkan alternately, ``reps`` times each; the ratio of
repetition *i* is ``samverkan[i] / baseline[i]`` (pairs measured back to back share the
machine's noise), and the reported figure is the median of those ratios with their min–max.
Every `Summary` keeps the values it summarises, so a results file can be checked: the
report recomputes each figure from its two sides (`bench.report.check_row`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Summary:
    """Median and range of repeated measurements."""

    median: float
    low: float
    high: float
    n: int
    #: the values summarised, in measurement order (empty in results files written before
    #: they were kept)
    values: tuple[float, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["values"] = list(self.values)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        """The inverse of `as_json`."""
        return cls(
            median=data["median"],
            low=data["low"],
            high=data["high"],
            n=data["n"],
            values=tuple(data.get("values", ())),
        )


def summarize(values: Sequence[float]) -> Summary:
    """Median, min and max of ``values`` (at least one), which it keeps."""
    if not values:
        raise ValueError("no values to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values), tuple(values))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, linear between closest ranks."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(rank), math.ceil(rank)
    if lower == upper:
        return ordered[lower]
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (rank - lower)


def paired_ratios(samverkan: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """``samverkan[i] / baseline[i]`` for each repetition (same length, baselines non-zero)."""
    if len(samverkan) != len(baseline):
        raise ValueError("samverkan and baseline need the same number of repetitions")
    if any(b == 0 for b in baseline):
        raise ValueError("a baseline measurement is zero")
    return [s / b for s, b in zip(samverkan, baseline, strict=True)]


def alternation(reps: int) -> list[tuple[int, str]]:
    """The run order: baseline and samverkan alternate, and the one going first alternates too.

    ``[(0, 'baseline'), (0, 'samverkan'), (1, 'samverkan'), (1, 'baseline'), ...]`` so that
    neither side always runs on a warmer (or noisier) machine.
    """
    order: list[tuple[int, str]] = []
    for rep in range(reps):
        pair = ["baseline", "samverkan"] if rep % 2 == 0 else ["samverkan", "baseline"]
        order += [(rep, side) for side in pair]
    return order


def paired_order(reps: int, baselines: Sequence[str]) -> list[tuple[int, str, str]]:
    """The run order when one Samverkan side is compared with several baselines: for each
    repetition and each baseline, a pair ``(rep, baseline, side)`` measured back to back, so
    every ratio pairs a baseline with the Samverkan run next to it. Which of the pair goes
    first alternates, by repetition and by baseline.

    ``paired_order(2, ["a", "b"])`` is ``[(0, 'a', 'baseline'), (0, 'a', 'samverkan'),
    (0, 'b', 'samverkan'), (0, 'b', 'baseline'), (1, 'a', 'samverkan'), ...]``.
    """
    order: list[tuple[int, str, str]] = []
    for rep in range(reps):
        for k, name in enumerate(baselines):
            pair = ["baseline", "samverkan"] if (rep + k) % 2 == 0 else ["samverkan", "baseline"]
            order += [(rep, name, side) for side in pair]
    return order


def tail_statistic(samples: int) -> tuple[str, float]:
    """The tail percentile that ``samples`` values per repetition can support, and its name.

    A p99 needs at least 100 values (below that it is one of the two largest); a p90 at least
    10; fewer than 10 give the maximum, named as such.
    """
    if samples >= 100:
        return "p99", 99.0
    if samples >= 10:
        return "p90", 90.0
    return "max", 100.0


def meets(value: float, target: str) -> bool | None:
    """Whether ``value`` meets ``target`` (``">= 0.7"``, ``"<= 1.5"``, ``"< 250"``); None if no target."""
    if not target:
        return None
    op, _, number = target.strip().partition(" ")
    limit = float(number)
    checks = {">=": value >= limit, "<=": value <= limit, "<": value < limit, ">": value > limit}
    if op not in checks:
        raise ValueError(f"unknown comparison in target {target!r}")
    return checks[op]
