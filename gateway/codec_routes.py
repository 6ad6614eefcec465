"""Temporal's remote codec protocol for the Web UI and the ``temporal`` CLI, on a listener of
its own (`create_codec_app`, port ``SAMVERKAN_CODEC_PORT``, 8251): never the agency API's.

``POST /codec/encode`` and ``POST /codec/decode`` take and return ``{"payloads": [...]}`` in
protobuf JSON (metadata values and data base64). Every request needs ``Authorization: Bearer
<OIDC access token>`` (the Web UI user's, `gateway.oidc`): 401 without a valid one. The
``X-Namespace`` header must name a namespace this endpoint serves (403 ``unknown_namespace``)
and the token must grant it (403 ``forbidden``: ``read``/``write``/``admin`` to decode,
``write``/``admin`` to encode). Without OIDC settings there is no codec endpoint at all
(`codec_access` raises `CodecNotConfigured`), except the dev stack's loopback-only
``SAMVERKAN_CODEC_DEV_OPEN``. CORS answers the Web UI's preflight (OPTIONS) on both routes. A
body over ``SAMVERKAN_CODEC_MAX_BODY_BYTES`` is 413 before it is read (``Content-Length``) or
as soon as the stream passes the limit.

Every answered call is audited: one log line ``gateway.codec`` (subject, namespace, action,
number of payloads, status, request id; never content) and, when the app has the records, a
``gateway_audit`` row with the same subject, namespace and number of payloads (migration 0007)
and its route, status, outcome and request id. The namespace is recorded only when this
endpoint serves it, so a caller cannot write arbitrary text into the audit.

``/codec/encode`` seals each request under a fresh single-use *intake* key
(`infra.codec.EncryptionCodec.encode_intake`), bound to the ``X-Namespace``: the case it is
for adopts the key when its worker decodes the payload, so shredding the case destroys what
was typed for it. Before sealing, each payload is stamped with the signed-in officer
(`gateway.oidc.Principal.sealed_by`, inside the ciphertext; not with the dev stack's open
access), and the case workflow refuses a ``decided_by`` / ``requested_by`` that is not that
officer (`infra.converter`).

Keys are bound to the namespace that first used them (`infra.keys.KeyOfAnotherNamespace`): a
decode of a payload under another namespace's key is 403 ``other_namespace`` for the whole
call (no payload answered, counted 0, audited as a refusal), whatever namespaces the token
grants; the answer names no key and no namespace.

``/codec/decode`` answers without Samverkan's own metadata (``samverkan-*``: the officer
stamp, an intake key's owner), so what was encoded decodes to what the operator sent.

A payload whose case key was shredded decodes to a JSON marker saying so; one that cannot be
decrypted for another reason is returned unchanged (still ciphertext), so one bad payload never
hides a whole history. When the key store cannot be used at all the answer is 503
``{"error": "unavailable"}`` and one log line naming the error's type, never a traceback.
"""

from __future__ import annotations

import json
import uuid

import structlog
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from gateway.bodies import BodyTooLarge, read_body
from gateway.config import GatewaySettings, is_loopback
from gateway.oidc import (
    Action,
    CodecAccess,
    DevOpenAccess,
    JwksUnavailable,
    Principal,
    TokenRefused,
)
from gateway.ratelimit import RateLimiter
from gateway.records import AuditEntry, GatewayRecords
from infra.codec import EncryptionCodec, PayloadDecryptionError, PayloadKeyShredded
from infra.converter import drop_reserved_metadata
from infra.keys import KeyError_, KeyOfAnotherNamespace

log = structlog.get_logger("samverkan.gateway")

SHREDDED_MARKER = {"redacted": "personal data destroyed: the case key was shredded"}
_ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


class CodecNotConfigured(Exception):
    """The codec endpoint has no way to authenticate its callers (one sentence, settings only)."""


