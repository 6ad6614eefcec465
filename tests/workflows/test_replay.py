"""Every recorded history replays against the current workflow code (the replay corpus).

A workflow change that alters the command sequence of any recorded path fails here; guard
it with ``workflow.patched`` (docs/changing-workflows.md) and record the new path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samverkan.cli import app
from samverkan.replay import load_history_file, replay_histories
from workflows.case import BATCHED_APPENDS

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))
REQUIRED_PATHS = {
    "case-ordinary",
    "case-declined",
    "case-acute",
    "case-investigation-extended",
    "case-consultation-answered",
    "case-consultation-declined",
    "case-consultation-expired",
    "case-continued-as-new",
}


#: Paths recorded again with each step in one append (``-batched-appends``): the patched
#: branch, next to the histories above that prove the branch before the patch replays.
BATCHED_SUFFIX = "-batched-appends"
REQUIRED_BATCHED_PATHS = {
    "case-ordinary",
    "case-investigation-extended",
    "case-consultation-answered",
    "case-consultation-expired",
    "case-continued-as-new",
}


def test_the_corpus_holds_every_path() -> None:
    assert {path.stem for path in HISTORIES} >= REQUIRED_PATHS
    batched = {p + BATCHED_SUFFIX for p in REQUIRED_BATCHED_PATHS}
    assert {path.stem for path in HISTORIES} >= batched


def _workflow_type(path: Path) -> str:
    started = load_history_file(path).events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


def _patches(path: Path) -> set[str]:
    """The patch ids a recorded history's markers carry."""
    ids = set()
    for event in load_history_file(path).events:
        marker = event.marker_recorded_event_attributes
        if (
            event.HasField("marker_recorded_event_attributes")
            and marker.marker_name == "core_patch"
        ):
            for payload in marker.details["patch-data"].payloads:
                ids.add(json.loads(payload.data)["id"])
    return ids


def test_the_corpus_replays_both_branches_of_the_batched_appends_patch() -> None:
    cases = [p for p in HISTORIES if _workflow_type(p) == "CaseWorkflow"]
    batched = {p.stem for p in cases if p.stem.endswith(BATCHED_SUFFIX)}
    assert batched, "no history recorded with the patch"
    for path in cases:
        taken = BATCHED_APPENDS in _patches(path)
        assert taken == (path.stem in batched), path.stem


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays_clean(path: Path) -> None:
    [outcome] = await replay_histories([(str(path), load_history_file(path))])
    assert outcome.ok, outcome.error


def test_replay_command_reports_a_divergence_and_exits_1(tmp_path: Path) -> None:
    original = json.loads((HISTORIES[0]).read_text())
    events = original["events"]
    # Drop the first scheduled activity: the code will issue a command the history lacks.
    index = next(i for i, e in enumerate(events) if "activityTaskScheduledEventAttributes" in e)
    tampered = {"events": events[:index] + events[index + 1 :]}
    bad = tmp_path / "case-tampered.json"
    bad.write_text(json.dumps(tampered))
    result = CliRunner().invoke(app, ["replay", str(HISTORIES[0]), str(bad)])
    assert result.exit_code == 1, result.output
    assert "OK    " in result.output and "FAIL  case-tampered" in result.output
    assert "1 replayed clean, 1 diverged" in result.output


def test_replay_command_refuses_a_file_that_is_not_a_history(tmp_path: Path) -> None:
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    result = CliRunner().invoke(app, ["replay", str(bad)])
    assert result.exit_code == 2
    assert "not a Temporal history export" in result.output
