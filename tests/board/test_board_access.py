"""Who sees which board: the operators' OIDC token with ``<namespace>:<role>`` permissions
(the codec endpoint's), municipality mapped to namespace; open only in dev, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from gateway.config import GatewaySettings
from infra.settings import get_settings
from samverkan.board.access import BoardNotConfigured, BoardSettings, Namespaces, board_access
from samverkan.board.app import create_board_app
from samverkan.cli import build_app
from tests.board.streams import NOW_BOARD, PERSONAL
from tests.oidc_issuer import ISSUER


@pytest_asyncio.fixture(loop_scope="session")
async def client(board_pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    settings = BoardSettings(samverkan_board_namespaces="Malmö=samverkan-malmo,Lund=samverkan-lund")
    access = board_access(settings, GatewaySettings(**ISSUER.settings()))  # type: ignore[arg-type]
    app = create_board_app(
        board_pool,
        access,
        Namespaces(settings.namespace_map()),
        "http://ui.test",
        clock=lambda: NOW_BOARD,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://board.test") as http:
        yield http


def bearer(*permissions: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ISSUER.token(permissions)}"}


async def test_an_operator_sees_only_their_municipality(client: httpx.AsyncClient) -> None:
    malmo = bearer("samverkan-malmo:read")

    own = await client.get("/m/Malm%C3%B6", headers=malmo)
    other = await client.get("/m/Lund", headers=malmo)
    index = await client.get("/", headers=malmo)

    assert own.status_code == 200 and "2026-D4" in own.text
    assert "/namespaces/samverkan-malmo/workflows/case-2026-D4" in own.text
    assert other.status_code == 403 and "2026-E5" not in other.text
    assert "/m/Malm%C3%B6" in index.text and "/m/Lund" not in index.text


async def test_no_token_a_bad_token_or_a_worker_role_sees_nothing(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/m/Lund")
    forged = await client.get("/m/Lund", headers={"Authorization": "Bearer not.a.token"})
    worker = await client.get("/m/Lund", headers=bearer("samverkan-lund:worker"))
    system = await client.get("/m/Lund", headers=bearer("temporal-system:admin"))

    assert (missing.status_code, forged.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert (worker.status_code, system.status_code) == (403, 403)


async def test_the_compliance_page_is_the_reports_figures(client: httpx.AsyncClient) -> None:
    page = await client.get(
        "/m/Lund/compliance?from=2026-01-01&to=2026-01-31", headers=bearer("samverkan-lund:write")
    )
    bad = await client.get("/m/Lund/compliance?from=jan", headers=bearer("samverkan-lund:write"))

    assert page.status_code == 200
    assert page.text.count("<svg") == 5
    assert "SoL (2025:400) 20 kap. 1 §" in page.text  # Lund's protection assessment
    assert bad.status_code == 400


def test_open_access_is_for_loopback_only_and_otherwise_sign_on_is_required() -> None:
    open_here = BoardSettings(samverkan_board_dev_open=True)
    open_wide = BoardSettings(samverkan_board_dev_open=True, samverkan_board_host="0.0.0.0")

    assert type(board_access(open_here, GatewaySettings())).__name__ == "DevOpenAccess"
    with pytest.raises(BoardNotConfigured, match="loopback"):
        board_access(open_wide, GatewaySettings())
    with pytest.raises(BoardNotConfigured, match="OIDC"):
        board_access(BoardSettings(), GatewaySettings())


def test_samverkan_report_writes_one_self_contained_file(
    board_pool: asyncpg.Pool, database_url: str, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    out = tmp_path / "ivo.html"
    try:
        result = CliRunner().invoke(
            build_app(("board",)),
            [
                "report",
                "--municipality",
                "Malmö",
                "--from",
                "2026-01-01",
                "--to",
                "2026-02-28",
                "--out",
                str(out),
            ],
        )
        backwards = CliRunner().invoke(
            build_app(("board",)),
            [
                "report",
                "--municipality",
                "Malmö",
                "--from",
                "2026-03-01",
                "--to",
                "2026-02-28",
                "--out",
                str(out),
            ],
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 5 and "<script" not in html and "<link" not in html
    assert "src=" not in html  # nothing loaded from elsewhere
    assert "SoL (2025:400) 20 kap. 2 § (unverified) (4 deadlines)" in html
    assert "<td>2026-01</td><td>police</td><td class=n>2</td><td class=n>4.0</td>" in html
    for personal in PERSONAL:
        assert personal not in html
    assert backwards.exit_code == 2 and "--from must not be after --to" in backwards.output
