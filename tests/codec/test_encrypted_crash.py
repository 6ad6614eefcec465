"""Encrypted appends under crashes and failures: nothing recorded, or everything.

An append through `EncryptingEventStore` writes two things, the redacted events and their
sealed personal fields. Whatever fails or dies on the way (the database connection in the
middle of the write, the vault, the event insert, the key lookup), the case afterwards holds
either nothing at all or every event with every personal field readable; and the activity's
retry of the same batch ends with everything. Run against the real PostgreSQL, in the
worker's composition (store and vault on one pool: one transaction) and in the others
(in-memory; a vault on another pool: the vault is written first).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal
from uuid import UUID

import asyncpg
import pytest
import pytest_asyncio

from cases import Envelope
from cases.envelope import event_types
from eventstore import (
    AppendResult,
    EventStore,
    InMemoryEventStore,
    InvalidAppend,
    PostgresEventStore,
)
from eventstore.encrypted import (
    REDACTED,
    EncryptingEventStore,
    InMemoryPersonalDataVault,
    PersonalDataVault,
    PostgresPersonalDataVault,
    SealedField,
)
from infra.keys import CaseKeys
from tests.eventstore.case_streams import busy_case, envelopes


class Injected(ConnectionError):
    """A failure the test injects (as a lost connection would be)."""


def new_case() -> tuple[str, list[Envelope]]:
    """A busy case: a report, an assessment, a consultation with its disclosure and more."""
    number = f"C-{uuid.uuid4().hex[:8]}"
    return number, envelopes(number, busy_case(number))


def personal_values(batch: Sequence[Envelope]) -> dict[tuple[UUID, str], Any]:
    """Every personal field of the batch, by (event id, field): what the vault must hold."""
    found: dict[tuple[UUID, str], Any] = {}
    for envelope in batch:
        for name in event_types()[envelope.type].personal_fields & envelope.data.keys():
            found[(envelope.event_id, name)] = envelope.data[name]
    return found


def personal_texts(batch: Sequence[Envelope]) -> list[str]:
    """The batch's personal strings (nested ones too) long enough to be searched for."""
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 6:
            texts.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    for value in personal_values(batch).values():
        walk(value)
    return texts


async def sealed_count(vault: PersonalDataVault, batch: Sequence[Envelope]) -> int:
    return len(await vault.get([e.event_id for e in batch]))


async def append_until_recorded(
    store: EventStore,
    case_number: str,
    batch: list[Envelope],
    after_failure: Callable[[], Awaitable[None]],
    *,
    attempts: int = 5,
) -> tuple[AppendResult, list[Exception]]:
    """Append as the activity does: retried after any failure, checking the store after each."""
    failures: list[Exception] = []
    for _ in range(attempts):
        try:
            return await store.append(case_number, 0, batch), failures
        except Exception as exc:  # whatever the crash raised, as Temporal retries it
            failures.append(exc)
            await after_failure()
    raise AssertionError(f"not recorded after {attempts} attempts: {failures!r}")


def assert_no_personal_data(failures: Sequence[Exception], batch: Sequence[Envelope]) -> None:
    texts = personal_texts(batch)
    assert texts, "the batch has personal data to look for"
    for exc in failures:
        text = f"{exc!s} {exc!r} {exc.args!r}"
        for personal in texts:
            assert personal not in text, f"a personal field's value in {type(exc).__name__}"


