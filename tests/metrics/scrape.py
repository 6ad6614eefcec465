"""Reading a Prometheus text exposition into samples, and finding a free loopback port."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

import httpx

_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def free_loopback_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def scrape(bind_address: str) -> list[Sample]:
    text = httpx.get(f"http://{bind_address}/metrics", timeout=5).text
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        labels = dict(_LABEL.findall(match["labels"] or ""))
        samples.append(Sample(match["name"], labels, float(match["value"])))
    return samples


def series(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [
        s
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def base_names(samples: list[Sample]) -> set[str]:
    """Metric names with the histogram suffixes folded back to the histogram's name."""
    return {re.sub(r"_(bucket|sum|count)$", "", s.name) for s in samples} | {
        s.name for s in samples
    }
