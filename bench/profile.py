"""``python -m bench.profile [BATCH]``: benchmark 2's Samverkan side (8 writers, BATCH
events/txn, default 10) under pyinstrument, printed as text: where an append's Python
time goes. ``python -m bench.profile projector [BATCH_SIZE]``: benchmark 3's projector
catching up a backlog of benchmark 2's events in batches of BATCH_SIZE (default 100, its
live batch size), under pyinstrument: how many events per second it projects and where the
time goes.

``python -m bench.profile replay [COUNT]``: benchmark 4, a recorded case history and a
recorded bare history replayed COUNT times each (default 20) under cProfile, activations
(which the SDK runs in a thread pool) included: where a replay's time goes on each side.
``python -m bench.profile replay COUNT FILE`` also writes the raw pstats to
``FILE.<side>.<loop|activations>.prof`` (for ``pstats``' callers and callees views).

Needs ``pyinstrument`` (a dev extra); PostgreSQL is the embedded pgserver as in the run.
For the worker (benchmarks 1 and 5) see `bench.worker_probe` and `bench.startrate`.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench import append, infra


async def profile(batch: int, transactions: int) -> str:
    from pyinstrument import Profiler

    with infra.postgres_server() as server:
        dsn = await infra.fresh_database(server)
        import asyncpg

        pool = await asyncpg.create_pool(dsn, min_size=append.WRITERS, max_size=append.WRITERS)
        try:
            await append.run_store(pool, append._work(5, batch, "warm"))
            work = append._work(transactions, batch, "prof")
            profiler = Profiler(async_mode="disabled", interval=0.0005)
            profiler.start()
            seconds = (await append.run_store(pool, work)).seconds
            profiler.stop()
            events = transactions * append.WRITERS * batch
            header = f"{events} events in {seconds:.2f} s = {events / seconds:,.0f} ev/s\n"
            return header + profiler.output_text(unicode=True, show_all=False)
        finally:
            await pool.close()


async def profile_projector(batch_size: int, transactions: int) -> str:
    from pyinstrument import Profiler

    from eventstore import Projector
    from eventstore.projections import default_projections

    with infra.postgres_server() as server:
        dsn = await infra.fresh_database(server)
        import asyncpg

        pool = await asyncpg.create_pool(dsn, min_size=append.WRITERS, max_size=append.WRITERS)
        try:
            await append.run_store(pool, append._work(transactions, 10, "backlog"))
            events = transactions * append.WRITERS * 10
            projector = Projector(pool, default_projections(), batch_size=batch_size)
            profiler = Profiler(async_mode="disabled", interval=0.0005)
            profiler.start()
            t0 = time.perf_counter()
            projected = await projector.catch_up()
            seconds = time.perf_counter() - t0
            profiler.stop()
            header = (
                f"{events} events appended; catch_up returned {projected} in {seconds:.2f} s"
                f" = {events / seconds:,.0f} ev/s (batches of {batch_size})\n"
            )
            return header + profiler.output_text(unicode=True, show_all=False)
        finally:
            await pool.close()


async def profile_replay(count: int, dump: str | None = None) -> str:
    import cProfile
    import io
    import pstats
    import tempfile
    import threading
    from pathlib import Path
    from typing import Any

    from temporalio.worker.workflow_sandbox import _runner

    from bench.cases import CaseBench

    profilers: dict[int, cProfile.Profile] = {}
    original = _runner._Instance.activate

    def activate(self: Any, act: Any) -> Any:
        profiler = profilers.setdefault(threading.get_ident(), cProfile.Profile())
        profiler.enable()
        try:
            return original(self, act)
        finally:
            profiler.disable()

    out = io.StringIO()
    with infra.postgres_server() as server:
        folder = Path(tempfile.mkdtemp(prefix="samverkan-profile-"))
        async with CaseBench.running(server, folder) as bench:
            assert bench.samverkan_history is not None and bench.bare_replay_history is not None
            sides = {
                "samverkan": (bench.samverkan_replayer(), bench.samverkan_history),
                "baseline": (bench.bare_replayer(), bench.bare_replay_history),
            }
            for side, (engine, history) in sides.items():
                await engine.replay_workflow(history)  # warm the sandbox
                profilers.clear()
                loop_thread = cProfile.Profile()
                _runner._Instance.activate = activate  # type: ignore[method-assign]
                t0 = time.perf_counter()
                loop_thread.enable()
                for _ in range(count):
                    await engine.replay_workflow(history)
                loop_thread.disable()
                seconds = time.perf_counter() - t0
                _runner._Instance.activate = original  # type: ignore[method-assign]
                out.write(
                    f"#### {side}: {count} histories of {len(history.events)} events in "
                    f"{seconds:.2f} s = {count / seconds:.1f} hist/s\n"
                )
                for title, group in (
                    ("event loop thread", [loop_thread]),
                    ("activations (thread pool)", list(profilers.values())),
                ):
                    if not group:
                        continue
                    stats = pstats.Stats(group[0], stream=out)
                    for more in group[1:]:
                        stats.add(more)
                    out.write(f"==== {side}, {title}: {stats.total_tt:.2f} s\n")
                    if dump:
                        name = "loop" if title.startswith("event") else "activations"
                        stats.dump_stats(f"{dump}.{side}.{name}.prof")
                    stats.sort_stats("cumulative").print_stats(30)
                    stats.sort_stats("tottime").print_stats(15)
    return out.getvalue()


if __name__ == "__main__":
    if sys.argv[1:2] == ["replay"]:
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 20
        print(asyncio.run(profile_replay(count, sys.argv[3] if len(sys.argv) > 3 else None)))
    elif sys.argv[1:2] == ["projector"]:
        size = int(sys.argv[2]) if len(sys.argv) > 2 else 100
        print(asyncio.run(profile_projector(size, 200)))
    else:
        batch = int(sys.argv[1]) if len(sys.argv) > 1 else 10
        print(asyncio.run(profile(batch, 150)))
