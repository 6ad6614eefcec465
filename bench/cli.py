"""``python -m bench``: run the benchmarks, write ``bench/results/<date>.json`` and the table
in ``docs/benchmarks.md``.

``--quick`` is a smoke run (size ×1, small counts, 3 repetitions: a minute or two); the full
run does sizes ×1, ×4, ×16 (benchmark 5: 625, 2,500 and 10,000 open cases;
``--memory-largest 2500`` stops it earlier). ``--only 2,4`` picks benchmarks, ``--sizes 1,4``
sizes, ``--reps`` repetitions (at least 3), ``--memory-concurrency`` benchmark 5's starts in
flight, ``--memory-passes`` how many growing passes benchmark 5 makes (one by default: its
repetitions are then RSS samples of that pass, and the table says so). ``--note`` is kept
in the results file and printed above the table (e.g. "shared machine"); the CPU other
processes used during the run is recorded either way (`bench.load`). A run of some
benchmarks or sizes only is written to ``<date>-only-2-6.json`` (``-sizes-1``), never over
a full run's file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path

from bench.load import OtherLoad, postgres_folder
from bench.report import Row, machine_info, update_docs, write_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
ALL = ("2", "3", "1", "4", "6", "5")  # the order they run in
ALL_IN_ORDER = ("1", "2", "3", "4", "5", "6")

#: per benchmark: (unit at size ×1 in a full run, unit in a quick run)
UNITS = {
    "1": (2, 2),  # complete cases per repetition
    "2": (25, 10),  # transactions per writer
    "3": (25, 10),  # transactions per writer, with the projector following
    "4": (5, 3),  # histories replayed per repetition
    "5": (625, 50),  # open cases (×16 = 10,000)
    "6": (8, 5),  # answers per side per repetition (p99 from 100 on, see stats.tail_statistic)
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: size ×1, small counts")
    parser.add_argument("--only", default="", help="comma-separated benchmark numbers (1-6)")
    parser.add_argument("--sizes", default="", help="comma-separated multipliers (default 1,4,16)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per side (>= 3)")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument(
        "--memory-largest",
        type=int,
        default=None,
        help="benchmark 5 stops at this many open cases (default: every size, 10,000 at ×16)",
    )
    parser.add_argument(
        "--memory-concurrency",
        type=int,
        default=None,
        help="benchmark 5's workflow starts in flight at once",
    )
    parser.add_argument(
        "--memory-passes",
        type=int,
        default=1,
        help="benchmark 5's growing passes per side (1: its repetitions are RSS samples of one"
        " pass; each further pass costs about as long as the first)",
    )
    parser.add_argument(
        "--note",
        default="",
        help="kept in the results file and printed above the table, e.g. 'shared machine'",
    )
    args = parser.parse_args(argv)
    if args.reps < 3:
        parser.error("--reps must be at least 3: a median of fewer says little")
    if args.memory_passes < 1:
        parser.error("--memory-passes must be at least 1")
    args.only = [b.strip() for b in args.only.split(",") if b.strip()] or list(ALL)
    unknown = set(args.only) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    default_sizes = "1" if args.quick else "1,4,16"
    multipliers = [m.strip() for m in (args.sizes or default_sizes).split(",") if m.strip()]
    args.sizes = [(f"×{m}", int(m)) for m in multipliers]
    args.partial = set(args.only) != set(ALL) or multipliers != default_sizes.split(",")
    return args


def results_stem(args: argparse.Namespace, day: str) -> str:
    """The results file's name without ``.json``: the day, ``-quick`` for a smoke run, and
    ``-only-…`` / ``-sizes-…`` when benchmarks or sizes were picked, so that a partial run
    never replaces the full run of the same day."""
    stem = day + ("-quick" if args.quick else "")
    if set(args.only) != set(ALL):
        stem += "-only-" + "-".join(b for b in ALL_IN_ORDER if b in args.only)
    default_sizes = ["×1"] if args.quick else ["×1", "×4", "×16"]
    labels = [label for label, _ in args.sizes]
    if labels != default_sizes:
        stem += "-sizes-" + "-".join(label.lstrip("×") for label in labels)
    return stem


def versions() -> dict[str, str]:
    found = {}
    for name in ("temporalio", "asyncpg", "eventsourcing", "pydantic", "uvicorn", "pgserver"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


async def run(
    args: argparse.Namespace,
    load: OtherLoad | None = None,
    rows: list[Row] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[list[Row], dict[str, float]]:
    """Run the chosen benchmarks; their rows and seconds. ``rows`` and ``timings``, when
    given, are filled as each benchmark finishes, so a later failure keeps the earlier ones."""
    from bench import infra
    from infra.logging import configure_logging

    configure_logging(
        log_format="console", level="WARNING"
    )  # the simulator and gateway log per call
    mode = "quick" if args.quick else "full"
    unit = {b: UNITS[b][1 if args.quick else 0] for b in UNITS}
    rows = [] if rows is None else rows
    timings = {} if timings is None else timings
    folder = Path(tempfile.mkdtemp(prefix="samverkan-bench-"))
    with infra.postgres_server() as server_dsn:
        if load is not None and (pg_folder := postgres_folder(server_dsn)):
            load.markers.append(pg_folder)  # the run's own PostgreSQL is not "other" load
        if {"2", "3"} & set(args.only):
            from bench import append

            dsn = await infra.fresh_database(server_dsn)
            if "2" in args.only:
                print("bench 2: event store appends", flush=True)
                t0 = time.perf_counter()
                rows += await append.bench_append(
                    dsn, sizes=args.sizes, reps=args.reps, unit_transactions=unit["2"]
                )
                timings["2"] = time.perf_counter() - t0
            if "3" in args.only:
                print("bench 3: projection lag", flush=True)
                t0 = time.perf_counter()
                rows += await append.bench_projection_lag(
                    dsn, sizes=args.sizes, reps=args.reps, unit_transactions=unit["3"]
                )
                timings["3"] = time.perf_counter() - t0
        temporal_benches = [b for b in args.only if b in {"1", "4", "5", "6"}]
        if temporal_benches:
            from bench import cases

            t0 = time.perf_counter()
            async with cases.CaseBench.running(server_dsn, folder) as bench:
                timings["setup"] = time.perf_counter() - t0
                for number in temporal_benches:
                    t0 = time.perf_counter()
                    extra = {}
                    if number == "5":
                        extra["largest"] = args.memory_largest
                        extra["passes"] = args.memory_passes
                        if args.memory_concurrency:
                            extra["concurrency"] = args.memory_concurrency
                    rows += await bench.run(
                        number,
                        sizes=args.sizes,
                        reps=args.reps,
                        unit=unit[number],
                        mode=mode,
                        **extra,
                    )
                    timings[number] = time.perf_counter() - t0
    return rows, timings


def checkout() -> dict[str, object]:
    """The commit the run measured and the tracked files that differed from it (a shared
    checkout may hold other people's uncommitted changes to the code under test)."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args],  # noqa: S607 - git from PATH, fixed arguments
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    modified = [line for line in git("diff", "--name-only", "HEAD").splitlines() if line]
    return {"commit": commit, "modified": modified}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    code = checkout()
    started = datetime.now().astimezone()
    t0 = time.perf_counter()
    others = OtherLoad().start()
    rows: list[Row] = []
    timings: dict[str, float] = {}
    failure: BaseException | None = None
    try:
        asyncio.run(run(args, others, rows, timings))
    except Exception as exc:  # keep what finished before it; raised again below
        failure = exc
    finally:
        other_cpu = others.stop()
    order = {b: i for i, b in enumerate("123456")}
    rows.sort(key=lambda r: order[r.bench])
    mode = "quick" if args.quick else "full"
    conditions: dict[str, object] = {}
    if failure is not None:
        conditions["failed"] = f"{type(failure).__name__}: {failure}"[:500]
    if other_cpu:
        conditions["other_processes_cpu"] = other_cpu
    if code:
        conditions["checkout"] = code
        if (after := checkout()) != code:
            conditions["checkout_at_end"] = after
    if args.note:
        conditions["note"] = args.note
    if args.partial:
        conditions["partial"] = {
            "benchmarks": [b for b in ALL_IN_ORDER if b in args.only],
            "sizes": [label for label, _ in args.sizes],
        }
    path = write_results(
        rows,
        machine=machine_info(versions()),
        started=started,
        seconds=time.perf_counter() - t0,
        mode=mode,
        results_dir=args.results_dir,
        timings=timings,
        conditions=conditions,
        stem=results_stem(args, started.strftime("%Y-%m-%d"))
        + ("-incomplete" if failure is not None else ""),
    )
    print(f"results: {path}")
    if failure is not None:
        print(f"the run failed after {len(rows)} rows; docs left alone", file=sys.stderr)
        raise failure
    if not args.no_docs:
        update_docs(DOCS, path)
        print(f"table: {DOCS}")
    missed = [r for r in rows if r.met is False]
    for r in missed:
        print(
            f"  target missed: bench {r.bench} {r.what} {r.size}: "
            f"{r.figure.median:.2f} vs {r.target}",
            file=sys.stderr,
        )
