"""Replaying recorded histories against the current workflow code (``samverkan replay``).

A developer feeds it the JSON a history was exported as (the Web UI's "Download Event
History" or ``temporal workflow show --output json``), or has it fetch histories by
workflow id or visibility query. Each history replays with the worker's data converter
(its codec decoding only, see `replayer`) and sandbox; the first divergence is reported
with its event and command.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec
from temporalio.worker import Replayer

from infra.codec import PayloadDecryptionError, decode_only, is_encrypted, key_id_of
from infra.converter import data_converter
from infra.keys import KeyDestroyed, KeyError_, UnknownKey
from workflows import WORKFLOWS


@dataclass(frozen=True)
class ReplayOutcome:
    """One history's replay: ``error`` is None when it replayed clean.

    ``undecryptable`` says the history was not replayed at all because its payloads cannot be
    decrypted here (no master key for their data keys, a shredded key): a missing key, not a
    divergence of the code, and ``error`` says which (``cannot decrypt: ...``).
    """

    workflow_id: str
    source: str
    error: str | None
    undecryptable: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def diverged(self) -> bool:
        return self.error is not None and not self.undecryptable


_MASTER_KEY = re.compile(r"wrapped by master key (\S+), not configured")


def decryption_problem(error: BaseException) -> str | None:
    """``cannot decrypt: ...`` when ``error`` (or its cause) is a key problem, else None."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyDestroyed):
            return f"cannot decrypt: key shredded ({seen})"
        if isinstance(seen, UnknownKey):
            missing = _MASTER_KEY.search(str(seen))
            if missing:
                return f"cannot decrypt: no master key for kid {missing.group(1)}"
            return f"cannot decrypt: {seen}"
        if isinstance(seen, PayloadDecryptionError | KeyError_):
            return f"cannot decrypt: {seen}"
        seen = seen.__cause__ or seen.__context__
    return None


def _payloads(message: Message) -> Iterator[Payload]:
    """Every `Payload` inside a history event (input, results, signals, updates, ...)."""
    for _field, value in message.ListFields():
        items: Iterable[Any]
        if isinstance(value, Message):
            items = [value]
        elif isinstance(value, str | bytes | int | float | bool):
            continue
        elif hasattr(value, "values"):  # a map field: its values
            items = value.values()
        else:  # a repeated field
            items = value
        for item in items:
            if isinstance(item, Payload):
                yield item
            elif isinstance(item, Message):
                yield from _payloads(item)


async def check_decryptable(history: WorkflowHistory, codec: PayloadCodec | None) -> str | None:
    """Why the history's encrypted payloads cannot be read here, or None if they can.

    One payload per data key is decrypted (a key that unwraps reads all it sealed).
    """
    by_key: dict[str, Payload] = {}
    for event in history.events:
        for payload in _payloads(event):
            kid = key_id_of(payload)
            if kid is not None and is_encrypted(payload):
                by_key.setdefault(kid, payload)
    if not by_key:
        return None
    if codec is None:
        return (
            "cannot decrypt: no master keys here (set SAMVERKAN_MASTER_KEYS and DATABASE_URL, "
            "or SAMVERKAN_DATA_DIR to the dev stack's data folder)"
        )
    for payload in by_key.values():
        try:
            await codec.decode([payload])
        except Exception as exc:  # a key problem is reported; anything else is the replay's
            problem = decryption_problem(exc)
            if problem is not None:
                return problem
            raise
    return None


def replayer(codec: PayloadCodec | None = None) -> Replayer:
    """A replayer configured like the worker, reading encrypted histories with ``codec``.

    The replayer decodes with ``codec`` but never encodes (`DecodeOnlyCodec`): a replay
    compares commands, not the payloads the workflow produces, so encrypting them is
    wasted work. A history that does not decrypt still fails its replay.
    """
    from infra.sandbox import workflow_runner

    return Replayer(
        workflows=list(WORKFLOWS),
        data_converter=data_converter(None if codec is None else decode_only(codec)),
        workflow_runner=workflow_runner(),
    )


def load_history_file(path: Path, workflow_id: str | None = None) -> WorkflowHistory:
    """A history from an exported JSON file, named by the workflow id recorded in it (its
    start event's), or else the file's stem.

    Raises:
        ValueError: the file is not a Temporal history export.
    """
    text = path.read_text(encoding="utf-8")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON (line {exc.lineno})") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("events"), list):
        raise ValueError(f"{path} is not a Temporal history export (no 'events' list)")
    history = WorkflowHistory.from_json(workflow_id or path.stem, parsed)
    recorded = workflow_id or recorded_workflow_id(history)
    if recorded and recorded != history.workflow_id:
        history = WorkflowHistory(recorded, history.events)
    return history


def recorded_workflow_id(history: WorkflowHistory) -> str | None:
    """The workflow id a history's start event records (servers since 1.2x write it)."""
    for event in history.events[:1]:
        started = event.workflow_execution_started_event_attributes
        if started.workflow_id:
            return started.workflow_id
        if started.root_workflow_execution.workflow_id:
            return None  # a child's root is another workflow: not this one's id
    return None


def first_divergence(error: BaseException) -> str:
    """The first line of a replay failure: event id and the mismatched command."""
    text = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {text.splitlines()[0]}"


async def replay_histories(
    histories: Iterable[tuple[str, WorkflowHistory]], *, codec: PayloadCodec | None = None
) -> list[ReplayOutcome]:
    """Replay each ``(source, history)``; never raises for a divergence, reports it."""
    outcomes = []
    engine = replayer(codec)
    for source, history in histories:
        problem = await check_decryptable(history, codec)
        if problem is not None:
            outcomes.append(ReplayOutcome(history.workflow_id, source, problem, True))
            continue
        result = await engine.replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        problem = None if failure is None else decryption_problem(failure)
        outcomes.append(
            ReplayOutcome(
                workflow_id=history.workflow_id,
                source=source,
                error=problem or (None if failure is None else first_divergence(failure)),
                undecryptable=problem is not None,
            )
        )
    return outcomes


async def fetch_histories(
    client: Client, *, workflow_ids: Iterable[str] = (), query: str | None = None
) -> AsyncIterator[tuple[str, WorkflowHistory]]:
    """Histories fetched from the server by id and by visibility query."""
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        yield f"server:{workflow_id}", history
    if query:
        async for execution in client.list_workflows(query):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            yield f"server:{execution.id}/{execution.run_id}", await handle.fetch_history()
