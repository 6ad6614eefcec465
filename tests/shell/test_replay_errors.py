"""``samverkan replay`` on histories it cannot decrypt: one sentence naming the missing key
(or the shredded one), counted apart from divergences, exit code 3, no traceback; and a
history file is named by the workflow id recorded in it, not by the file's name."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import WorkflowSerializationContext
from typer.testing import CliRunner

from infra.codec import EncryptionCodec
from infra.keys import MASTER_KEYS_ENV, CaseKeys, InMemoryDataKeyStore, MasterKeys, case_scope
from infra.settings import get_settings
from samverkan.cli import app
from samverkan.replay import _payloads, load_history_file, replay_histories

HISTORY = Path(__file__).resolve().parents[1] / "histories" / "case-acute.json"
WORKFLOW_ID = "case-T-290ba75ceb"  # the case number in the recorded input
K1 = MasterKeys.generate_entry("k1")
K2 = MasterKeys.generate_entry("k2")


def _codec(entry: str, store: InMemoryDataKeyStore) -> EncryptionCodec:
    keys = CaseKeys(master_keys=MasterKeys.parse(entry), store=store)
    return EncryptionCodec(keys=keys, namespace="default")


def _recorded_with_id(tmp_path: Path) -> Path:
    """The committed history as a dev server records it: its start event names the workflow."""
    document = json.loads(HISTORY.read_text(encoding="utf-8"))
    started = document["events"][0]["workflowExecutionStartedEventAttributes"]
    started["workflowId"] = WORKFLOW_ID
    path = tmp_path / "download (3).json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


async def _encrypted(history: WorkflowHistory, codec: EncryptionCodec) -> WorkflowHistory:
    """``history`` with every payload sealed under the case's key, as the worker records it."""
    copy = WorkflowHistory.from_json(history.workflow_id, json.loads(history.to_json()))
    codec = codec.with_context(WorkflowSerializationContext("default", WORKFLOW_ID))
    for event in copy.events:
        kind = event.WhichOneof("attributes")
        if kind is None or kind == "marker_recorded_event_attributes":
            continue  # local activity markers are the SDK's own
        for payload in _payloads(getattr(event, kind)):
            [sealed] = await codec.encode([payload])
            payload.CopyFrom(sealed)
    return copy


@pytest.fixture
def store() -> InMemoryDataKeyStore:
    return InMemoryDataKeyStore()


async def test_a_history_file_is_named_by_its_recorded_workflow_id(tmp_path: Path) -> None:
    history = load_history_file(_recorded_with_id(tmp_path))
    unnamed = load_history_file(HISTORY)

    assert history.workflow_id == WORKFLOW_ID
    assert unnamed.workflow_id == "case-acute", "without a recorded id, the file's stem"
    [outcome] = await replay_histories([("file", history)])
    assert outcome.ok and outcome.workflow_id == WORKFLOW_ID


async def test_a_missing_master_key_is_named_and_not_a_divergence(
    tmp_path: Path, store: InMemoryDataKeyStore
) -> None:
    plain = load_history_file(_recorded_with_id(tmp_path))
    sealed = await _encrypted(plain, _codec(K1, store))

    [missing] = await replay_histories([("k2", sealed)], codec=_codec(K2, store))
    [no_codec] = await replay_histories([("none", sealed)])

    assert missing.undecryptable and not missing.diverged
    assert missing.error == "cannot decrypt: no master key for kid k1"
    assert no_codec.undecryptable and not no_codec.diverged
    assert (no_codec.error or "").startswith("cannot decrypt: no master keys here")


async def test_a_shredded_key_is_reported_as_shredded(
    tmp_path: Path, store: InMemoryDataKeyStore
) -> None:
    sealed = await _encrypted(load_history_file(_recorded_with_id(tmp_path)), _codec(K1, store))
    await store.shred(case_scope("T-290ba75ceb"))

    [outcome] = await replay_histories([("shredded", sealed)], codec=_codec(K1, store))

    assert outcome.undecryptable and not outcome.diverged
    assert (outcome.error or "").startswith("cannot decrypt: key shredded"), outcome.error


async def test_the_command_counts_undecryptable_apart_exits_3_without_a_traceback(
    tmp_path: Path, store: InMemoryDataKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain_file = _recorded_with_id(tmp_path)
    sealed = await _encrypted(load_history_file(plain_file), _codec(K1, store))
    sealed_file = tmp_path / "sealed.json"
    sealed_file.write_text(sealed.to_json(), encoding="utf-8")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv(MASTER_KEYS_ENV, K2)
    monkeypatch.setenv("SAMVERKAN_DATA_DIR", str(tmp_path / "no-stack"))
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["replay", str(plain_file), str(sealed_file)]
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 3, result.output
    assert f"OK    {WORKFLOW_ID}" in result.output
    assert f"SKIP  {WORKFLOW_ID}  ({sealed_file})\n      cannot decrypt:" in result.output
    assert "1 replayed clean, 0 diverged, 1 cannot be decrypted (not replayed)" in result.output
    assert "Traceback" not in result.output and "OK    download" not in result.output
