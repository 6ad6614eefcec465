"""A complete-case scan of the operator entry paths: cases opened with ``samverkan cases open``
and through the codec endpoint (as the Web UI and the ``temporal`` CLI do), updated and
signalled the same ways, on the production worker with the encrypting codec.

Every payload of both histories is ciphertext under a key of that case (its own key or an
intake key it adopted), no payload outside the ciphertext holds personal data, and after
``samverkan keys shred`` nothing of either case decodes. Without keys the CLI refuses to
send anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.common import RawValue
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from eventstore import migrate
from infra.codec import EncryptionCodec, PayloadKeyShredded, is_encrypted, key_id_of
from infra.keys import MASTER_KEYS_ENV, PostgresDataKeyStore, case_scope
from infra.settings import get_settings
from samverkan.cli import app
from tests.codec.test_codec import _payloads
from tests.codec.test_codec_entry import (
    INFORMATION,
    PERSONAL,
    REASONING,
    Entry,
    case_data,
    entry_stack,
)
from tests.waiting import eventually


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on this module's database with every migration applied."""
    await migrate(database_url)
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    try:
        yield created
    finally:
        await created.close()


@pytest_asyncio.fixture(loop_scope="session")
async def entry(
    module_time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool
) -> AsyncIterator[Entry]:
    """A codec worker, the codec endpoint, and clients (`tests.codec.test_codec_entry`)."""
    async with entry_stack(module_time_skipping_env, pool) as stack:
        yield stack


def _cli(env: dict[str, str], *args: str) -> Any:
    """``samverkan <args>`` with exactly these operator variables (no dev-stack folder)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (MASTER_KEYS_ENV, "DATABASE_URL"):
            patch.delenv(name, raising=False)
        patch.setenv("SAMVERKAN_DATA_DIR", "/nonexistent-samverkan-data")
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(app, list(args))
        finally:
            get_settings.cache_clear()


def _operator_env(entry: Entry, database_url: str) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": entry.env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": entry.namespace,
        "SAMVERKAN_TASK_QUEUE": entry.task_queue,
        "DATABASE_URL": database_url,
        MASTER_KEYS_ENV: entry.master_entry,
    }


def _scan(history: WorkflowHistory, own_keys: set[str]) -> list[Payload]:
    """The history's sealed payloads; asserts nothing else holds personal data and every
    sealed payload is under one of ``own_keys``."""
    payloads = [p for e in history.events for p in _payloads(e)]
    sealed = [p for p in payloads if is_encrypted(p)]
    clear = [p for p in payloads if not is_encrypted(p)]
    assert not any(word.encode() in p.data for p in clear for word in PERSONAL)
    assert {key_id_of(p) for p in sealed} <= own_keys
    return sealed


async def _own_keys(entry: Entry, case_number: str) -> set[str]:
    """The case's key and every intake key it adopted."""
    rows = await entry.pool.fetch(
        "SELECT key_id FROM data_keys WHERE scope = $1 OR owner_scope = $1",
        case_scope(case_number),
    )
    return {r["key_id"] for r in rows}


async def test_cases_entered_by_cli_and_codec_endpoint_seal_and_shred_completely(
    entry: Entry, database_url: str, tmp_path: Path
) -> None:
    now = await entry.env.get_current_time()
    operator = _operator_env(entry, database_url)
    by_cli, by_endpoint = case_data(now), case_data(now)
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(by_cli))
    opened = await asyncio.to_thread(_cli, operator, "cases", "open", f"@{case_file}")
    assert opened.exit_code == 0, opened.output
    update = json.dumps({"acute": False, "reasoning": REASONING, "decided_by": "officer-1"})
    updated = await asyncio.to_thread(
        _cli, operator, "cases", "update", by_cli["case_number"],
        "record_protection_assessment", update,
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    cli_handle = entry.sealed.get_workflow_handle(f"case-{by_cli['case_number']}")
    await cli_handle.signal("add_information", {"source": "relative", "information": INFORMATION})

    [start] = await entry.encode(by_endpoint)
    [assessment] = await entry.encode(
        {"acute": False, "reasoning": REASONING, "decided_by": "officer-1"}
    )
    [information] = await entry.encode({"source": "relative", "information": INFORMATION})
    endpoint_handle = await entry.start_raw(start, f"case-{by_endpoint['case_number']}")
    await endpoint_handle.execute_update(
        "record_protection_assessment", RawValue(assessment), result_type=RawValue
    )
    await endpoint_handle.signal("add_information", RawValue(information))

    async def both_informed() -> bool:
        for data in (by_cli, by_endpoint):
            recorded = await entry.events.read_case(data["case_number"])
            if not any(e.type == "InformationAdded" for e in recorded):
                return False
        return True

    await eventually(both_informed)
    sealed: list[Payload] = []
    for data, handle in ((by_cli, cli_handle), (by_endpoint, endpoint_handle)):
        history = await handle.fetch_history()
        own = await _own_keys(entry, data["case_number"])
        sealed += _scan(history, own)
        assert INFORMATION in str(
            [e.data for e in await entry.events.read_case(data["case_number"])]
        )

    for data in (by_cli, by_endpoint):
        shred = await asyncio.to_thread(
            _cli, operator, "keys", "shred", data["case_number"], "--yes"
        )
        assert shred.exit_code == 0, shred.output

    fresh = EncryptionCodec(keys=entry.fresh_keys(), namespace=entry.namespace)
    assert len(sealed) > 20
    for payload in sealed:
        with pytest.raises(PayloadKeyShredded):
            await fresh.decode([payload])
    store = PostgresDataKeyStore(entry.pool)
    for data in (by_cli, by_endpoint):
        for key_id in await _own_keys(entry, data["case_number"]):
            row = await store.by_id(key_id)
            assert row is not None and row.wrapped is None


def test_cases_open_without_keys_refuses_and_sends_nothing(tmp_path: Path) -> None:
    case_file = tmp_path / "case.json"
    case_file.write_text(json.dumps(case_data(datetime.now(UTC))))

    result = _cli({"TEMPORAL_ADDRESS": "127.0.0.1:1"}, "cases", "open", f"@{case_file}")

    assert result.exit_code == 2
    assert "no payload codec" in result.output and MASTER_KEYS_ENV in result.output
    assert "plain text" in result.output
