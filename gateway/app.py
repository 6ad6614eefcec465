"""The gateway's ASGI app: the agency API under /v1, the codec endpoints, /healthz.

Every /v1 call runs the same steps (`_AgencyCall`): authenticate (API key, or the identity a
trusted mTLS proxy puts in a header), rate-limit per agency, read the body up to the limit,
validate it, replay the first result of a known ``Idempotency-Key`` (422
``idempotency_key_reused`` when the key was first used for another route, consultation or
body: bodies are compared by a keyed digest of their fields, `RequestDigests`), act (update
or signal), then remember the result and write the audit row in one statement. Another
agency's consultation is a 404, the same as an unknown one: the updates' validators refuse
a wrong agency first (``wrong_agency``), and the information signal, which has no
validator, asks the workflow's ``status`` first (`Consultations.check_owner`). Responses
and audit rows never carry request text.

Round trips of an answer with an Idempotency-Key: the key lookup (PostgreSQL) when a key is
given, the case's data-key row (PostgreSQL: an unknown case must not get a key, see
`gateway.consultations`), the update (Temporal), the result and audit row (PostgreSQL); plus
authentication.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.common import MetricMeter

from cases import (
    AcknowledgeConsultation,
    AddInformation,
    Agency,
    AnswerConsultation,
    DeclineConsultation,
)
from cases.ids import is_consultation_id
from gateway.bodies import (
    MAX_JSON_DEPTH,
    BodyTooLarge,
    JsonInvalid,
    JsonTooDeep,
    parse_json,
    read_body,
)
from gateway.codec_routes import codec_routes
from gateway.config import GatewaySettings
from gateway.consultations import ConsultationNotFound, Consultations, Refused
from gateway.credentials import AgencyCredentials
from gateway.models import (
    AcknowledgeBody,
    AnswerBody,
    DeclineBody,
    InformationBody,
)
from gateway.openapi import openapi_document
from gateway.ratelimit import RateLimiter
from gateway.records import REUSED, AuditEntry, GatewayRecords, IdempotentResult, RequestDigests
from infra.codec import EncryptionCodec
from infra.keys import MasterKeys
from infra.metrics import UNAUTHENTICATED, record_gateway_request

log = structlog.get_logger("samverkan.gateway")

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass(frozen=True, slots=True)
class GatewayDeps:
    """What the app needs; `gateway.server` builds the real ones, tests may build their own."""

    consultations: Consultations
    credentials: AgencyCredentials
    records: GatewayRecords
    settings: GatewaySettings
    codec: EncryptionCodec | None = None
    #: Where `samverkan_gateway_requests` is counted (the process runtime's meter), if anywhere.
    meter: MetricMeter | None = None
    #: Key the Idempotency-Key request digests (`RequestDigests`); default: the codec's.
    master_keys: MasterKeys | None = None


class _Stop(Exception):
    """End the call with this status, error word and outcome label."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        code: str | None = None,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.code = status, error, code
        self.fields, self.headers = fields, headers or {}


def _fields(exc: ValidationError, model: type[BaseModel]) -> list[dict[str, str]]:
    """The problems of a body, naming only ``model``'s own fields: a property name the model
    does not know is the caller's text (it may be anything), so unknown ones are counted."""
    fields: list[dict[str, str]] = []
    unknown = 0
    for err in exc.errors(include_input=False, include_url=False):
        if err["type"] == "extra_forbidden":
            unknown += 1
            continue
        loc = err["loc"]
        known = bool(loc) and isinstance(loc[0], str) and loc[0] in model.model_fields
        fields.append(
            {
                "field": str(loc[0]) if known else "<body>",
                "problem": err["msg"],
                "type": err["type"],
            }
        )
    if unknown:
        plural = "property" if unknown == 1 else "properties"
        fields.append(
            {"field": "<body>", "problem": f"{unknown} unknown {plural}", "type": "extra_forbidden"}
        )
    return fields


