"""Projections: rows folded through `cases.apply`, checkpointed, rebuilt row for row, live."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from eventstore import PostgresEventStore, ProjectionError, Projector, UnknownProjection
from tests.eventstore.case_streams import T0, answered, breached_and_closed, busy_case, envelopes
from tests.eventstore.store_testkit import new_case_id

MIGRATION_0009 = (
    Path(__file__).resolve().parents[2]
    / "eventstore/migrations/0009_open_consultations_delivered.sql"
).read_text()

TABLES = {
    "case_summary": "case_id",
    "open_consultations": "case_id, consultation_id",
    "deadlines": "case_id, key",
    "disclosures": "position",
    "board_cases": "case_id",
    "board_deadlines": "case_id, key",
    "board_consultations": "case_id, consultation_id",
}


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    return {
        table: [dict(r) for r in await pool.fetch(f"SELECT * FROM {table} ORDER BY {key}")]
        for table, key in TABLES.items()
    }


def calls_recorder(calls: list[tuple[int, int]]) -> Any:
    return lambda done, total: calls.append((done, total))


async def record(store: PostgresEventStore, case_id: str, events: list[Any]) -> None:
    version = await store.case_version(case_id)
    await store.append(case_id, version, envelopes(case_id, events, after=version))


async def test_catching_up_folds_every_case_into_the_read_models(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    busy, closed = new_case_id(), new_case_id()
    await record(store, busy, busy_case(busy))
    await record(store, closed, breached_and_closed(closed))

    processed = await Projector(pool).catch_up()

    assert processed == 5 * (9 + 4)
    summary = {r["case_id"]: r for r in await pool.fetch("SELECT * FROM case_summary")}
    assert summary[busy]["state"] == "pre_assessment"
    assert summary[busy]["municipality"] == "Malmö"
    assert summary[busy]["next_deadline_key"] == f"consultation:case-{busy}:consultation-1"
    assert summary[busy]["open_consultations"] == 1
    assert summary[busy]["escalations_raised"] == 1
    assert summary[busy]["version"] == 9
    assert summary[busy]["overdue_count"] == 0
    assert summary[closed]["state"] == "closed"
    consultations = await pool.fetch("SELECT * FROM open_consultations WHERE case_id = $1", busy)
    assert [(r["agency"], r["status"], r["due"]) for r in consultations] == [
        ("police", "requested", T0 + timedelta(days=8))
    ]
    deadlines = {(r["case_id"], r["key"]): r for r in await pool.fetch("SELECT * FROM deadlines")}
    assert deadlines[(busy, "protection_assessment")]["status"] == "met"
    assert deadlines[(busy, "pre_assessment")]["escalation_rungs"] == [0]
    assert deadlines[(closed, "pre_assessment")]["status"] == "breached"
    (disclosure,) = await pool.fetch("SELECT * FROM disclosures WHERE case_id = $1", busy)
    assert disclosure["recipient"] == "police"
    assert disclosure["legal_basis"] == "osl_10_18a"
    assert disclosure["harm_result"] == "no_harm"
    assert disclosure["fields"] == ["subject.name", "subject.personal_identity_number"]
    assert "No harm to the child" not in str(dict(disclosure))


async def test_projection_rows_hold_no_personal_data(pool: asyncpg.Pool) -> None:
    # A case of its own, with personal data in its report, consultation and disclosure,
    # projected into every read model before they are scanned (whichever tests ran before).
    case_id = new_case_id()
    await record(PostgresEventStore(pool), case_id, busy_case(case_id))
    await Projector(pool).catch_up()

    tables = await snapshot(pool)

    for table in TABLES:
        assert [r for r in tables[table] if r["case_id"] == case_id], f"no {table} row"
    rows = str(tables)
    for personal in (
        "20120315-0004",
        "Exempelsson",
        "propaganda in class",
        "Known to police",
        "No harm to the child",
    ):
        assert personal not in rows


async def test_an_open_consultation_says_when_the_agencys_system_accepted_it(
    pool: asyncpg.Pool,
) -> None:
    from cases import Agency, ConsultationDelivered

    store = PostgresEventStore(pool)
    case_id = new_case_id()
    await record(store, case_id, busy_case(case_id))
    projector = Projector(pool)
    await projector.catch_up()
    consultation_id = f"case-{case_id}:consultation-1"
    before = await pool.fetchval(
        "SELECT delivered_at FROM open_consultations WHERE consultation_id = $1", consultation_id
    )
    accepted = T0 + timedelta(minutes=3)
    delivered = ConsultationDelivered(
        consultation_id=consultation_id, agency=Agency.POLICE, delivered_at=accepted, at=accepted
    )
    await record(store, case_id, [delivered])
    await projector.catch_up()

    row = await pool.fetchrow(
        "SELECT status, delivered_at FROM open_consultations WHERE consultation_id = $1",
        consultation_id,
    )
    assert before is None
    assert (row["status"], row["delivered_at"]) == ("requested", accepted)


async def test_migration_0009_fills_delivered_at_of_rows_projected_before_it(
    pool: asyncpg.Pool,
) -> None:
    from cases import Agency, ConsultationDelivered

    store = PostgresEventStore(pool)
    case_id = new_case_id()
    await record(store, case_id, busy_case(case_id))
    consultation_id = f"case-{case_id}:consultation-1"
    accepted = T0 + timedelta(minutes=3)
    await record(
        store,
        case_id,
        [
            ConsultationDelivered(
                consultation_id=consultation_id,
                agency=Agency.POLICE,
                delivered_at=accepted,
                at=accepted,
            )
        ],
    )
    await Projector(pool).catch_up()
    # as a row projected before the column existed
    await pool.execute(
        "UPDATE open_consultations SET delivered_at = NULL WHERE case_id = $1", case_id
    )
    await pool.execute(MIGRATION_0009)

    assert (
        await pool.fetchval(
            "SELECT delivered_at FROM open_consultations WHERE consultation_id = $1",
            consultation_id,
        )
        == accepted
    )


async def test_an_answered_consultation_leaves_the_open_consultations(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    case_id = new_case_id()
    await record(store, case_id, busy_case(case_id))
    projector = Projector(pool)
    await projector.catch_up()
    await record(store, case_id, answered(case_id))

    assert await projector.catch_up() == 5

    assert await pool.fetch("SELECT * FROM open_consultations WHERE case_id = $1", case_id) == []
    row = await pool.fetchrow("SELECT * FROM case_summary WHERE case_id = $1", case_id)
    assert (row["open_consultations"], row["version"]) == (0, 10)


async def test_status_shows_each_projections_checkpoint_and_lag(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    projector = Projector(pool)
    await projector.catch_up()
    case_id = new_case_id()
    await record(store, case_id, breached_and_closed(case_id))

    before = await projector.status()
    await projector.catch_up()
    after = await projector.status()

    assert [s.name for s in before] == [
        "case_summary", "open_consultations", "deadlines", "disclosures", "board",
    ]  # fmt: skip
    assert all(s.lag == 4 for s in before)
    head = await store.last_position()
    assert all(s.lag == 0 and s.position == head for s in after)


async def test_a_rebuilt_projection_equals_the_live_one_row_for_row(pool: asyncpg.Pool) -> None:
    projector = Projector(pool, batch_size=7)
    await projector.catch_up()
    live = await snapshot(pool)
    assert all(live.values())
    total = await pool.fetchval("SELECT count(*) FROM events")

    for name in projector.names:
        calls: list[tuple[int, int]] = []
        replayed = await Projector(pool, batch_size=5).rebuild(name, calls_recorder(calls))
        assert replayed == total
        assert calls[0] == (0, total)
        assert calls[-1] == (total, total)

    assert await snapshot(pool) == live
    assert all(s.lag == 0 for s in await projector.status())


async def test_concurrent_projectors_process_each_event_once(pool: asyncpg.Pool) -> None:
    store = PostgresEventStore(pool)
    for _ in range(3):
        case_id = new_case_id()
        await record(store, case_id, busy_case(case_id))

    await asyncio.gather(*(Projector(pool, batch_size=4).catch_up() for _ in range(3)))

    disclosures = await pool.fetchval("SELECT count(*) FROM disclosures")
    assert disclosures == await pool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'DisclosureRecorded'"
    )
    assert all(s.lag == 0 for s in await Projector(pool).status())


async def test_rebuilding_an_unknown_projection_is_refused(pool: asyncpg.Pool) -> None:
    with pytest.raises(UnknownProjection, match="known: case_summary"):
        await Projector(pool).rebuild("no_such_projection")


@pytest.mark.parametrize("channel", ["samverkan_events", None], ids=["notify", "polling"])
async def test_the_projector_follows_new_events_live(
    pool: asyncpg.Pool, channel: str | None
) -> None:
    store = PostgresEventStore(pool)
    interval = 30.0 if channel else 0.1  # with NOTIFY, only the notification can wake it in time
    projector = Projector(pool, poll_interval=interval, channel=channel)
    stop = asyncio.Event()
    running = asyncio.create_task(projector.run(stop))
    await asyncio.sleep(0.2)
    case_id = new_case_id()
    await record(store, case_id, breached_and_closed(case_id))

    async def projected() -> None:
        while (  # noqa: ASYNC110 - polling the read model is what the test observes
            await pool.fetchval("SELECT version FROM case_summary WHERE case_id = $1", case_id) != 4
        ):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(projected(), timeout=5)
    stop.set()
    await asyncio.wait_for(running, timeout=5)


async def test_an_unreadable_event_stops_the_projection_at_its_position(pool: asyncpg.Pool) -> None:
    # Last in this module: the row written here stays unreadable for every later projector.
    projector = Projector(pool)
    await projector.catch_up()
    position = await pool.fetchval(
        "INSERT INTO events (event_id, case_id, version, type, schema_version, occurred_at, actor,"
        " data) VALUES (gen_random_uuid(), 'x-1', 1, 'FromTheFuture', 1, now(), 'a', '{}')"
        " RETURNING position"
    )

    with pytest.raises(ProjectionError, match=f"position {position}"):
        await projector.catch_up()

    assert all(s.lag == 1 for s in await projector.status())
