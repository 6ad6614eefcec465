"""``python -m bench.profile``: benchmark 2's Samverkan side (8 writers, 10 events/txn)
under pyinstrument, printed as text: where an append's Python time goes.

Needs ``pyinstrument`` (a dev extra); PostgreSQL is the embedded pgserver as in the run.
"""

from __future__ import annotations

import asyncio
import sys

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
            seconds = await append.run_store(pool, work)
            profiler.stop()
            events = transactions * append.WRITERS * batch
            header = f"{events} events in {seconds:.2f} s = {events / seconds:,.0f} ev/s\n"
            return header + profiler.output_text(unicode=True, show_all=False)
        finally:
            await pool.close()


if __name__ == "__main__":
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    print(asyncio.run(profile(batch, 150)))
