"""The Temporal Web UI's Start Workflow form, filled in a real browser (Debian's chromium,
driven by Playwright) on ``samverkan dev``, as an operator opens a case: the page seals the
input through the codec endpoint (a cross-origin call from the browser), the case starts
and records its report, and Temporal's history holds only ciphertext under a single-use
intake key that the case adopted."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import async_playwright

from tests.board.test_board_browser import ARGS, CHROMIUM
from tests.e2e.test_dev_stack import (
    SAMVERKAN,
    TEMPORAL,
    _free_port,
    _start,
    _stop,
    _wait_until_up,
)

pytestmark = pytest.mark.e2e

NUMBER = "UIF-2026-0001"


def _example() -> str:
    return subprocess.run(
        [str(SAMVERKAN), "cases", "example", "--number", NUMBER],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()


async def _fill_and_start(ui_url: str, case_input: str) -> list[tuple[str, str]]:
    """Fill the form and press Start Workflow; the browser's POSTs (codec and Temporal)."""
    posts: list[tuple[str, str]] = []
    profile = tempfile.mkdtemp(prefix="samverkan-chromium-")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True
        )
        try:
            page = await browser.new_page()
            page.on(
                "request",
                lambda r: posts.append((r.method, r.url)) if r.method == "POST" else None,
            )
            await page.goto(f"{ui_url}/namespaces/default/workflows/start-workflow")
            await page.fill("#workflowId", f"case-{NUMBER}")
            await page.fill("#taskQueue", "samverkan-cases")
            await page.fill("#workflowType", "CaseWorkflow")
            await page.locator(".cm-content").first.click()
            await page.keyboard.insert_text(case_input)
            # leave the editor (the form takes its value on blur), as a person tabbing on would
            await page.locator("#workflowType").click()
            await page.locator("button", has_text="Start Workflow").last.click()
            deadline = time.monotonic() + 30
            while not any("/api/v1/namespaces/default/workflows/" in url for _, url in posts):
                assert time.monotonic() < deadline, f"the form sent nothing: {posts}"
                await page.wait_for_timeout(200)
        finally:
            await browser.close()
    return posts


def _history(address: str) -> dict[str, object]:
    shown = subprocess.run(
        [
            str(TEMPORAL),
            "workflow",
            "show",
            "-w",
            f"case-{NUMBER}",
            "--address",
            address,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    history: dict[str, object] = json.loads(shown.stdout)
    return history


async def _recorded(database_url: str) -> tuple[list[str], list[asyncpg.Record]]:
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            types = [
                r["type"]
                for r in await connection.fetch(
                    "SELECT type FROM events WHERE case_id = $1 ORDER BY version", NUMBER
                )
            ]
            if "ReportReceived" in types or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        keys = await connection.fetch(
            "SELECT key_id, owner_scope, namespace FROM data_keys WHERE scope LIKE 'intake:%'"
        )
    finally:
        await connection.close()
    return types, keys


async def test_an_operator_opens_a_case_with_the_web_uis_start_form(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in ("temporal", "ui", "simulator", "gateway")}
    data_dir = tmp_path / "stack"
    process = _start(data_dir, ports)
    try:
        endpoints = _wait_until_up(process, data_dir)
        posts = await _fill_and_start(endpoints["ui_url"], _example())
        types, keys = await _recorded(endpoints["database_url"])
        history = _history(endpoints["temporal_address"])
    finally:
        code, survivors = _stop(process)
    assert code == 0 and survivors == []

    # the browser sealed the input at the codec endpoint before it went to Temporal
    codec = [i for i, (_, url) in enumerate(posts) if "/codec/encode" in url]
    start = [i for i, (_, url) in enumerate(posts) if f"/workflows/case-{NUMBER}" in url]
    assert codec and start and codec[0] < start[0]
    assert types[:1] == ["ReportReceived"]
    text = json.dumps(history)
    assert "propaganda" not in text and "20120315-0004" not in text
    events = history["events"]
    assert isinstance(events, list)
    started = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    metadata = {k: base64.b64decode(v).decode() for k, v in started["metadata"].items()}
    assert metadata["encoding"] == "binary/encrypted"
    [intake] = [k for k in keys if k["key_id"] == metadata["encryption-key-id"]]
    assert (intake["owner_scope"], intake["namespace"]) == (f"case-{NUMBER}", "default")
