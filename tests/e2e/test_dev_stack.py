"""`samverkan dev` as a newcomer runs it: up, reachable, stopped by one Ctrl-C, data kept
(the workflow in Temporal, its events and sealed personal fields in PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.request
from pathlib import Path

import asyncpg
import psutil
import pytest

pytestmark = pytest.mark.e2e

SAMVERKAN = Path(sysconfig.get_path("scripts")) / "samverkan"
TEMPORAL = Path(sysconfig.get_path("scripts")) / "temporal"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(data_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SAMVERKAN_MASTER_KEYS"}
    }
    env.update(
        SAMVERKAN_DATA_DIR=str(data_dir),
        SAMVERKAN_TEMPORAL_PORT=str(ports["temporal"]),
        SAMVERKAN_UI_PORT=str(ports["ui"]),
        SAMVERKAN_SIMULATOR_PORT=str(ports["simulator"]),
        SAMVERKAN_GATEWAY_PORT=str(ports["gateway"]),
    )
    return subprocess.Popen(
        [str(SAMVERKAN), "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until_up(process: subprocess.Popen[str], data_dir: Path) -> dict[str, str]:
    deadline = time.monotonic() + 120
    endpoints_file = data_dir / "endpoints.json"
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        if endpoints_file.exists():
            endpoints: dict[str, str] = json.loads(endpoints_file.read_text())
            try:
                with urllib.request.urlopen(endpoints["ui_url"], timeout=2) as page:
                    if page.status == 200:
                        return endpoints
            except OSError:
                pass
        time.sleep(0.5)
    raise AssertionError("the dev stack did not come up within two minutes")


def _board_page(url: str, case_number: str) -> str:
    """The dev board's page once the projector has brought ``case_number`` onto it."""
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(url, timeout=5) as page:
            text: str = page.read().decode()
        if case_number in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def _temporal(endpoints: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(TEMPORAL), *args, "--address", endpoints["temporal_address"]],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout


def _stored(database_url: str, case_id: str) -> tuple[list[tuple[int, str, str]], int]:
    """The case's events in PostgreSQL (version, type, event id) and its vault row count."""

    async def read() -> tuple[list[tuple[int, str, str]], int]:
        connection = await asyncpg.connect(database_url)
        try:
            rows = await connection.fetch(
                "SELECT version, type, event_id::text FROM events WHERE case_id = $1 "
                "ORDER BY version",
                case_id,
            )
            sealed: int = await connection.fetchval(
                "SELECT count(*) FROM event_personal_data WHERE case_id = $1", case_id
            )
        finally:
            await connection.close()
        return [(r["version"], r["type"], r["event_id"]) for r in rows], sealed

    return asyncio.run(read())


def _wait_for_events(database_url: str, case_id: str) -> tuple[list[tuple[int, str, str]], int]:
    """The case's stored events once the worker has recorded its opening (within 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        events, sealed = _stored(database_url, case_id)
        if any(kind == "ReportReceived" for _, kind, _ in events):
            return events, sealed
        assert time.monotonic() < deadline, f"no events of {case_id} in PostgreSQL"
        time.sleep(0.5)


def _stop(process: subprocess.Popen[str]) -> tuple[int, list[int]]:
    family = [c.pid for c in psutil.Process(process.pid).children(recursive=True)]
    process.send_signal(signal.SIGINT)
    code = process.wait(60)
    time.sleep(0.5)
    return code, [pid for pid in family if psutil.pid_exists(pid) and _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_dev_stack_comes_up_serves_the_ui_stops_cleanly_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    ports = {name: _free_port() for name in ("temporal", "ui", "simulator", "gateway")}
    data_dir = tmp_path / "stack"
    started = time.monotonic()
    process = _start(data_dir, ports)
    try:
        endpoints = _wait_until_up(process, data_dir)
        up_after = time.monotonic() - started
        assert {"temporal_address", "namespace", "task_queue", "ui_url", "database_url"} <= set(
            endpoints
        )
        assert {"gateway_url", "codec_url", "simulator_url"} <= set(endpoints)
        attributes = _temporal(endpoints, "operator", "search-attribute", "list")
        for name in ("CaseState", "Municipality", "NextDeadline", "OverdueCount", "Agency"):
            assert name in attributes
        deadline = time.monotonic() + 30
        while (
            "workflow"
            not in _temporal(
                endpoints, "task-queue", "describe", "--task-queue", "samverkan-cases"
            ).split("Pollers:")[-1]
        ):
            assert time.monotonic() < deadline, "no worker polls samverkan-cases"
            time.sleep(0.5)
        _temporal(
            endpoints,
            "workflow",
            "start",
            "--type",
            "CaseWorkflow",
            "--task-queue",
            "samverkan-cases",
            "--workflow-id",
            "case-KEEP-1",
            "--codec-endpoint",
            endpoints["codec_url"],
            "--input",
            json.dumps(
                {
                    "case_number": "KEEP-1",
                    "municipality": "Malmö",
                    "received_at": "2026-03-02T10:15:00+01:00",
                    "reporter_kind": "school",
                    "mandatory_reporter": True,
                    "subject": {
                        "personal_identity_number": "20120315-0004",
                        "name": "Testperson Exempelsson",
                        "birth_date": "2012-03-15",
                    },
                    "concern_category": "violent_extremist_environment",
                    "summary": "Shares violent propaganda.",
                }
            ),
        )
        recorded, sealed = _wait_for_events(endpoints["database_url"], "KEEP-1")
        board = _board_page(endpoints["board_url"] + "m/Malm%C3%B6", "KEEP-1")
    finally:
        code, survivors = _stop(process)
    assert "NO authentication" in board  # the dev board is open on loopback, and says so
    ui = endpoints["ui_url"]
    assert f'href="{ui}/namespaces/{endpoints["namespace"]}/workflows/case-KEEP-1"' in board
    assert "Testperson" not in board and "20120315-0004" not in board
    assert code == 0
    assert survivors == [], f"processes left running: {survivors}"
    assert not (data_dir / "endpoints.json").exists(), "a stopped stack left its endpoints"
    print(f"dev stack up in {up_after:.1f} s")

    again = _start(data_dir, ports)
    try:
        endpoints = _wait_until_up(again, data_dir)
        listed = _temporal(endpoints, "workflow", "list")
        assert "case-KEEP-1" in listed
        kept, kept_sealed = _stored(endpoints["database_url"], "KEEP-1")
    finally:
        code, survivors = _stop(again)
    assert code == 0 and survivors == []
    assert sealed > 0  # the report's subject and summary, sealed in the vault
    assert kept[: len(recorded)] == recorded  # every event recorded before the restart
    assert kept_sealed >= sealed


def test_taken_port_is_one_clear_sentence_and_a_non_zero_exit(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        ports = {name: _free_port() for name in ("ui", "simulator", "gateway")}
        ports["temporal"] = taken
        process = _start(tmp_path / "stack", ports)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"Port {taken} on 127.0.0.1 (Temporal frontend) is already in use" in output
    assert "Traceback" not in output