_M = TypeVar("_M", bound=BaseModel)


def _as(body: BaseModel, model: type[_M]) -> _M:
    if not isinstance(body, model):  # the routes below pair each handler with its model
        raise TypeError(f"expected {model.__name__}")
    return body


Handler = Callable[[Request, Agency, "_AgencyCall"], Awaitable[tuple[int, dict[str, Any]]]]


class _AgencyCall:
    """Per-call context: request id, consultation id and outcome for the audit row."""

    def __init__(self, deps: GatewayDeps, limiter: RateLimiter) -> None:
        self.deps = deps
        self.limiter = limiter
        self.request_id = uuid.uuid4().hex
        self.outcome = "ok"
        self.keep: tuple[str, IdempotentResult] | None = None
        """Idempotency-Key and result to remember, written with the audit row."""

    async def authenticate(self, request: Request) -> Agency:
        header = self.deps.settings.samverkan_gateway_identity_header
        if header:
            named = request.headers.get(header)
            if named:
                try:
                    return Agency(named)
                except ValueError:
                    raise _Stop(401, "unauthenticated") from None
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        agency = (
            await self.deps.credentials.authenticate(key.strip())
            if scheme.lower() == "bearer"
            else None
        )
        if agency is None:
            raise _Stop(401, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})
        return agency

    async def body(self, request: Request, model: type[BaseModel]) -> BaseModel:
        try:
            raw = await read_body(request, self.deps.settings.samverkan_gateway_max_body_bytes)
        except BodyTooLarge:
            raise _Stop(413, "too_large") from None
        except ClientDisconnect:
            raise _Stop(400, "client_disconnected") from None
        if not raw.strip():
            raw = b"{}"
        try:
            data = parse_json(raw)
        except JsonTooDeep:
            problem = f"nested deeper than {MAX_JSON_DEPTH} levels"
            raise _Stop(
                422,
                "invalid_body",
                fields=[{"field": "<body>", "problem": problem, "type": "json_too_deep"}],
            ) from None
        except JsonInvalid:
            raise _Stop(
                422,
                "invalid_body",
                fields=[{"field": "<body>", "problem": "not valid JSON", "type": "json_invalid"}],
            ) from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise _Stop(422, "invalid_body", fields=_fields(exc, model)) from None


def _address(request: Request) -> str:
    """The client's address (the proxy's, unless uvicorn trusts its forwarded headers)."""
    return request.client.host if request.client else "-"