@asynccontextmanager
async def failing_inserts(
    pool: asyncpg.Pool,
    table: Literal["events", "event_personal_data"],
    case_number: str,
    *,
    times: int,
    how: Literal["crash", "failure"],
) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """The first ``times`` statements that insert a row of ``case_number`` into ``table`` die:
    ``crash`` kills the database session in the middle of the statement, ``failure`` raises
    an error. Yields how many inserts the trigger has seen so far."""
    tag = f"inject_{uuid.uuid4().hex[:10]}"
    action = (
        "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(30);"
        if how == "crash"
        else "RAISE EXCEPTION 'injected failure';"
    )
    await pool.execute(f"CREATE SEQUENCE {tag}")
    await pool.execute(
        f"CREATE FUNCTION {tag}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF nextval('{tag}') <= {times} THEN {action} END IF; RETURN NEW; END $$"
    )
    await pool.execute(
        f"CREATE TRIGGER {tag} BEFORE INSERT ON {table} FOR EACH ROW "
        f"WHEN (NEW.case_id = '{case_number}') EXECUTE FUNCTION {tag}()"
    )

    async def seen() -> int:
        row = await pool.fetchrow(f"SELECT last_value, is_called FROM {tag}")
        assert row is not None
        return int(row["last_value"]) if row["is_called"] else 0

    try:
        yield seen
    finally:
        await pool.execute(f"DROP TRIGGER {tag} ON {table}")
        await pool.execute(f"DROP FUNCTION {tag}()")
        await pool.execute(f"DROP SEQUENCE {tag}")


def one_pool(pool: asyncpg.Pool, keys: Any) -> tuple[EncryptingEventStore, PersonalDataVault]:
    """The worker's composition: store and vault on one pool."""
    vault = PostgresPersonalDataVault(pool)
    return EncryptingEventStore(PostgresEventStore(pool), keys=keys, vault=vault), vault


# -- the worker's composition: events and sealed fields in one transaction ---------------


@pytest.mark.parametrize("how", ["crash", "failure"])
@pytest.mark.parametrize("table", ["event_personal_data", "events"])
async def test_a_write_that_dies_records_nothing_and_the_retry_records_everything(
    pool: asyncpg.Pool,
    case_keys: CaseKeys,
    table: Literal["events", "event_personal_data"],
    how: Literal["crash", "failure"],
) -> None:
    case_number, batch = new_case()
    store, vault = one_pool(pool, case_keys)

    async def nothing_recorded() -> None:
        assert await store.case_version(case_number) == 0
        assert await store.read_case(case_number) == []
        assert await sealed_count(vault, batch) == 0, "a sealed field without its event"

    # two statements die: the shared group statement, then the careful path's transaction
    async with failing_inserts(pool, table, case_number, times=2, how=how) as seen:
        result, failures = await append_until_recorded(store, case_number, batch, nothing_recorded)
        assert await seen() >= 3  # the trigger saw both deaths and the insert that stayed

    assert failures, "the injected deaths reached the caller"
    assert_no_personal_data(failures, batch)
    assert result.last_version == len(batch) and not result.already_recorded
    assert await store.read_case(case_number) == batch  # every personal field readable
    assert await sealed_count(vault, batch) == len(personal_values(batch))


async def test_a_failed_group_statement_is_written_whole_by_the_careful_path(
    pool: asyncpg.Pool, case_keys: CaseKeys
) -> None:
    case_number, batch = new_case()
    store, vault = one_pool(pool, case_keys)

    async with failing_inserts(pool, "event_personal_data", case_number, times=1, how="failure"):
        result = await store.append(case_number, 0, batch)  # no retry needed

    assert not result.already_recorded
    assert await store.read_case(case_number) == batch
    assert await sealed_count(vault, batch) == len(personal_values(batch))


async def test_events_recorded_without_their_sealed_fields_get_them_from_the_retry(
    pool: asyncpg.Pool, case_keys: CaseKeys
) -> None:
    # The write order before: events committed, then a crash before the vault write. The
    # activity's retry of the same batch must bring every personal field back.
    case_number, batch = new_case()
    store, vault = one_pool(pool, case_keys)
    first = await store.append(case_number, 0, batch)
    await pool.execute("DELETE FROM event_personal_data WHERE case_id = $1", case_number)
    lost = await store.read_case(case_number)
    assert lost[0].data["summary"] == REDACTED

    retry = await store.append(case_number, 0, batch)

    assert retry.already_recorded and retry.positions == first.positions
    assert await store.read_case(case_number) == batch
    assert await sealed_count(vault, batch) == len(personal_values(batch))


