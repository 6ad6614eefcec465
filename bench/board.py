"""The coordinator board at scale: ``python -m bench.board [--closed N] [--open N]``.

Fills the ``board`` read models with 100,000 closed and 10,000 open cases (two
municipalities; COPY into the tables, as the projector would have left them: each open case
with its step deadline pending, some overdue, a third waiting for a police answer, a tenth
escalated), then times one municipality's board page (the five panel queries and the HTML)
against one plain ``SELECT`` of the same pending-deadline rows, and prints the ratio. Not
part of ``make test``. Needs a PostgreSQL (``DATABASE_URL``, else an embedded one).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.infra import fresh_database, postgres_server
from samverkan.board.pages import board_page
from samverkan.board.queries import read_board

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
MUNICIPALITIES = ("Malmö", "Lund")
PLAIN = (
    "SELECT case_number, name, legal_latest FROM board_deadlines "
    "WHERE municipality = $1 AND pending"
)


def _rows(closed: int, open_: int) -> tuple[list[tuple[object, ...]], ...]:
    cases, deadlines, consultations = [], [], []
    for i in range(closed + open_):
        is_open = i >= closed
        number = f"B-{i:07d}"
        municipality = MUNICIPALITIES[i % 2]
        received = NOW - timedelta(days=(i % 700) + (0 if is_open else 60), hours=i % 24)
        state = ("pre_assessment", "investigation", "protection_assessment")[i % 3]
        cases.append(
            (
                number,
                number,
                municipality,
                state if is_open else "closed",
                False,
                received,
                None if is_open else received + timedelta(days=50),
            )
        )
        for k, (kind, name, days) in enumerate(
            (
                ("protection_assessment", "Protection assessment", 0),
                ("pre_assessment", "Pre-assessment", 14),
                ("investigation", "Investigation", 120),
            )
        ):
            last = received + timedelta(days=days)
            pending = is_open and k == 1 + i % 2
            met = None if pending else received + timedelta(days=days * 0.8)
            rungs = [0, 1] if pending and i % 10 == 0 else []
            deadlines.append(
                (
                    number,
                    kind,
                    number,
                    municipality,
                    kind,
                    name,
                    received,
                    last,
                    "open" if pending else "met",
                    met,
                    pending,
                    False,
                    False,
                    rungs,
                    "SoL (2025:400) 20 kap. 2 §",
                )
            )
        requested = received + timedelta(days=1)
        waiting = is_open and i % 3 == 0
        consultations.append(
            (
                number,
                f"case-{number}:consultation-1",
                number,
                municipality,
                "police",
                "requested" if waiting else "answered",
                requested,
                None if waiting else requested + timedelta(days=i % 9 + 1),
            )
        )
    return cases, deadlines, consultations


async def _fill(pool: asyncpg.Pool, closed: int, open_: int) -> None:
    cases, deadlines, consultations = _rows(closed, open_)
    async with pool.acquire() as conn:
        await conn.copy_records_to_table("board_cases", records=cases)
        await conn.copy_records_to_table("board_deadlines", records=deadlines)
        await conn.copy_records_to_table("board_consultations", records=consultations)
        await conn.execute(
            "ANALYZE board_cases; ANALYZE board_deadlines; ANALYZE board_consultations"
        )


async def _time(work: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await work()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def run(closed: int, open_: int, runs: int) -> dict[str, float]:
    """Fill, then time the page and the plain select (medians in ms) and their ratio."""
    with postgres_server() as server:
        dsn = await fresh_database(server)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            began = time.perf_counter()
            await _fill(pool, closed, open_)
            filled = time.perf_counter() - began

            async def page() -> None:
                board = await read_board(pool, "Malmö", NOW)
                board_page(board, "http://ui", "samverkan-malmo")

            async def plain() -> None:
                await pool.fetch(PLAIN, "Malmö")

            await page()
            await plain()
            page_s, plain_s = await _time(page, runs), await _time(plain, runs)
            shown = len(await pool.fetch(PLAIN, "Malmö"))
        finally:
            await pool.close()
    return {
        "fill_s": round(filled, 1),
        "rows_selected": shown,
        "page_ms": round(page_s * 1000, 2),
        "plain_select_ms": round(plain_s * 1000, 2),
        "ratio": round(page_s / plain_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--closed", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=10_000, dest="open_")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(run(args.closed, args.open_, args.runs))
    for key, value in result.items():
        print(f"{key:16} {value}")


if __name__ == "__main__":
    main()
