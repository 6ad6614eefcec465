"""``python -m bench.startrate [--count N] [--concurrency 32,128] [--side samverkan]
[--polls N] [--tasks N] [--activities N] [--profile FILE] [--memory FILE [--trace]]``: how
fast benchmark 5's workflows start, and (``--memory``) where the worker's memory is once
they wait (`bench.memory`).

Starts the benchmarks' stack, then for each client concurrency a fresh worker (the
production one through `bench.worker_probe`, or the bare one) and ``count`` workflows on
it; prints starts per second, the worker's CPU per start and how busy the machine was.
Used to size benchmark 5 (docs/benchmarks.md); not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psutil

from bench import infra
from bench.cases import CaseBench, MemoryPass


def cpu_by_process() -> dict[str, float]:
    """CPU seconds used so far, summed per process name (this driver is ``driver``)."""
    import os

    totals: dict[str, float] = {}
    for process in psutil.process_iter(["pid", "name", "cmdline", "cpu_times"]):
        times = process.info["cpu_times"]
        if times is None:
            continue
        name = process.info["name"] or "?"
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["pid"] == os.getpid():
            name = "driver"
        elif "worker_probe" in cmdline or "worker.py" in cmdline:
            name = "worker"
        elif "bare_worker" in cmdline:
            name = "bare worker"
        totals[name] = totals.get(name, 0.0) + times.user + times.system
    return totals


async def probe(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="samverkan-startrate-"))
    with infra.postgres_server() as server_dsn:
        async with CaseBench.running(server_dsn, folder) as bench:
            for concurrency in args.concurrency:
                command = ["-m", "bench.worker_probe"]
                if args.polls:
                    command += ["--polls", str(args.polls)]
                if args.tasks:
                    command += ["--tasks", str(args.tasks)]
                if args.activities:
                    command += ["--activities", str(args.activities)]
                if args.profile:
                    command += ["--profile", str(args.profile)]
                memory_args = ["--memory", str(args.memory)] if args.memory else []
                if args.memory and args.trace:
                    memory_args.append("--trace")
                command += memory_args
                memory_pass = await MemoryPass.start(
                    bench,
                    args.side,
                    concurrency=concurrency,
                    command=command,
                    bare_args=memory_args,
                )
                try:
                    busy0, t0 = psutil.cpu_times(), time.perf_counter()
                    by0 = cpu_by_process()
                    reading = await memory_pass.grow_to(args.count, 3)
                    busy1, seconds = psutil.cpu_times(), time.perf_counter() - t0
                    by1 = cpu_by_process()
                    if args.memory:
                        await dump_memory(memory_pass, args.memory)
                finally:
                    memory_pass.stop()
                idle = (busy1.idle - busy0.idle) / seconds / psutil.cpu_count()
                print(
                    f"{args.side} concurrency {concurrency}: {reading.segment_rate:.1f} starts/s, "
                    f"worker {reading.cpu_ms_per_start:.0f} ms CPU/start, machine idle "
                    f"{idle:.0%}, RSS {reading.rss[-1]:.0f} MiB",
                    flush=True,
                )
                used = {k: v - by0.get(k, 0.0) for k, v in by1.items()}
                top = sorted(used.items(), key=lambda kv: -kv[1])[:6]
                print(
                    "  CPU ms per start: "
                    + ", ".join(f"{k} {v / args.count * 1000:.0f}" for k, v in top),
                    flush=True,
                )


async def dump_memory(memory_pass: MemoryPass, path: Path) -> None:
    """Ask a ``--memory`` worker to write its report (`bench.memory`) to ``path``; wait for it."""
    import signal

    path.unlink(missing_ok=True)  # noqa: ASYNC240 - a local file, before anything waits on it
    memory_pass.worker.process.send_signal(signal.SIGUSR1)
    for _ in range(600):
        if await asyncio.to_thread(path.exists):
            print(f"  memory: {path}", flush=True)
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the worker wrote no memory report to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startrate")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--concurrency", default="32")
    parser.add_argument("--side", default="samverkan", choices=["samverkan", "baseline"])
    parser.add_argument("--polls", type=int)
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--activities", type=int, help="the worker's max_concurrent_activities")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--memory", type=Path, help="where the worker's memory report goes")
    parser.add_argument("--trace", action="store_true", help="with --memory: Python objects too")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    asyncio.run(probe(args))


if __name__ == "__main__":
    main()
