"""The retention step (``samverkan keys purge-due``) against a real PostgreSQL.

Cases are written through the encrypting store exactly as the worker writes them; the step
must shred the keys of closed cases whose purge date has passed and nothing else.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import typer
from typer.testing import CliRunner, Result

import cases
from cases import Policy
from eventstore import PostgresEventStore, migrate
from eventstore.encrypted import REDACTED, EncryptingEventStore, PostgresPersonalDataVault
from infra.keys import CaseKeys, MasterKeys, PostgresDataKeyStore, case_scope
from infra.settings import get_settings
from samverkan.commands.gateway import register
from samverkan.retention import PurgeReport, Verdict, purge_due
from tests.cases.case_builders import STHLM, Case
from tests.eventstore.case_streams import envelopes

NAME = "Retention Testsson"
PIN = "20120316-1234"
STANDARD_SUBJECT = {"personal_identity_number": PIN, "name": NAME, "birth_date": "2012-03-16"}
MASTER = MasterKeys.generate_entry("ret1")
# Closed on 2026-03-02: five years end 2031-03-02, purge date 2032-12-31.
FIRST_DUE = date(2032, 12, 31)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url)
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    try:
        yield created
    finally:
        await created.close()


def _keys(pool: asyncpg.Pool, entry: str = MASTER) -> CaseKeys:
    return CaseKeys(master_keys=MasterKeys.parse(entry), store=PostgresDataKeyStore(pool))


def _store(pool: asyncpg.Pool, keys: CaseKeys) -> EncryptingEventStore:
    return EncryptingEventStore(
        PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
    )


async def _write(pool: asyncpg.Pool, kind: str, *, closed: bool = True, **case: Any) -> str:
    """A case of ``kind`` (standard, research, placement, late) written encrypted; its number."""
    number = f"RET-{kind}-{uuid.uuid4().hex[:8]}"
    if kind == "late":  # closed in June 2027: purge date 2033-12-31
        case.setdefault("now", datetime(2027, 6, 1, 10, tzinfo=STHLM))
    if kind != "research":  # the example subject is born on the 15th: the research sample
        # each case its own person: purging is per person (a person's files go together)
        serial = f"{uuid.uuid4().int % 10000:04d}"
        case.setdefault(
            "subject", {**STANDARD_SUBJECT, "personal_identity_number": PIN[:-4] + serial}
        )
    built = Case(case_number=number, **case)
    built.assess()
    # only the placement opens an investigation: a child's investigation is kept 30 years
    # from birth (tests/cases/test_retention_per_person.py), which these cases do not test
    built.pre_assess(open_investigation=kind == "placement")
    if kind == "placement":
        built.conclude(cases.InvestigationOutcome.LVU_APPLICATION)
    if closed:
        built.close()
    await _store(pool, _keys(pool)).append(number, 0, envelopes(number, built.events))
    return number


async def _run(pool: asyncpg.Pool, numbers: list[str], **kw: Any) -> PurgeReport:
    kw.setdefault("today", FIRST_DUE)
    return await purge_due(
        pool,
        kw.pop("keys", None) or _keys(pool),
        policy=Policy.default(),
        case_numbers=numbers,
        **kw,
    )


def _verdicts(report: PurgeReport) -> dict[str, Verdict]:
    return {c.case_number: c.verdict for c in report.cases}


async def _subject_name(pool: asyncpg.Pool, number: str) -> str:
    first = (await _store(pool, _keys(pool)).read_case(number))[0]
    return str(first.data["subject"]["name"])


async def test_a_closed_standard_case_is_shredded_on_its_purge_date_and_not_a_day_before(
    pool: asyncpg.Pool,
) -> None:
    number = await _write(pool, "standard")

    day_before = await _run(pool, [number], today=date(2032, 12, 30))
    assert _verdicts(day_before) == {number: Verdict.NOT_DUE}
    assert await _subject_name(pool, number) == NAME

    on_the_day = await _run(pool, [number])
    [case] = on_the_day.cases
    assert (case.verdict, case.purge_date, case.category) == (
        Verdict.DUE,
        FIRST_DUE,
        cases.RetentionCategory.STANDARD,
    )
    stored = await PostgresDataKeyStore(pool).by_scope(case_scope(number))
    assert stored is not None and stored.wrapped is None and stored.shredded_at is not None
    assert await _subject_name(pool, number) == REDACTED
    types = [e.type for e in await _store(pool, _keys(pool)).read_case(number)]
    assert types[0] == "ReportReceived" and types[-1] == "CaseClosed", "the audit trail stays"


async def test_exempt_categories_and_cases_not_yet_due_keep_their_keys(
    pool: asyncpg.Pool,
) -> None:
    research = await _write(pool, "research")
    placement = await _write(pool, "placement")
    late = await _write(pool, "late")

    report = await _run(pool, [research, placement, late], today=date(2033, 6, 1))

    assert _verdicts(report) == {
        research: Verdict.EXEMPT,
        placement: Verdict.EXEMPT,
        late: Verdict.NOT_DUE,
    }
    by_number = {c.case_number: c for c in report.cases}
    assert by_number[research].category is cases.RetentionCategory.RESEARCH_SAMPLE
    assert by_number[placement].category is cases.RetentionCategory.PLACEMENT
    assert by_number[late].purge_date == date(2033, 12, 31)
    for number in (research, placement, late):
        stored = await PostgresDataKeyStore(pool).by_scope(case_scope(number))
        assert stored is not None and stored.wrapped is not None
    far_future = await _run(pool, [research, placement], today=date(2099, 1, 1))
    assert set(_verdicts(far_future).values()) == {Verdict.EXEMPT}, "exempt means never"


async def test_a_dry_run_reports_what_is_due_and_shreds_nothing(pool: asyncpg.Pool) -> None:
    number = await _write(pool, "standard")

    report = await _run(pool, [number], dry_run=True)

    assert _verdicts(report) == {number: Verdict.DUE} and report.dry_run
    assert await _subject_name(pool, number) == NAME


async def test_purging_twice_shreds_once_and_the_second_run_reports_it_shredded_before(
    pool: asyncpg.Pool,
) -> None:
    number = await _write(pool, "standard")

    first = await _run(pool, [number])
    tomb = await PostgresDataKeyStore(pool).by_scope(case_scope(number))
    second = await _run(pool, [number])
    again = await PostgresDataKeyStore(pool).by_scope(case_scope(number))

    assert _verdicts(first) == {number: Verdict.DUE}
    assert _verdicts(second) == {number: Verdict.ALREADY_SHREDDED}
    assert tomb == again, "the tombstone (and its shredded_at) is left as it was"


async def test_a_case_whose_personal_data_does_not_decrypt_is_kept_not_guessed_standard(
    pool: asyncpg.Pool,
) -> None:
    # A research-sample case read without its master key would show the placeholder birth
    # date (day 1: "standard") and be purged by mistake; it must be kept and reported.
    number = await _write(pool, "research")
    foreign = _keys(pool, MasterKeys.generate_entry("other"))

    report = await _run(pool, [number], keys=foreign, today=date(2099, 1, 1))

    assert _verdicts(report) == {number: Verdict.UNREADABLE}
    stored = await PostgresDataKeyStore(pool).by_scope(case_scope(number))
    assert stored is not None and stored.wrapped is not None


async def test_open_cases_are_not_retention_candidates(pool: asyncpg.Pool) -> None:
    number = await _write(pool, "standard", closed=False)

    report = await purge_due(
        pool, _keys(pool), policy=Policy.default(), today=date(2099, 1, 1), dry_run=True
    )

    assert number not in _verdicts(report)


@pytest.fixture
def cli(
    pool: asyncpg.Pool, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[typer.Typer]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SAMVERKAN_MASTER_KEYS", MASTER)
    monkeypatch.delenv("SAMVERKAN_POLICY_FILE", raising=False)
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    yield app
    get_settings.cache_clear()


async def test_keys_purge_due_prints_case_numbers_and_counts_and_no_personal_data(
    pool: asyncpg.Pool, cli: typer.Typer
) -> None:
    due = await _write(pool, "standard")
    exempt = await _write(pool, "research")
    runner = CliRunner()

    def purge(*args: str) -> Result:  # the command runs its own event loop: not on this one
        return runner.invoke(cli, ["keys", "purge-due", *args])

    dry = await asyncio.to_thread(purge, "--dry-run", "--today", "2033-01-02")
    real = await asyncio.to_thread(purge, "--today", "2033-01-02")
    again = await asyncio.to_thread(purge, "--today", "2033-01-02")
    bad = await asyncio.to_thread(purge, "--today", "next week")

    assert dry.exit_code == 0, dry.output
    assert f"would shred case {due} (purge date 2032-12-31, standard)" in dry.stdout
    assert real.exit_code == 0, real.output
    assert f"shredded case {due} (purge date 2032-12-31, standard)" in real.stdout
    assert exempt not in real.stdout, "an exempt case is counted, not named"
    assert " exempt, " in real.stdout.splitlines()[-1]
    assert due not in again.stdout and "0 shredded," in again.stdout
    for result in (dry, real, again):
        for personal in (NAME, PIN, "Testperson", "20120315-0004", "propaganda"):
            assert personal not in result.output
    assert bad.exit_code == 2 and "is not a date" in bad.output
    assert await _subject_name(pool, due) == REDACTED
