"""``samverkan demo seed`` on a dev stack started as ``make dev`` starts it: the demo cases go
through the real workflows into the event store, and the projector brings them onto the
coordinator board's due, overdue and waiting lists; a second run opens nothing."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from cases import STOCKHOLM
from samverkan.demo import demo_cases
from tests.e2e.test_dev_stack import (
    SAMVERKAN,
    _free_port,
    _start,
    _stop,
    _stored,
    _wait_until_up,
)

pytestmark = pytest.mark.e2e


def _seed(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SAMVERKAN_")) and k != "DATABASE_URL"
    }
    env["SAMVERKAN_DATA_DIR"] = str(data_dir)  # as typed in a second shell: found by itself
    return subprocess.run(
        [str(SAMVERKAN), "demo", "seed", "--cases", "6"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _section(page: str, name: str) -> str:
    found = re.search(rf"<section id={name}>(.*?)</section>", page, flags=re.S)
    assert found, f"no section {name} on the board"
    return found.group(1)


def _board_once_projected(url: str, waiting_case: str, due_case: str) -> str:
    """The board page once the projector has brought the seeded cases onto its lists."""
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(url, timeout=5) as response:
            page: str = response.read().decode()
        if (
            waiting_case in _section(page, "waiting") and due_case in _section(page, "due-soon")
        ) or time.monotonic() > deadline:
            return page
        time.sleep(0.5)


def test_demo_seed_fills_the_board_through_the_workflows_and_skips_existing_cases(
    tmp_path: Path,
) -> None:
    seeded = demo_cases(6, now=datetime.now(STOCKHOLM))
    plan = {c.shows: c.case_number for c in seeded}
    personal = [v for c in seeded for k, v in c.opening["subject"].items() if k != "birth_date"]
    received_only = plan["received only: protection assessment and pre-assessment overdue"]
    waiting = plan["investigation open, police consultation waiting"]
    concluded = plan["investigation concluded (school consulted), case closed"]
    due_soon = plan["protection assessed: pre-assessment due within a week"]
    extended = plan["investigation extended"]
    not_investigated = plan["no investigation, case closed"]

    ports = {name: _free_port() for name in ("temporal", "ui", "simulator", "gateway", "codec")}
    data_dir = tmp_path / "stack"
    saved = os.environ.get("SAMVERKAN_CODEC_PORT")
    os.environ["SAMVERKAN_CODEC_PORT"] = str(ports["codec"])
    try:
        process = _start(data_dir, ports)
    finally:
        if saved is None:
            os.environ.pop("SAMVERKAN_CODEC_PORT", None)
        else:
            os.environ["SAMVERKAN_CODEC_PORT"] = saved
    try:
        endpoints = _wait_until_up(process, data_dir)
        started = time.monotonic()
        first = _seed(data_dir)
        seeded_in = time.monotonic() - started
        page = _board_once_projected(endpoints["board_url"] + "m/Malm%C3%B6", waiting, due_soon)
        second = _seed(data_dir)
        stored = {number: _stored(endpoints["database_url"], number)[0] for number in plan.values()}
    finally:
        code, survivors = _stop(process)
    assert code == 0 and survivors == []
    assert first.returncode == 0, first.stdout + first.stderr
    print(f"seeded 6 cases in {seeded_in:.1f} s")

    # one line per case, what it shows; nothing personal printed
    for shows, number in plan.items():
        assert re.search(
            rf"^{number}  received \d{{4}}-\d\d-\d\d  {re.escape(shows)}$", first.stdout, flags=re.M
        ), first.stdout
    assert "6 opened, 0 skipped (existing), 0 failed" in first.stdout
    assert not [value for value in personal if value in first.stdout + first.stderr]

    # the board lists them: overdue, due within a week, waiting for the police, escalated
    overdue = _section(page, "overdue")
    assert received_only in overdue and "Pre-assessment" in overdue, overdue
    assert due_soon in _section(page, "due-soon")
    police = _section(page, "waiting")
    assert waiting in police and "police" in police, police
    assert received_only in _section(page, "escalated")
    open_by_state = _section(page, "open-by-state")
    assert re.search(r"Open cases by state \(4\)", open_by_state), open_by_state  # 2 closed
    assert not [value for value in personal if value in page]

    # every step went through the workflows into the event store
    kinds = {number: [kind for _, kind, _ in events] for number, events in stored.items()}
    assert all(k[0] == "ReportReceived" for k in kinds.values()), kinds
    assert "ProtectionAssessed" not in " ".join(kinds[received_only])
    assert "ConsultationRequested" in kinds[waiting]
    assert "ConsultationAnswered" not in kinds[waiting]  # held: left waiting
    assert "ConsultationAnswered" in kinds[concluded] and "CaseClosed" in kinds[concluded]
    assert "InvestigationExtended" in kinds[extended]
    assert "InvestigationDeclined" in kinds[not_investigated]
    assert "CaseClosed" in kinds[not_investigated]

    # a second run opens nothing: every case number exists
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 opened, 6 skipped (existing), 0 failed" in second.stdout
    assert second.stdout.count("exists: skipped") == 6