def codec_access(settings: GatewaySettings) -> CodecAccess:
    """How the codec endpoint authenticates: OIDC when configured; the dev stack's open access
    only when asked for and on a loopback address.

    Raises:
        CodecNotConfigured: neither, or the removed static token is set, or dev access on a
            non-loopback address.
    """
    if settings.samverkan_codec_token:
        raise CodecNotConfigured(
            "SAMVERKAN_CODEC_TOKEN is no longer accepted: the codec endpoint checks each Web UI "
            "user's OIDC access token (SAMVERKAN_CODEC_OIDC_ISSUER, _AUDIENCE, _JWKS_URL)"
        )
    verifier = settings.oidc_verifier()
    if verifier is not None:
        return verifier
    if settings.samverkan_codec_dev_open:
        if not is_loopback(settings.samverkan_codec_host):
            raise CodecNotConfigured(
                "SAMVERKAN_CODEC_DEV_OPEN serves the codec without authentication and is allowed "
                f"on a loopback address only, not {settings.samverkan_codec_host}"
            )
        return DevOpenAccess()
    raise CodecNotConfigured(
        "the codec endpoint needs SAMVERKAN_CODEC_OIDC_ISSUER, SAMVERKAN_CODEC_OIDC_AUDIENCE and "
        "SAMVERKAN_CODEC_OIDC_JWKS_URL (the Web UI's sign-on); it is not served without them"
    )


