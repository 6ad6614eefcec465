"""The coordinator board as a starlette app: ``/`` lists the municipalities the operator may
see, ``/m/{municipality}`` is one municipality's board, ``/m/{municipality}/compliance`` its
compliance over time (``?from=YYYY-MM-DD&to=YYYY-MM-DD``, default the last twelve months).

Each request is authenticated (`samverkan.board.access`): 401 without a valid bearer token,
403 for a municipality the operator has no role on, 503 when the issuer's keys cannot be
fetched. Responses name no token, claim or personal data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from cases.workdays import local_date
from gateway.oidc import CodecAccess, JwksUnavailable, Principal, TokenRefused

from . import pages
from .access import Namespaces
from .compliance import read_compliance
from .queries import municipalities, read_board

log = structlog.get_logger("samverkan.board")
Clock = Callable[[], datetime]
OPEN_NOTE = (
    "<p class=open-access>Development board: NO authentication, served on loopback only "
    "(samverkan dev).</p>"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_board_app(
    pool: asyncpg.Pool,
    access: CodecAccess,
    namespaces: Namespaces,
    ui_url: str,
    *,
    open_note: str = "",
    clock: Clock = _utcnow,
) -> Starlette:
    """The board app on ``pool`` (the read models' database)."""

    async def caller(request: Request) -> Principal | Response:
        try:
            return await access.principal(request.headers.get("authorization"))
        except TokenRefused as refused:
            log.info("board token refused", reason=refused.reason)
            return PlainTextResponse(
                "Sign in: a valid bearer token is needed.",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        except JwksUnavailable:
            return PlainTextResponse("The sign-on keys cannot be fetched now.", status_code=503)

    async def allowed(request: Request) -> tuple[str, str] | Response:
        principal = await caller(request)
        if isinstance(principal, Response):
            return principal
        municipality = request.path_params["municipality"]
        namespace = namespaces.visible(principal, municipality)
        if namespace is None:
            return PlainTextResponse(
                "You have no role on this municipality's namespace.", status_code=403
            )
        return municipality, namespace

    async def index(request: Request) -> Response:
        principal = await caller(request)
        if isinstance(principal, Response):
            return principal
        names = [m for m in await municipalities(pool) if namespaces.visible(principal, m)]
        return HTMLResponse(pages.index_page(names, open_note))

    async def board(request: Request) -> Response:
        found = await allowed(request)
        if isinstance(found, Response):
            return found
        municipality, namespace = found
        read = await read_board(pool, municipality, clock())
        return HTMLResponse(pages.board_page(read, ui_url, namespace, open_note))

    async def compliance(request: Request) -> Response:
        found = await allowed(request)
        if isinstance(found, Response):
            return found
        municipality, _ = found
        now = clock()
        try:
            end = date.fromisoformat(request.query_params.get("to") or local_date(now).isoformat())
            start = date.fromisoformat(
                request.query_params.get("from")
                or (end.replace(day=1) - timedelta(days=334)).replace(day=1).isoformat()
            )
        except ValueError:
            return PlainTextResponse("from and to are dates: YYYY-MM-DD.", status_code=400)
        if start > end:
            return PlainTextResponse("from must not be after to.", status_code=400)
        figures = await read_compliance(pool, municipality, start, end, now)
        plots = await asyncio.to_thread(pages.all_plots, figures)
        back = (
            f'<p class=note><a href="{pages.municipality_path(municipality)}">Back to the '
            "board</a></p>"
        )
        return HTMLResponse(pages.report_page(figures, plots, open_note + back))

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/m/{municipality}", board),
            Route("/m/{municipality}/compliance", compliance),
        ]
    )
