"""Who records a decision, tried the way an operator does it: on ``samverkan dev --auth``, a
token from ``samverkan dev-token ... --subject operator-1`` and the ``temporal`` CLI with the
codec endpoint. A protection assessment ``decided_by: operator-1`` is recorded; the same as
``officer-9`` is refused in one line and leaves nothing in the history."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_dev_stack import SAMVERKAN, _free_port, _stop
from tests.e2e.test_dev_stack_sign_on import (
    MALMO,
    PORTS,
    _start,
    _start_case,
    _temporal,
    _wait_until_up,
)

pytestmark = pytest.mark.e2e

NUMBER = "MAL-2026-0200"


def _token(data_dir: Path, subject: str) -> str:
    result = subprocess.run(
        [str(SAMVERKAN), "dev-token", f"{MALMO}:write", "--subject", subject],
        env={**os.environ, "SAMVERKAN_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def _assess(
    endpoints: dict[str, str], token: str, decided_by: str
) -> subprocess.CompletedProcess[str]:
    assessment = {"acute": False, "reasoning": "No immediate danger.", "decided_by": decided_by}
    return _temporal(
        endpoints["frontdoor_address"],
        MALMO,
        token,
        endpoints["codec_url"],
        "workflow",
        "update",
        "execute",
        "--name",
        "record_protection_assessment",
        "--workflow-id",
        f"case-{NUMBER}",
        "--input",
        json.dumps(assessment),
    )


def test_a_decision_is_recorded_only_as_the_signed_in_officer(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in PORTS}
    data_dir = tmp_path / "stack"
    process = _start(data_dir, ports)
    try:
        endpoints = _wait_until_up(process, data_dir)
        token = _token(data_dir, "operator-1")
        _start_case(endpoints, MALMO, token, NUMBER)
        as_someone_else = _assess(endpoints, token, "officer-9")
        as_oneself = _assess(endpoints, token, "operator-1")
        shown = _temporal(
            endpoints["frontdoor_address"],
            MALMO,
            token,
            endpoints["codec_url"],
            "workflow",
            "show",
            "-w",
            f"case-{NUMBER}",
            "-o",
            "json",
        )
    finally:
        code, survivors = _stop(process)
    assert code == 0 and survivors == []

    assert as_someone_else.returncode != 0
    refused = as_someone_else.stdout + as_someone_else.stderr
    assert "decided_by must be the signed-in officer" in refused
    assert "Traceback" not in refused and "operator-1" not in refused
    assert as_oneself.returncode == 0, as_oneself.stderr
    assert shown.returncode == 0, shown.stderr
    events = json.loads(shown.stdout)["events"]
    accepted = [e for e in events if "workflowExecutionUpdateAcceptedEventAttributes" in e]
    assert len(accepted) == 1  # the refused update left nothing
    assert "officer-9" not in shown.stdout