def _cors(request: Request, settings: GatewaySettings) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin is None or origin not in settings.codec_origins():
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def codec_routes(
    codec: EncryptionCodec,
    settings: GatewaySettings,
    failures: RateLimiter,
    *,
    access: CodecAccess | None = None,
    records: GatewayRecords | None = None,
) -> list[Route]:
    """The two codec routes, served with ``codec``'s keys; ``failures`` limits refused tokens
    per client address; ``access`` authenticates (default `codec_access` of ``settings``);
    ``records``, when given, gets an audit row per answered call.

    Raises:
        CodecNotConfigured: no ``access`` given and ``settings`` configure none.
    """
    access = access or codec_access(settings)

    def locked_out(wait: float, cors: dict[str, str]) -> Response:
        return JSONResponse(
            {"error": "rate_limited", "code": "authentication_failures"},
            status_code=429,
            headers={**cors, "Retry-After": str(int(wait) + 1)},
        )

    async def handle(request: Request) -> Response:
        cors = _cors(request, settings)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=cors)
        action: Action = "encode" if request.url.path.endswith("/encode") else "decode"
        # An address that failed too often gets no answer about any token until its bucket
        # refills.
        address = f"codec {request.client.host if request.client else '-'}"
        if (wait := failures.wait(address)) > 0:
            return locked_out(wait, cors)
        try:
            principal = await access.principal(request.headers.get("authorization"))
        except TokenRefused as refused:
            log.info("gateway.codec_token_refused", reason=refused.reason, action=action)
            if (wait := failures.take(address)) > 0:
                return locked_out(wait, cors)
            return JSONResponse(
                {"error": "unauthenticated"},
                status_code=401,
                headers={**cors, "WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        except JwksUnavailable as exc:
            log.warning("gateway.codec_jwks_unavailable", error_type=str(exc))
            return JSONResponse({"error": "unavailable"}, status_code=503, headers=cors)
        response, count = await serve_call(request, principal, action, cors)
        request_id = uuid.uuid4().hex
        named = request.headers.get("x-namespace", "")
        namespace = named if named in settings.codec_namespaces() else None
        log.info(
            "gateway.codec",
            subject=principal.subject,
            namespace=namespace,
            action=action,
            payloads=count,
            status=response.status_code,
            request_id=request_id,
        )
        if records is not None:
            try:
                await records.audit(
                    AuditEntry(
                        agency=None,
                        method="POST",
                        route=f"/codec/{action}",
                        consultation_id=None,
                        status=response.status_code,
                        outcome="ok" if response.status_code == 200 else "refused",
                        request_id=request_id,
                        subject=principal.subject,
                        namespace=namespace,
                        payload_count=count,
                    )
                )
            except Exception as exc:  # an unaudited decode is not answered
                log.warning("gateway.codec_audit_failed", error_type=type(exc).__name__)
                return JSONResponse({"error": "unavailable"}, status_code=503, headers=cors)
        return response

    async def serve_call(
        request: Request, principal: Principal, action: Action, cors: dict[str, str]
    ) -> tuple[Response, int]:
        namespace = request.headers.get("x-namespace", "")
        if namespace not in settings.codec_namespaces():
            return JSONResponse({"error": "unknown_namespace"}, status_code=403, headers=cors), 0
        if not principal.may(namespace, action):
            return JSONResponse({"error": "forbidden"}, status_code=403, headers=cors), 0
        try:
            body = await read_body(request, settings.samverkan_codec_max_body_bytes)
        except BodyTooLarge:
            return JSONResponse({"error": "too_large"}, status_code=413, headers=cors), 0
        except ClientDisconnect:
            return JSONResponse({"error": "client_disconnected"}, status_code=400, headers=cors), 0
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            return JSONResponse(
                {"error": "invalid", "detail": 'expected {"payloads": [...]}'},
                status_code=400,
                headers=cors,
            ), 0
        scoped = EncryptionCodec(keys=codec.keys, namespace=namespace)
        try:
            if action == "encode":
                # The caller names no case: seal under a fresh intake key, adopted by the case
                # whose worker first decodes it (docs/security.md, "Keys for what operators
                # type").
                # Signed in, each payload is stamped with the officer inside the seal, and
                # the case refuses an actor field naming anyone else (docs/security.md, "Who
                # records a decision").
                out = await scoped.encode_intake(
                    list(payloads.payloads), sealed_by=principal.sealed_by
                )
            else:
                out = [await _decode_one(scoped, p) for p in payloads.payloads]
        except KeyOfAnotherNamespace as exc:
            log.info("gateway.codec_other_namespace", namespace=namespace, key_id=exc.key_id)
            return JSONResponse({"error": "other_namespace"}, status_code=403, headers=cors), 0
        except Exception as exc:  # the key store (PostgreSQL) unavailable: no details out
            log.warning("gateway.codec_unavailable", error_type=type(exc).__name__)
            return JSONResponse({"error": "unavailable"}, status_code=503, headers=cors), 0
        return Response(
            json_format.MessageToJson(Payloads(payloads=out)),
            media_type="application/json",
            headers=cors,
        ), len(out)

    return [
        Route("/codec/encode", handle, methods=["POST", "OPTIONS"]),
        Route("/codec/decode", handle, methods=["POST", "OPTIONS"]),
    ]


async def _decode_one(codec: EncryptionCodec, payload: Payload) -> Payload:
    try:
        [decoded] = await codec.decode([payload])
    except PayloadKeyShredded:
        return Payload(
            metadata={"encoding": b"json/plain"}, data=json.dumps(SHREDDED_MARKER).encode()
        )
    except KeyOfAnotherNamespace:
        raise  # the whole call is refused (403), not answered with the ciphertext
    except (PayloadDecryptionError, KeyError_):
        return payload
    # Samverkan's own marks (the officer stamp, the key's owner) are for the worker: the Web
    # UI gets back what the operator sent.
    drop_reserved_metadata(decoded)
    return decoded


class _TrustedHostsButHealth:
    """Starlette's trusted-host check on everything but ``/healthz`` (probes by address)."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self._app = app
        self._checked = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await self._app(scope, receive, send)
        else:
            await self._checked(scope, receive, send)


def create_codec_app(
    codec: EncryptionCodec,
    settings: GatewaySettings,
    *,
    access: CodecAccess | None = None,
    records: GatewayRecords | None = None,
) -> ASGIApp:
    """The codec listener's ASGI app: ``/codec/encode``, ``/codec/decode`` and ``/healthz``,
    answering only the host names of ``SAMVERKAN_CODEC_ALLOWED_HOSTS``.

    Raises:
        CodecNotConfigured: no ``access`` given and ``settings`` configure none.
    """
    failures = RateLimiter(
        per_minute=settings.samverkan_gateway_auth_failures_per_minute,
        burst=settings.samverkan_gateway_auth_failure_burst,
    )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        *codec_routes(codec, settings, failures, access=access, records=records),
    ]
    return _TrustedHostsButHealth(
        Starlette(routes=routes), allowed_hosts=settings.codec_allowed_hosts()
    )
