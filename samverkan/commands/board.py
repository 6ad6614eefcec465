"""``samverkan board`` and ``samverkan report``: the coordinator board and the compliance
report, read from the ``board`` read models in PostgreSQL (``samverkan projections``).

- ``board`` serves the board (``SAMVERKAN_BOARD_HOST``/``_PORT``, 127.0.0.1:8252) until
  Ctrl-C, behind the operators' OIDC sign-on (the codec endpoint's settings) or, in
  ``samverkan dev`` only, open on loopback (``SAMVERKAN_BOARD_DEV_OPEN``);
- ``report --municipality M --from DATE --to DATE --out FILE`` writes the compliance figures
  as one self-contained HTML file (plots inline, with the table behind each and the legal
  reference of each deadline).

Operator errors end in one sentence on stderr and exit code 2; the DSN is never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from samverkan.commands import database_url, fail


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} takes a date as YYYY-MM-DD, not {text!r}.") from None


def board_command() -> None:
    """Serve the coordinator board (one page per municipality) until Ctrl-C."""
    from eventstore import create_pool
    from gateway.config import GatewaySettings
    from infra.embedded import serving
    from infra.settings import get_settings
    from samverkan.board.access import BoardNotConfigured, BoardSettings, Namespaces, board_access
    from samverkan.board.app import OPEN_NOTE, create_board_app

    settings = BoardSettings()
    try:
        access = board_access(settings, GatewaySettings())
    except BoardNotConfigured as exc:
        raise fail(f"The board is not served: {exc}.") from None
    dev_open = settings.samverkan_board_dev_open and not GatewaySettings().codec_oidc_configured()
    fallback = get_settings().namespaces()[0] if dev_open else None
    namespaces = Namespaces(settings.namespace_map(), fallback)
    url = database_url()

    async def serve() -> None:
        pool = await create_pool(url, min_size=1, max_size=4)
        try:
            app = create_board_app(
                pool,
                access,
                namespaces,
                settings.samverkan_ui_url,
                open_note=OPEN_NOTE if dev_open else "",
            )
            async with serving(
                app,
                host=settings.samverkan_board_host,
                port=settings.samverkan_board_port,
                name="board",
            ) as served:
                how = "NO authentication (dev only), loopback only" if dev_open else "OIDC sign-on"
                typer.echo(f"Coordinator board {served}/ ({how}; Ctrl-C stops).")
                await asyncio.Event().wait()
        finally:
            await pool.close()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise fail(f"The board cannot start ({type(exc).__name__}).") from None


def report_command(
    municipality: Annotated[str, typer.Option("--municipality", help="The municipality.")],
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
) -> None:
    """Write the compliance report as one self-contained HTML file."""
    from eventstore import create_pool
    from samverkan.board.compliance import read_compliance
    from samverkan.board.pages import all_plots, report_page

    first, last = _date(start, "--from"), _date(end, "--to")
    if first > last:
        raise fail("--from must not be after --to.")
    url = database_url()

    async def read() -> str:
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            figures = await read_compliance(pool, municipality, first, last, datetime.now(UTC))
        finally:
            await pool.close()
        return report_page(figures, all_plots(figures))

    try:
        html = asyncio.run(read())
    except asyncpg.UndefinedTableError:
        raise fail("The read models are missing: run `samverkan migrate` first.") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise fail(f"Cannot read the event store's PostgreSQL ({type(exc).__name__}).") from None
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise fail(f"Cannot write {out} ({type(exc).__name__}).") from None
    typer.echo(f"Wrote the compliance report of {municipality} to {out}.")


def register(app: typer.Typer) -> None:
    """Add ``board`` and ``report`` to ``app``."""
    app.command("board")(board_command)
    app.command("report")(report_command)
