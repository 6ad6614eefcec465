"""The agency simulator: a real HTTP server on loopback that plays the agencies' systems.

It serves what `activities.agencies.HttpAgencySystem` and
`activities.notifications.NotificationActivities` call, so in dev and tests every activity
runs exactly as it would against a real agency:

| route | what |
|---|---|
| ``POST /agencies/{agency}/consultations`` | receive a consultation request (201, a reference) |
| ``POST /agencies/{agency}/notices`` | receive a reminder or escalation notice |
| ``GET /agencies/{agency}/consultations/{id}`` | the request's state (404 if unknown) |
| ``POST /notifications`` | receive an escalation notice for a person |
| ``/idp/…`` | ``samverkan dev --auth`` only: the dev identity provider (`simulator.idp`) |

Every POST needs an ``Idempotency-Key``; a repeat returns the first response (header
``Idempotent-Replayed: true``) and creates nothing. Each agency behaves as its
`AgencyBehaviour` says (config file, or the admin API); after creating a consultation it
answers back through a `ConsultationResponder`: ``acknowledge`` then ``answer``/``decline``
through the agency gateway (`GatewayResponder`, as a real agency; ``samverkan simulator``),
or, in tests that give it the gateway's attestation key, as Temporal updates on the workflow
whose id is the consultation id (`TemporalUpdateResponder`).

Admin API (``notifications`` is a target name wherever an agency is):

| route | what |
|---|---|
| ``GET/PUT /_admin/agencies/{agency}/behaviour`` | read / replace an `AgencyBehaviour` |
| ``GET /_admin/received[?agency=]`` | every request: method, path, headers, body, received_at |
| ``GET /_admin/created[?agency=]`` | the distinct requests created (one per idempotency key) |
| ``GET /_admin/replies[?agency=]`` | answer-back attempts, with ``outcome`` delivered/failed |
| ``POST /_admin/reset`` | forget everything; behaviours back to the configuration |
| ``GET /_admin/health`` | liveness |

Run it with `run_simulator` (``samverkan simulator``) or, in-process on an ephemeral port,
with ``async with running_simulator(config, responder) as url: ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import structlog
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.embedded import serving
from simulator.idp import DevIdentityProvider
from simulator.responder import ConsultationResponder, NullResponder
from simulator.state import (
    NOTIFICATIONS,
    AgencyBehaviour,
    CreatedKind,
    SimulatorConfig,
    SimulatorState,
    StoredResponse,
)

__all__ = [
    "AgencyBehaviour",
    "SimulatorConfig",
    "create_simulator_app",
    "run_simulator",
    "running_simulator",
]

log = structlog.get_logger(__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


async def _body_as_received(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


async def _receive(request: Request, target: str) -> tuple[SimulatorState, Any]:
    state = _state(request)
    body = await _body_as_received(request)
    state.record_received(
        target=target,
        method=request.method,
        path=request.url.path,
        headers=dict(request.headers),
        body=body,
    )
    return state, body


async def _play(
    request: Request,
    *,
    target: str,
    kind: CreatedKind | None,
) -> Response:
    """Record the call, then answer as ``target``'s behaviour says.

    ``kind`` None is a status read; otherwise a delivery to create once per key.
    """
    state, body = await _receive(request, target)
    if target not in state.targets:
        return _error(404, "unknown agency")
    behaviour = state.behaviour(target)
    if behaviour.require_bearer is not None:
        expected = f"Bearer {behaviour.require_bearer}"
        if request.headers.get("authorization") != expected:
            return _error(401, "missing or wrong credentials")
    if behaviour.reject is not None:
        return _error(behaviour.reject, "rejected by simulated agency")
    if state.take_failure(target):
        return _error(500, "simulated failure")

    if kind is None:
        response = _status_of(state, target, request.path_params["consultation_id"])
    else:
        key = request.headers.get("idempotency-key")
        if not key:
            return _error(400, "Idempotency-Key header is required")
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        consultation_id = body.get("consultation_id") if kind == "consultation" else None
        if kind == "consultation" and not isinstance(consultation_id, str):
            return _error(422, "consultation_id is required")
        stored, created_now = state.create_once(
            target=target, kind=kind, key=key, body=body, consultation_id=consultation_id
        )
        if created_now and kind == "consultation":
            state.start_answering(state.created[-1])
        log.info(
            "simulated system received",
            target=target,
            kind=kind,
            idempotency_key=key,
            replayed=not created_now,
        )
        response = _stored(stored, replayed=not created_now)
    if behaviour.slow:
        await asyncio.sleep(behaviour.slow)
    return response


def _stored(stored: StoredResponse, *, replayed: bool) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(stored.body, status_code=stored.status, headers=headers)


def _status_of(state: SimulatorState, target: str, consultation_id: str) -> Response:
    created = state.consultations.get((target, consultation_id))
    if created is None:
        return _error(404, "unknown consultation")
    return JSONResponse(
        {
            "consultation_id": consultation_id,
            "state": created.state,
            "agency_reference": created.reference,
            "updated_at": created.updated_at,
        }
    )


async def _deliver_consultation(request: Request) -> Response:
    return await _play(request, target=request.path_params["agency"], kind="consultation")


async def _deliver_notice(request: Request) -> Response:
    return await _play(request, target=request.path_params["agency"], kind="notice")


async def _consultation_status(request: Request) -> Response:
    return await _play(request, target=request.path_params["agency"], kind=None)


async def _notification(request: Request) -> Response:
    return await _play(request, target=NOTIFICATIONS, kind="notification")


async def _behaviour(request: Request) -> Response:
    state = _state(request)
    target = request.path_params["agency"]
    if target not in state.targets:
        return _error(404, "unknown agency")
    if request.method == "PUT":
        try:
            behaviour = AgencyBehaviour.model_validate_json(await request.body())
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]) or "<root>", "message": e["msg"]}
                for e in exc.errors(include_input=False, include_url=False)
            ]
            return JSONResponse({"error": "invalid behaviour", "problems": problems}, 422)
        state.set_behaviour(target, behaviour)
        log.info("simulated behaviour set", target=target)
    return JSONResponse(state.behaviour(target).model_dump(mode="json"))


def _filtered(request: Request, rows: list[dict[str, Any]], field: str) -> JSONResponse:
    target = request.query_params.get("agency")
    return JSONResponse([r for r in rows if target is None or r[field] == target])


async def _received(request: Request) -> Response:
    return _filtered(request, _state(request).received, "target")


async def _created(request: Request) -> Response:
    return _filtered(request, [c.as_json() for c in _state(request).created], "target")


async def _replies(request: Request) -> Response:
    return _filtered(request, _state(request).replies, "agency")


async def _reset(request: Request) -> Response:
    await _state(request).reset()
    return JSONResponse({"reset": True})


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "targets": list(_state(request).targets)})


def create_simulator_app(
    config: SimulatorConfig | None = None,
    responder: ConsultationResponder | None = None,
    *,
    idp: DevIdentityProvider | None = None,
) -> Starlette:
    """The simulator as an ASGI app.

    Args:
        config: start-up behaviours (default: every agency answers at once).
        responder: how agencies answer back (default: nowhere — `NullResponder`).
        idp: the dev stack's identity provider, served under ``/idp`` (``samverkan dev
            --auth``); none by default.
    """
    state = SimulatorState(
        config=config or SimulatorConfig(), responder=responder or NullResponder()
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.cancel_tasks()

    app = Starlette(
        routes=[
            Route("/agencies/{agency}/consultations", _deliver_consultation, methods=["POST"]),
            Route("/agencies/{agency}/notices", _deliver_notice, methods=["POST"]),
            Route(
                "/agencies/{agency}/consultations/{consultation_id}",
                _consultation_status,
                methods=["GET"],
            ),
            Route("/notifications", _notification, methods=["POST"]),
            Route("/_admin/agencies/{agency}/behaviour", _behaviour, methods=["GET", "PUT"]),
            Route("/_admin/received", _received, methods=["GET"]),
            Route("/_admin/created", _created, methods=["GET"]),
            Route("/_admin/replies", _replies, methods=["GET"]),
            Route("/_admin/reset", _reset, methods=["POST"]),
            Route("/_admin/health", _health, methods=["GET"]),
            *(idp.routes() if idp is not None else []),
        ],
        lifespan=lifespan,
    )
    app.state.simulator = state
    return app


@contextlib.asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | None = None,
    responder: ConsultationResponder | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    idp: DevIdentityProvider | None = None,
) -> AsyncIterator[str]:
    """Run the simulator in this event loop; yields its base URL (``http://127.0.0.1:<port>``).

    ``port=0`` picks a free port. The server stops when the block exits.
    """
    app = create_simulator_app(config, responder, idp=idp)
    async with serving(app, host=host, port=port, name="simulator") as url:
        yield url


async def run_simulator(
    *,
    host: str = "127.0.0.1",
    port: int = 8240,
    config: SimulatorConfig | None = None,
    responder: ConsultationResponder | None = None,
    idp: DevIdentityProvider | None = None,
) -> None:
    """Serve the simulator on ``host:port`` until interrupted (Ctrl-C / SIGTERM).

    Args:
        config: start-up behaviours.
        responder: how agencies answer back (`GatewayResponder` in ``samverkan
            simulator``); it is first used on the first answer, so the simulator may start
            before the gateway and Temporal.
        idp: the dev identity provider to serve under ``/idp``, if any.
    """
    app = create_simulator_app(config, responder, idp=idp)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    )
    log.info("agency simulator listening", url=f"http://{host}:{port}")
    await server.serve()
