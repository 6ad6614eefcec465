"""An encrypted case history replays clean through the decode-only replayer; damage is reported.

The history is recorded by the production worker composition (`build_worker`) with the
encrypting codec, as a deployed worker records it; ``samverkan replay`` reads it with the
stack's codec, decoding only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import InMemoryEventStore
from infra.codec import ENCODING, EncryptionCodec, build_codec
from infra.converter import data_converter
from infra.keys import MASTER_KEYS_ENV, MasterKeys
from infra.settings import get_settings
from samverkan.cli import app
from samverkan.replay import replay_histories
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.codec.test_codec import _payloads
from tests.workflows.conftest import case_worker
from workflows import CaseWorkflow

NAME = "Testperson Exempelsson"


@dataclass(frozen=True)
class Recorded:
    """A closed case's history, recorded encrypted, and what it takes to read it."""

    history: WorkflowHistory
    codec: EncryptionCodec
    master_entry: str


class CountingCodec(PayloadCodec):
    """Counts what a replayer asks of the real codec."""

    def __init__(self, inner: EncryptionCodec) -> None:
        self.inner = inner
        self.encoded = 0
        self.decoded = 0

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.encoded += len(payloads)
        return await self.inner.encode(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.decoded += len(payloads)
        return await self.inner.decode(payloads)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorded(module_time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool) -> Recorded:
    """A declined case run to its close by the production worker with the encrypting codec."""
    master_entry = MasterKeys.generate_entry("r1")
    codec = build_codec(
        pool,
        namespace=module_time_skipping_env.client.namespace,
        master_keys=MasterKeys.parse(master_entry),
    )
    config = module_time_skipping_env.client.config()
    config["data_converter"] = data_converter(codec)
    client = Client(**config)
    task_queue = f"test-{uuid.uuid4().hex[:12]}"
    async with (
        running_simulator(responder=NullResponder()) as simulator_url,
        case_worker(client, task_queue, InMemoryEventStore(), simulator_url),
    ):
        data = dict(EXAMPLE_OPEN_CASE, case_number=f"R-{uuid.uuid4().hex[:8]}")
        data["received_at"] = (await module_time_skipping_env.get_current_time()).isoformat()
        case = OpenCase.model_validate(data)
        handle = await client.start_workflow(
            CaseWorkflow.run, case, id=f"case-{case.case_number}", task_queue=task_queue
        )
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "Fine.", "decided_by": "officer-1"},
        )
        await handle.execute_update(
            "decide_pre_assessment",
            {"open_investigation": False, "reasons": "Not serious.", "decided_by": "officer-1"},
        )
        await handle.execute_update("close_case", {"reason": "Declined.", "decided_by": "o-1"})
        await handle.result()
        history = await handle.fetch_history()
    return Recorded(history, codec, master_entry)


def _tampered_payload(history: WorkflowHistory) -> WorkflowHistory:
    """The history with one bit flipped in the first activity result's ciphertext."""
    copy = WorkflowHistory.from_json(history.workflow_id, json.loads(history.to_json()))
    event = next(e for e in copy.events if e.HasField("activity_task_completed_event_attributes"))
    [payload] = event.activity_task_completed_event_attributes.result.payloads
    assert payload.metadata["encoding"] == ENCODING
    payload.data = payload.data[:-1] + bytes([payload.data[-1] ^ 1])
    return copy


def _dropped_activity(history: WorkflowHistory) -> dict[str, object]:
    """The history's JSON without its first scheduled activity (a divergence)."""
    events = json.loads(history.to_json())["events"]
    index = next(i for i, e in enumerate(events) if "activityTaskScheduledEventAttributes" in e)
    return {"events": events[:index] + events[index + 1 :]}


async def test_the_recorded_history_is_encrypted(recorded: Recorded) -> None:
    payloads = [p for e in recorded.history.events for p in _payloads(e)]
    encrypted = [p for p in payloads if p.metadata.get("encoding") == ENCODING]
    assert len(encrypted) > 10
    assert NAME not in recorded.history.to_json()


async def test_encrypted_history_replays_clean_decoding_only(recorded: Recorded) -> None:
    counting = CountingCodec(recorded.codec)

    [outcome] = await replay_histories([("server", recorded.history)], codec=counting)

    assert outcome.ok, outcome.error
    assert counting.decoded > 10  # the history's payloads were decrypted...
    assert counting.encoded == 0  # ...and nothing the replay produced was encrypted


async def test_encrypted_history_does_not_replay_without_the_codec(recorded: Recorded) -> None:
    [outcome] = await replay_histories([("server", recorded.history)])
    assert not outcome.ok


async def test_damaged_encrypted_histories_are_reported_as_failures(recorded: Recorded) -> None:
    dropped = WorkflowHistory.from_json(
        recorded.history.workflow_id, _dropped_activity(recorded.history)
    )
    outcomes = await replay_histories(
        [
            ("tampered", _tampered_payload(recorded.history)),
            ("dropped", dropped),
            ("intact", recorded.history),
        ],
        codec=recorded.codec,
    )
    assert [o.ok for o in outcomes] == [False, False, True], [o.error for o in outcomes]
    assert "decrypt" in (outcomes[0].error or "")  # the bad payload is named, not skipped


async def test_replay_command_reads_encrypted_files_with_the_stacks_codec(
    recorded: Recorded, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / f"{recorded.history.workflow_id}.json"
    good.write_text(recorded.history.to_json())
    bad = tmp_path / "case-tampered.json"
    bad.write_text(json.dumps(_dropped_activity(recorded.history)))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv(MASTER_KEYS_ENV, recorded.master_entry)
    get_settings.cache_clear()
    try:
        # The command runs its own event loop: give it a thread of its own.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["replay", str(good), str(bad)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert f"OK    {recorded.history.workflow_id}" in result.output
    assert "FAIL  case-tampered" in result.output
    assert "1 replayed clean, 1 diverged" in result.output
