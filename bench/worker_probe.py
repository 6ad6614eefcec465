"""``python -m bench.worker_probe [--profile FILE] [--memory FILE [--trace]] [--polls N] [--tasks N]``:
the production worker (``worker.run_worker``, configured by environment like ``python
worker.py``) for measuring it, not for benchmarks' figures.

``--profile`` runs it under cProfile and writes the report to FILE when it stops (SIGTERM):
the event loop's thread and, separately, the workflow activations that the SDK runs in its
thread pool (pyinstrument sees only the main thread, where the activations do not run);
the raw statistics go beside it (FILE.loop.prof, FILE.activations.prof) for `pstats`.
``--memory`` writes `bench.memory.report` to FILE on SIGUSR1: the RSS against what glibc's
heaps and pymalloc hold (``--trace`` adds tracemalloc's live Python allocations by line).
``--polls``/``--tasks`` override ``max_concurrent_workflow_task_polls`` /
``max_concurrent_workflow_tasks`` to see whether the poller settings limit the start rate.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker_probe")
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--memory", type=Path)
    parser.add_argument("--trace", action="store_true", help="with --memory: tracemalloc too")
    parser.add_argument("--polls", type=int)
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--activities", type=int, help="max_concurrent_activities")
    args = parser.parse_args(argv)

    import worker as production

    overrides: dict[str, Any] = {}
    if args.polls:
        overrides["max_concurrent_workflow_task_polls"] = args.polls
        overrides["max_concurrent_activity_task_polls"] = args.polls
    if args.tasks:
        overrides["max_concurrent_workflow_tasks"] = args.tasks
    if args.activities:
        overrides["max_concurrent_activities"] = args.activities
    if overrides:
        from temporalio.worker import Worker

        original = Worker.__init__

        def patched(self: Worker, *a: Any, **kw: Any) -> None:
            original(self, *a, **{**kw, **overrides})

        Worker.__init__ = patched  # type: ignore[method-assign]

    if args.memory is not None:
        from bench.memory import report_on_sigusr1

        report_on_sigusr1(args.memory, trace=args.trace)
    if args.profile is not None:
        profile(args.profile)
    else:
        asyncio.run(production.run_worker())


def profile(path: Path) -> None:
    """Run the worker under cProfile: the loop's thread and the activation threads."""
    import cProfile
    import io
    import pstats
    import threading

    from temporalio.worker.workflow_sandbox import _runner

    import worker as production

    activations: dict[int, cProfile.Profile] = {}
    original = _runner._Instance.activate

    def activate(self: Any, act: Any) -> Any:
        profiler = activations.setdefault(threading.get_ident(), cProfile.Profile())
        profiler.enable()
        try:
            return original(self, act)
        finally:
            profiler.disable()

    _runner._Instance.activate = activate  # type: ignore[method-assign]
    main_thread = cProfile.Profile()
    main_thread.enable()
    try:
        asyncio.run(production.run_worker())
    finally:
        main_thread.disable()
        out = io.StringIO()
        for title, suffix, profilers in (
            ("event loop thread", ".loop.prof", [main_thread]),
            ("workflow activations (thread pool)", ".activations.prof", list(activations.values())),
        ):
            if not profilers:
                continue
            stats = pstats.Stats(profilers[0], stream=out)
            for more in profilers[1:]:
                stats.add(more)
            out.write(f"==== {title}: {stats.total_tt:.1f} s\n")
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(25)
            stats.dump_stats(path.with_name(path.name + suffix))  # for pstats' callers view
        path.write_text(out.getvalue())


if __name__ == "__main__":
    main()
