"""Replaying recorded histories against the current workflow code (``samverkan replay``).

A developer feeds it the JSON a history was exported as (the Web UI's "Download Event
History" or ``temporal workflow show --output json``), or has it fetch histories by
workflow id or visibility query. Each history replays with the worker's data converter
(its codec decoding only, see `replayer`) and sandbox; the first divergence is reported
with its event and command.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import PayloadCodec
from temporalio.worker import Replayer

from infra.codec import decode_only
from infra.converter import data_converter
from workflows import WORKFLOWS


@dataclass(frozen=True)
class ReplayOutcome:
    """One history's replay: ``error`` is None when it replayed clean."""

    workflow_id: str
    source: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


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
    """A history from an exported JSON file; the workflow id defaults to the file's stem.

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
    return WorkflowHistory.from_json(workflow_id or path.stem, parsed)


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
        result = await engine.replay_workflow(history, raise_on_replay_failure=False)
        failure = result.replay_failure
        outcomes.append(
            ReplayOutcome(
                workflow_id=history.workflow_id,
                source=source,
                error=None if failure is None else first_divergence(failure),
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
