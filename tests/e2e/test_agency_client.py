"""docs/agencies.md's example client (docs/examples/agency_client.py) against a dev stack.

The stack leaves the police to be answered by hand (``SAMVERKAN_DEV_MANUAL_AGENCIES=police``);
a case is opened and a police consultation requested with the ``samverkan cases`` CLI (through
Temporal and the codec), the police gets a key from ``samverkan agency add police``, and the
client, run as a subprocess as an integrator would, lists, reads, acknowledges and answers.
The case then records the answer. Ports and the data folder are the test's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dev_stack import SAMVERKAN, _free_port, _start, _stop, _stored, _wait_until_up

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "docs" / "examples" / "agency_client.py"
CASE = "CLIENT-2026-1"
CONSULTATION = f"case-{CASE}:consultation-1"
QUESTIONS = "Is the youth known in SSPF?"
ANSWER = "Known to SSPF since 2025."


def _samverkan(data_dir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "SAMVERKAN_"))}
    env.pop("DATABASE_URL", None)
    env["SAMVERKAN_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [str(SAMVERKAN), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"samverkan {args[:2]}: {done.stdout[-1500:]}{done.stderr[-1500:]}"
    return done.stdout


def _client(gateway_url: str, key: str, *args: str) -> tuple[int, Any]:
    """Run the example client as a subprocess: its exit code and the JSON it printed."""
    env = {"PATH": os.environ.get("PATH", ""), "AGENCY_API_KEY": key}
    done = subprocess.run(
        [sys.executable, str(CLIENT), "--url", gateway_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stderr == "", done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


def _open_case_with_a_police_consultation(data_dir: Path) -> None:
    case = {
        "case_number": CASE,
        "municipality": "Malmö",
        "received_at": datetime.now(UTC).isoformat(),
        "reporter_kind": "school",
        "mandatory_reporter": True,
        "channel": "written",
        "subject": {
            "personal_identity_number": "20120315-0004",
            "name": "Testperson Exempelsson",
            "birth_date": "2012-03-15",
        },
        "concern_category": "violent_extremist_environment",
        "summary": "Teacher reports that the pupil shares violent propaganda in class chats.",
        "urgent": False,
    }
    officer = {"decided_by": "officer-17"}
    statement = {
        "risk_of_criminal_activity": "Has contact with a known recruiter.",
        "may_help_prevent": "Police knowledge of the milieu can stop recruitment.",
        "not_inappropriate": "No harm to the child outweighs it.",
    }
    updates: list[tuple[str, dict[str, Any]]] = [
        ("record_protection_assessment", {"acute": False, "reasoning": "Lives at home."}),
        ("decide_pre_assessment", {"open_investigation": True, "reasons": "Serious concern."}),
    ]
    _samverkan(data_dir, "cases", "open", json.dumps(case))
    for name, body in updates:
        _samverkan(data_dir, "cases", "update", CASE, name, json.dumps({**body, **officer}))
    request = {
        "agency": "police",
        "legal_basis": "osl_10_18a",
        "questions": QUESTIONS,
        "statement": {"osl_10_18a": statement},
        "requested_by": "officer-17",
    }
    _samverkan(data_dir, "cases", "update", CASE, "request_consultation", json.dumps(request))


def test_the_example_client_lists_reads_acknowledges_and_answers_a_police_consultation(
    tmp_path: Path,
) -> None:
    ports = {name: _free_port() for name in ("temporal", "ui", "simulator", "gateway", "codec")}
    data_dir = tmp_path / "stack"
    saved = {
        k: os.environ.get(k) for k in ("SAMVERKAN_DEV_MANUAL_AGENCIES", "SAMVERKAN_CODEC_PORT")
    }
    os.environ.update(
        SAMVERKAN_DEV_MANUAL_AGENCIES="police", SAMVERKAN_CODEC_PORT=str(ports["codec"])
    )
    try:
        process = _start(data_dir, ports)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        endpoints = _wait_until_up(process, data_dir)
        gateway = endpoints["gateway_url"]
        _open_case_with_a_police_consultation(data_dir)
        key = _samverkan(data_dir, "agency", "add", "police").strip()

        deadline = time.monotonic() + 60
        while True:  # the projection lists it, delivered once the police system has it
            code, listed = _client(gateway, key, "list")
            assert code == 0, listed
            mine = [c for c in listed["consultations"] if c["consultation_id"] == CONSULTATION]
            if mine and mine[0]["status"] == "delivered":
                break
            assert time.monotonic() < deadline, f"not listed as delivered: {listed}"
            time.sleep(0.5)
        shown = _client(gateway, key, "show", CONSULTATION)
        acknowledged = _client(gateway, key, "acknowledge", CONSULTATION)
        again = _client(gateway, key, "acknowledge", CONSULTATION)
        answered = _client(gateway, key, "answer", CONSULTATION, ANSWER)
        after = _client(gateway, key, "show", CONSULTATION)
        deadline = time.monotonic() + 60
        while "ConsultationAnswered" not in {kind for _, kind, _ in _stored_of(endpoints)}:
            assert time.monotonic() < deadline, "the case did not record the answer"
            time.sleep(0.5)
        _, listed_after = _client(gateway, key, "list")
        summary = _samverkan(data_dir, "cases", "summary", CASE)
    finally:
        code, survivors = _stop(process)
    assert code == 0 and survivors == []

    assert listed["agency"] == "police"
    assert mine[0]["due_date"] is not None and mine[0]["due"].endswith("+00:00")
    assert shown[0] == 0 and shown[1]["request"]["questions"] == QUESTIONS
    assert shown[1]["legal_basis"] == "osl_10_18a" and shown[1]["due_date"] == mine[0]["due_date"]
    assert acknowledged == (0, {"consultation_id": CONSULTATION, "result": "acknowledged"})
    assert again[0] == 1 and again[1]["error"] == "conflict"
    assert again[1]["code"] == "already_acknowledged"
    assert answered == (0, {"consultation_id": CONSULTATION, "result": "answered"})
    assert after[1]["status"] == "answered"
    assert CONSULTATION not in {c["consultation_id"] for c in listed_after["consultations"]}
    assert ANSWER not in summary, "the summary holds no personal data"


def _stored_of(endpoints: dict[str, str]) -> list[tuple[int, str, str]]:
    return _stored(endpoints["database_url"], CASE)[0]
