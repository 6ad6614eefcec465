"""The board in a real headless Chromium (Debian's, driven by Playwright from the lock; no
browser is downloaded): the panels, the links to the Web UI, the compliance plots.

``SAMVERKAN_UPDATE_SCREENSHOTS=1`` also writes docs/board.png and docs/board-plot.png.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import asyncpg
from playwright.async_api import async_playwright

from gateway.oidc import DevOpenAccess
from infra.embedded import serving
from samverkan.board.access import Namespaces
from samverkan.board.app import OPEN_NOTE, create_board_app
from tests.board.streams import NOW_BOARD, PERSONAL

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_the_board_in_chromium(board_pool: asyncpg.Pool) -> None:
    app = create_board_app(
        board_pool,
        DevOpenAccess(),
        Namespaces({}, fallback="samverkan-malmo"),
        "http://127.0.0.1:8233",
        open_note=OPEN_NOTE,
        clock=lambda: NOW_BOARD,
    )
    profile = tempfile.mkdtemp(prefix="samverkan-chromium-")
    update = os.environ.get("SAMVERKAN_UPDATE_SCREENSHOTS") == "1"
    try:
        async with serving(app, name="board") as url, async_playwright() as playwright:
            browser = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=ARGS,
                headless=True,
                viewport={"width": 1100, "height": 900},
            )
            try:
                page = await browser.new_page()
                await page.goto(f"{url}/")
                await page.click("text=Malmö")
                assert page.url == f"{url}/m/Malm%C3%B6"

                assert "NO authentication" in await page.inner_text(".open-access")
                states = await page.inner_text("#open-by-state")
                assert "Open cases by state (3)" in states
                assert "Pre-assessment\t1" in states and "Decided\t1" in states
                overdue = await page.inner_text("#overdue tbody")
                assert overdue.split("\t")[:2] == ["2026-D4", "Pre-assessment"]
                assert "\t2\t" in overdue  # working days late
                assert "Answer from police" in await page.inner_text("#due-soon")
                waiting = await page.inner_text("#waiting")
                assert "police (1)" in waiting and "15.1" in waiting
                assert "Pre-assessment\t2\t2" in await page.inner_text("#escalated")
                link = page.locator("#overdue a.case")
                assert await link.get_attribute("href") == (
                    "http://127.0.0.1:8233/namespaces/samverkan-malmo/workflows/case-2026-D4"
                )
                body = await page.inner_text("body")
                assert "2026-E5" not in body  # Lund's case
                assert not any(personal in body for personal in PERSONAL)
                if update:
                    await page.screenshot(path=str(DOCS / "board.png"), full_page=True)

                await page.goto(f"{url}/m/Malm%C3%B6/compliance?from=2026-01-01&to=2026-02-28")
                figure = page.locator("#pre_assessment figure")
                box = await figure.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100
                assert await page.locator("svg").count() == 5
                table = await page.inner_text("#pre_assessment table")
                assert "2026-01\t2\t1\t50%" in table
                if update:
                    await figure.locator("svg").screenshot(path=str(DOCS / "board-plot.png"))
            finally:
                await browser.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
