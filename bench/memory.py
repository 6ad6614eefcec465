"""Where a worker process's memory is: RSS against what the allocators hold.

Used by the worker probes (`bench.worker_probe` and `bench.bare_worker` with ``--memory``)
to explain benchmark 5's RSS: a report on SIGUSR1 with the process's RSS, glibc's heaps
(``mallinfo2``: in use against free inside them), pymalloc's arenas, optionally the live
Python allocations by line (tracemalloc, ``trace=True``: slow, and its own bookkeeping adds
to the RSS; the whole snapshot goes to ``<report>.snap``), and the RSS again after ``malloc_trim(0)`` has handed free heap pages back.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import psutil


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _libc() -> Any:
    return ctypes.CDLL("libc.so.6")


def _rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def glibc_line() -> str:
    """glibc's heaps, all arenas: size, bytes in use, bytes free inside them; mmapped."""
    try:
        mallinfo2 = _libc().mallinfo2
    except (OSError, AttributeError):
        return "glibc malloc: mallinfo2 not available"
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (
        f"glibc malloc: heaps {info.arena / 2**20:.1f} MiB (in use {info.uordblks / 2**20:.1f},"
        f" free {info.fordblks / 2**20:.1f}), mmapped chunks {info.hblkhd / 2**20:.1f} MiB"
    )


def pymalloc_lines() -> list[str]:
    """pymalloc's arena summary (`sys._debugmallocstats`, which writes to the C stderr)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    wanted = ("# arenas allocated current", "# bytes in allocated blocks", "# bytes in available")
    return [
        "pymalloc " + " ".join(line.split())
        for line in text.splitlines()
        if line.startswith(wanted)
    ]


def proto_lines(top: int = 12) -> list[str]:
    """Live protobuf messages by type, and what holds the most common ones (a message keeps
    its whole upb arena, e.g. a whole workflow activation, alive)."""
    from collections import Counter

    from google.protobuf.message import Message

    messages = [o for o in gc.get_objects() if isinstance(o, Message)]
    by_type = Counter(type(m).__name__ for m in messages)
    lines = [f"==== live protobuf messages: {len(messages)}"]
    for name, count in by_type.most_common(top):
        holders: Counter[str] = Counter()
        sample = [m for m in messages if type(m).__name__ == name][:200]
        for message in sample:
            for ref in gc.get_referrers(message):
                if ref is messages or ref is sample:
                    continue
                holder = type(ref).__name__
                if isinstance(ref, dict):
                    owners = [type(o).__name__ for o in gc.get_referrers(ref) if o is not ref]
                    holder = "dict of " + ",".join(sorted(set(owners))[:3])
                holders[holder] += 1
        lines.append(f"{count:8d} {name}  held by {dict(holders.most_common(3))}")
    return lines


def type_lines(top: int = 40) -> list[str]:
    """Live objects the garbage collector tracks, counted by type (module.name)."""
    from collections import Counter

    counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
    return ["==== live objects by type"] + [f"{n:9d} {name}" for name, n in counts.most_common(top)]


def report(*, trace: bool, snapshot_to: Path | None = None) -> str:
    """The memory report (module docstring); with ``trace``, tracemalloc's snapshot is also
    dumped to ``snapshot_to`` (for `tracemalloc.Snapshot.load` and ``compare_to``)."""
    gc.collect()
    lines = [f"RSS {_rss_mib():.1f} MiB", glibc_line(), *pymalloc_lines()]
    if trace:
        lines += proto_lines()
        lines += type_lines()
    if trace and tracemalloc.is_tracing():
        traced, _ = tracemalloc.get_traced_memory()
        snapshot = tracemalloc.take_snapshot()
        if snapshot_to is not None:
            snapshot.dump(str(snapshot_to))
        lines.append(f"==== live Python allocations: {traced / 2**20:.1f} MiB, by line")
        for stat in snapshot.statistics("lineno")[:40]:
            lines.append(f"{stat.size / 2**10:10.0f} KiB {stat.count:9d} blocks  {stat.traceback}")
    try:
        _libc().malloc_trim(0)
        lines.append(f"RSS after malloc_trim(0): {_rss_mib():.1f} MiB; {glibc_line()}")
    except (OSError, AttributeError):
        pass
    return "\n".join(lines) + "\n"


def report_on_sigusr1(path: Path, *, trace: bool = False) -> None:
    """Write `report` to ``path`` whenever the process gets SIGUSR1 (``trace``: tracemalloc on)."""
    if trace:
        tracemalloc.start(8)

    def write(signum: int, frame: Any) -> None:
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(report(trace=trace, snapshot_to=path.with_name(path.name + ".snap")))
        partial.replace(path)  # whoever waits for ``path`` sees it whole

    signal.signal(signal.SIGUSR1, write)