class _TrustedHosts:
    """Starlette's `TrustedHostMiddleware` (400 for another Host header), except ``/healthz``:
    health probes call by address (a kubelet sends the pod's IP) and it tells nothing."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self._app = app
        self._checked = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await self._app(scope, receive, send)
        else:
            await self._checked(scope, receive, send)


def create_app(deps: GatewayDeps) -> Starlette:
    """The gateway's ASGI application."""
    settings = deps.settings
    limiter = RateLimiter(
        per_minute=settings.samverkan_gateway_rate_per_minute,
        burst=settings.samverkan_gateway_burst,
    )
    failures = RateLimiter(  # failed authentications per client address, /v1 and /codec
        per_minute=settings.samverkan_gateway_auth_failures_per_minute,
        burst=settings.samverkan_gateway_auth_failure_burst,
    )
    document = openapi_document(settings)
    master_keys = deps.master_keys or (deps.codec.keys.master_keys if deps.codec else None)
    digests = (
        RequestDigests.from_master_keys(master_keys)
        if master_keys is not None
        else RequestDigests.for_this_process()
    )

    def agency_route(path: str, method: str, route_name: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            call = _AgencyCall(deps, limiter)
            consultation_id: str | None = request.path_params.get("consultation_id")
            # Only a well-formed id is audited or logged: the path is the caller's text.
            malformed = consultation_id is not None and not is_consultation_id(consultation_id)
            if malformed:
                consultation_id = None
            agency: Agency | None = None
            headers: dict[str, str] = {"X-Request-Id": call.request_id}
            try:
                try:
                    agency = await call.authenticate(request)
                except _Stop as stop:
                    # Only failures count, and a valid key is served from any address: an
                    # agency behind the same proxy or NAT as a failing client is never locked
                    # out (a 256-bit key cannot be guessed; the 429 tells the client to stop).
                    if stop.status == 401 and (wait := failures.take(f"v1 {_address(request)}")):
                        raise _Stop(
                            429,
                            "rate_limited",
                            code="authentication_failures",
                            headers={"Retry-After": str(int(wait) + 1)},
                        ) from None
                    raise
                if malformed:
                    raise _Stop(404, "not_found")
                wait = limiter.take(agency.value)
                if wait > 0:
                    raise _Stop(429, "rate_limited", headers={"Retry-After": str(int(wait) + 1)})
                status, body = await handler(request, agency, call)
            except _Stop as stop:
                status = stop.status
                call.outcome = stop.code or stop.error
                headers.update(stop.headers)
                body = {"error": stop.error, "request_id": call.request_id}
                if stop.code:
                    body["code"] = stop.code
                if stop.fields is not None:
                    body["fields"] = stop.fields
            except Exception as exc:  # Temporal or PostgreSQL unavailable: no details out
                status, call.outcome = 503, "unavailable"
                body = {"error": "unavailable", "request_id": call.request_id}
                log.warning("gateway.unavailable", error_type=type(exc).__name__, route=route_name)
            entry = AuditEntry(
                agency=agency.value if agency else None,
                method=method,
                route=route_name,
                consultation_id=consultation_id if agency is not None else None,
                status=status,
                outcome=call.outcome,
                request_id=call.request_id,
            )
            try:
                if call.keep is None:
                    await deps.records.audit(entry)
                else:
                    kept = await deps.records.audit_and_remember(entry, *call.keep)
                    call.outcome = kept.outcome
                    if kept.outcome == REUSED:  # a concurrent call kept another request
                        status, body = 422, {"error": REUSED, "request_id": call.request_id}
                    else:
                        status, body = kept.result.status, kept.result.body
            except Exception as exc:  # an unaudited call must not succeed silently
                log.error("gateway.audit_failed", error_type=type(exc).__name__)
                status, body = 503, {"error": "unavailable", "request_id": call.request_id}
            if deps.meter is not None:
                record_gateway_request(
                    deps.meter, agency=entry.agency or UNAUTHENTICATED, route=path, status=status
                )
            log.info(
                "gateway.call",
                agency=entry.agency,
                route=route_name,
                consultation_id=entry.consultation_id,
                status=status,
                outcome=call.outcome,
                request_id=call.request_id,
            )
            return JSONResponse(body, status_code=status, headers=headers)

        return Route(path, endpoint, methods=[method], name=route_name)

    def action(
        route_name: str,
        body_model: type[BaseModel],
        act: Callable[[str, Agency, BaseModel, str], Awaitable[tuple[int, str]]],
    ) -> Handler:
        async def handler(
            request: Request, agency: Agency, call: _AgencyCall
        ) -> tuple[int, dict[str, Any]]:
            consultation_id: str = request.path_params["consultation_id"]
            key = request.headers.get("idempotency-key")
            if key is not None and not _IDEMPOTENCY_KEY.match(key):
                raise _Stop(
                    422,
                    "invalid_header",
                    fields=[
                        {
                            "field": "Idempotency-Key",
                            "problem": "1 to 200 visible ASCII characters",
                            "type": "header_invalid",
                        }
                    ],
                )
            body = await call.body(request, body_model)
            request_text = body.model_dump_json().encode()  # the fields: formatting aside
            if key is not None:
                first = await deps.records.first_result(agency.value, key)
                if first is not None:
                    if (
                        first.route != route_name
                        or first.consultation_id != consultation_id
                        or not digests.matches(first.request_digest, request_text)
                    ):
                        raise _Stop(422, REUSED)
                    call.outcome = "idempotent_replay"
                    return first.status, first.body
            try:
                update_id = f"gw-{agency.value}-{key}" if key else f"gw-{uuid.uuid4().hex}"
                status, result = await act(consultation_id, agency, body, update_id)
            except ConsultationNotFound:
                raise _Stop(404, "not_found") from None
            except Refused as refused:
                if not refused.conflict:
                    raise _Stop(422, "refused", code=refused.code) from None
                status, call.outcome = 409, refused.code
                response: dict[str, Any] = {
                    "error": "conflict",
                    "code": refused.code,
                    "request_id": call.request_id,
                }
            else:
                response = {"consultation_id": consultation_id, "result": result}
            if key is not None:  # kept with the audit row (agency_route)
                digest = digests.of(request_text)
                kept = IdempotentResult(route_name, consultation_id, status, response, digest)
                call.keep = (key, kept)
            return status, response

        return handler

    async def acknowledge(cid: str, agency: Agency, _: BaseModel, uid: str) -> tuple[int, str]:
        command = AcknowledgeConsultation(agency=agency, consultation_id=cid)
        return 200, await deps.consultations.update(
            cid, "acknowledge", command, agency=agency, update_id=uid
        )

    async def answer(cid: str, agency: Agency, body: BaseModel, uid: str) -> tuple[int, str]:
        body = _as(body, AnswerBody)
        command = AnswerConsultation(agency=agency, answer=body.answer, consultation_id=cid)
        return 200, await deps.consultations.update(
            cid, "answer", command, agency=agency, update_id=uid
        )

    async def decline(cid: str, agency: Agency, body: BaseModel, uid: str) -> tuple[int, str]:
        body = _as(body, DeclineBody)
        command = DeclineConsultation(agency=agency, reason=body.reason, consultation_id=cid)
        return 200, await deps.consultations.update(
            cid, "decline", command, agency=agency, update_id=uid
        )

    async def information(cid: str, agency: Agency, body: BaseModel, _: str) -> tuple[int, str]:
        body = _as(body, InformationBody)
        notice = AddInformation(source=f"agency:{agency.value}", information=body.information)
        await deps.consultations.check_owner(cid, agency)  # a signal has no validator
        await deps.consultations.signal_case(cid, "add_information", notice)
        return 202, "accepted"

    async def list_open(
        request: Request, agency: Agency, call: _AgencyCall
    ) -> tuple[int, dict[str, Any]]:
        return 200, {
            "agency": agency.value,
            "consultations": await deps.consultations.open_for(agency),
        }

    async def read_one(
        request: Request, agency: Agency, call: _AgencyCall
    ) -> tuple[int, dict[str, Any]]:
        try:
            return 200, await deps.consultations.detail(
                request.path_params["consultation_id"], agency
            )
        except ConsultationNotFound:
            raise _Stop(404, "not_found") from None

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    base = "/v1/consultations/{consultation_id}"
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/v1/openapi.json", openapi, methods=["GET"]),
        agency_route("/v1/consultations", "GET", "list", list_open),
        agency_route(base, "GET", "read", read_one),
        agency_route(
            f"{base}/acknowledge",
            "POST",
            "acknowledge",
            action("acknowledge", AcknowledgeBody, acknowledge),
        ),
        agency_route(f"{base}/answer", "POST", "answer", action("answer", AnswerBody, answer)),
        agency_route(f"{base}/decline", "POST", "decline", action("decline", DeclineBody, decline)),
        agency_route(
            f"{base}/information",
            "POST",
            "information",
            action("information", InformationBody, information),
        ),
    ]
    if deps.codec is not None:
        routes.extend(codec_routes(deps.codec, settings, failures, records=deps.records))
    return Starlette(
        routes=routes,
        middleware=[Middleware(_TrustedHosts, allowed_hosts=settings.allowed_hosts())],
    )
