"""What else the machine was doing during a run: CPU used by processes that are not the run's.

The benchmarks share the machine with whatever else runs on it (other test suites, on a
shared development machine). `OtherLoad` samples, every ``interval`` seconds, the CPU time
of every process that is neither this process, one of its descendants (the dev server, the
workers) nor the run's PostgreSQL (the postmaster whose command line names the run's data
folder, and its backends), and keeps it in cores (1.0 = one core busy). The figures go into
the results file (``conditions``) and the line above the table.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psutil


def postgres_folder(dsn: str) -> str | None:
    """The socket folder an embedded pgserver's DSN names (``?host=/tmp/...``), if any."""
    hosts = parse_qs(urlsplit(dsn).query).get("host", [])
    return hosts[0] if hosts and hosts[0].startswith("/") else None


class OtherLoad:
    """Samples the CPU of processes outside the run in a background thread."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self.markers: list[str] = []  # command-line fragments of processes that are the run's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="other-load", daemon=True)
        self._seen: dict[int, tuple[psutil.Process, float]] = {}
        self._at = 0.0

    def start(self) -> OtherLoad:
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Stop sampling; the summary (median and max cores, sample count)."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        if not self.samples:
            return {}
        return {
            "median_cores": round(statistics.median(self.samples), 2),
            "max_cores": round(max(self.samples), 2),
            "samples": len(self.samples),
            "interval_s": self.interval,
        }

    def _ours(self) -> set[int]:
        me = psutil.Process(os.getpid())
        ours = {me.pid}
        roots = [me]
        if self.markers:
            for proc in psutil.process_iter(["cmdline"]):
                cmdline = " ".join(proc.info.get("cmdline") or [])
                if any(m in cmdline for m in self.markers):
                    roots.append(proc)
        for root in roots:
            ours.add(root.pid)
            with contextlib.suppress(psutil.Error):
                ours.update(child.pid for child in root.children(recursive=True))
        return ours

    def _cpu_seconds(self) -> dict[int, tuple[psutil.Process, float]]:
        found = {}
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                found[proc.pid] = (proc, times.user + times.system)
        return found

    def sample(self) -> float | None:
        """One sample: cores used by other processes since the last call (None the first time)."""
        now = time.monotonic()
        current = self._cpu_seconds()
        ours = self._ours()
        previous, self._seen = self._seen, current
        elapsed, self._at = now - self._at, now
        if not previous or elapsed <= 0:
            return None
        used = 0.0
        for pid, (proc, seconds) in current.items():
            if pid in ours:
                continue
            before = previous.get(pid)
            # a process new since the last sample counts from zero, the same process only
            # (a reused pid is another process, with another creation time)
            if before is not None and before[0] == proc:
                used += max(0.0, seconds - before[1])
            elif before is None:
                used += seconds if _born_after(proc, self._at - elapsed) else 0.0
        return used / elapsed

    def _loop(self) -> None:
        self.sample()
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                value = self.sample()
                if value is not None:
                    self.samples.append(round(value, 3))


def _born_after(proc: psutil.Process, since_monotonic: float) -> bool:
    """Whether ``proc`` started after the previous sample (its CPU time is all new)."""
    try:
        created = proc.create_time()
    except psutil.Error:
        return False
    return created >= time.time() - (time.monotonic() - since_monotonic)