async def test_a_retry_keeps_the_sealed_fields_already_written(
    pool: asyncpg.Pool, case_keys: CaseKeys
) -> None:
    case_number, batch = new_case()
    store, _ = one_pool(pool, case_keys)
    await store.append(case_number, 0, batch)
    before = await pool.fetch(
        "SELECT event_id, field, ciphertext FROM event_personal_data WHERE case_id = $1 "
        "ORDER BY 1, 2",
        case_number,
    )

    await store.append(case_number, 0, batch)  # sealed again with fresh nonces

    after = await pool.fetch(
        "SELECT event_id, field, ciphertext FROM event_personal_data WHERE case_id = $1 "
        "ORDER BY 1, 2",
        case_number,
    )
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


async def test_a_sealed_field_of_an_event_outside_the_batch_is_refused(
    pool: asyncpg.Pool,
) -> None:
    case_number, batch = new_case()
    stray = SealedField(uuid.uuid4(), "summary", case_number, "k", b"\x00" * 28)
    other_case = SealedField(batch[0].event_id, "summary", "another", "k", b"\x00" * 28)

    for sealed in (stray, other_case):
        with pytest.raises(InvalidAppend) as refused:
            await PostgresEventStore(pool).append(case_number, 0, batch, sealed=[sealed])
        assert_no_personal_data([refused.value], batch)
    assert await PostgresEventStore(pool).case_version(case_number) == 0


# -- the other compositions: the vault is written first ----------------------------------


class FlakyVault:
    """A vault whose first ``fail`` writes raise before writing anything."""

    def __init__(self, inner: PersonalDataVault, fail: int = 1) -> None:
        self.inner = inner
        self.fail = fail

    async def put(self, fields: Sequence[SealedField]) -> None:
        if self.fail:
            self.fail -= 1
            raise Injected("vault unavailable")
        await self.inner.put(fields)

    async def get(self, event_ids: Sequence[UUID]) -> list[SealedField]:
        return await self.inner.get(event_ids)


class FlakyStore:
    """An event store whose first append dies: ``before`` it writes, or ``after`` it has
    recorded the batch (the commit went through, the reply was lost)."""

    def __init__(self, inner: EventStore, when: Literal["before", "after"]) -> None:
        self.inner = inner
        self.when = when
        self.failed = False

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
    ) -> AppendResult:
        if not self.failed and self.when == "before":
            self.failed = True
            raise Injected("connection lost before the append")
        result = await self.inner.append(case_id, expected_version, envelopes, validated=validated)
        if not self.failed:
            self.failed = True
            raise Injected("connection lost after the commit")
        return result

    async def read_case(self, case_id: str, *, after_version: int = 0) -> list[Envelope]:
        return await self.inner.read_case(case_id, after_version=after_version)

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[Any]:
        return await self.inner.read_all(after_position, limit)

    async def last_position(self) -> int:
        return await self.inner.last_position()

    async def case_version(self, case_id: str) -> int:
        return await self.inner.case_version(case_id)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other_pool(database_url: str, pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    """A second pool on the same database: a vault there shares no transaction."""
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        yield created
    finally:
        await created.close()


Composition = Literal["memory", "vault on another pool"]


@pytest.fixture(params=["memory", "vault on another pool"])
def composition(request: pytest.FixtureRequest) -> Composition:
    found: Composition = request.param
    return found


def parts(
    composition: Composition, pool: asyncpg.Pool, other_pool: asyncpg.Pool
) -> tuple[EventStore, PersonalDataVault]:
    if composition == "memory":
        return InMemoryEventStore(), InMemoryPersonalDataVault()
    return PostgresEventStore(pool), PostgresPersonalDataVault(other_pool)


async def test_a_vault_failing_its_first_write_records_nothing_and_the_retry_everything(
    composition: Composition,
    pool: asyncpg.Pool,
    other_pool: asyncpg.Pool,
    case_keys: CaseKeys,
) -> None:
    case_number, batch = new_case()
    inner, vault = parts(composition, pool, other_pool)
    store = EncryptingEventStore(inner, keys=case_keys, vault=FlakyVault(vault))

    async def nothing_recorded() -> None:
        assert await store.case_version(case_number) == 0
        assert await store.read_case(case_number) == []
        assert await sealed_count(vault, batch) == 0

    result, failures = await append_until_recorded(store, case_number, batch, nothing_recorded)

    assert len(failures) == 1
    assert_no_personal_data(failures, batch)
    assert not result.already_recorded
    assert await store.read_case(case_number) == batch
    assert await sealed_count(vault, batch) == len(personal_values(batch))


async def test_a_crash_between_the_vault_and_the_events_leaves_nothing_readable(
    composition: Composition,
    pool: asyncpg.Pool,
    other_pool: asyncpg.Pool,
    case_keys: CaseKeys,
) -> None:
    case_number, batch = new_case()
    inner, vault = parts(composition, pool, other_pool)
    store = EncryptingEventStore(FlakyStore(inner, "before"), keys=case_keys, vault=vault)

    async def no_event_recorded() -> None:
        assert await store.case_version(case_number) == 0
        assert await store.read_case(case_number) == []  # the sealed rows alone read as nothing

    result, failures = await append_until_recorded(store, case_number, batch, no_event_recorded)

    assert len(failures) == 1
    assert not result.already_recorded
    assert await store.read_case(case_number) == batch
    assert await sealed_count(vault, batch) == len(
        personal_values(batch)
    )  # kept, not written twice


async def test_a_reply_lost_after_the_commit_is_completed_by_the_retry(
    composition: Composition,
    pool: asyncpg.Pool,
    other_pool: asyncpg.Pool,
    case_keys: CaseKeys,
) -> None:
    case_number, batch = new_case()
    inner, vault = parts(composition, pool, other_pool)
    store = EncryptingEventStore(FlakyStore(inner, "after"), keys=case_keys, vault=vault)

    async def everything_recorded() -> None:
        assert await store.read_case(case_number) == batch

    result, failures = await append_until_recorded(store, case_number, batch, everything_recorded)

    assert len(failures) == 1
    assert result.already_recorded
    assert await store.read_case(case_number) == batch


# -- every composition: a failure before anything is written -----------------------------


class FlakyKeys:
    """`CaseKeys` whose first data-key lookup fails (the key table unreachable)."""

    def __init__(self, inner: CaseKeys) -> None:
        self.inner = inner
        self.failed = False

    async def for_scope(self, scope: str, *, namespace: str | None) -> Any:
        if not self.failed:
            self.failed = True
            raise Injected("data keys unavailable")
        return await self.inner.for_scope(scope, namespace=namespace)

    async def by_id(self, key_id: str, *, namespace: str | None) -> Any:
        return await self.inner.by_id(key_id, namespace=namespace)


@pytest.mark.parametrize("composition_name", ["one pool", "memory", "vault on another pool"])
async def test_a_key_lookup_failing_before_the_append_records_nothing(
    composition_name: str,
    pool: asyncpg.Pool,
    other_pool: asyncpg.Pool,
    case_keys: CaseKeys,
) -> None:
    case_number, batch = new_case()
    keys = FlakyKeys(case_keys)
    if composition_name == "one pool":
        store, vault = one_pool(pool, keys)
    else:
        inner, vault = parts(composition_name, pool, other_pool)  # type: ignore[arg-type]
        store = EncryptingEventStore(inner, keys=keys, vault=vault)

    async def nothing_recorded() -> None:
        assert await store.case_version(case_number) == 0
        assert await sealed_count(vault, batch) == 0

    result, failures = await append_until_recorded(store, case_number, batch, nothing_recorded)

    assert len(failures) == 1
    assert not result.already_recorded
    assert await store.read_case(case_number) == batch
