"""Temporal's remote codec protocol for the Web UI and the ``temporal`` CLI.

``POST /codec/encode`` and ``POST /codec/decode`` take and return ``{"payloads": [...]}`` in
protobuf JSON (metadata values and data base64). The ``X-Namespace`` header must name a
namespace this endpoint serves; with ``SAMVERKAN_CODEC_TOKEN`` set, ``Authorization: Bearer
<token>`` is required. CORS answers the Web UI's preflight (OPTIONS) on both routes. A body
over ``SAMVERKAN_CODEC_MAX_BODY_BYTES`` is 413 before it is read (``Content-Length``) or as
soon as the stream passes the limit.

``/codec/encode`` seals each request under a fresh single-use *intake* key
(`infra.codec.EncryptionCodec.encode_intake`): the case it is for adopts the key when its
worker decodes the payload, so shredding the case destroys what was typed for it.

A payload whose case key was shredded decodes to a JSON marker saying so; one that cannot be
decrypted for another reason is returned unchanged (still ciphertext), so one bad payload never
hides a whole history. When the key store cannot be used at all the answer is 503
``{"error": "unavailable"}`` and one log line naming the error's type, never a traceback.
"""

from __future__ import annotations

import hmac
import json

import structlog
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from gateway.bodies import BodyTooLarge, read_body
from gateway.config import GatewaySettings
from gateway.ratelimit import RateLimiter
from infra.codec import EncryptionCodec, PayloadDecryptionError, PayloadKeyShredded
from infra.keys import KeyError_

log = structlog.get_logger("samverkan.gateway")

SHREDDED_MARKER = {"redacted": "personal data destroyed: the case key was shredded"}
_ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


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
    codec: EncryptionCodec, settings: GatewaySettings, failures: RateLimiter
) -> list[Route]:
    """The two codec routes, served with ``codec``'s keys; ``failures`` limits wrong tokens
    per client address."""

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
        token = settings.samverkan_codec_token
        if token:
            # The token is an operator's choice and may be guessable: an address that failed
            # too often gets no answer about any token until its bucket refills.
            address = f"codec {request.client.host if request.client else '-'}"
            if (wait := failures.wait(address)) > 0:
                return locked_out(wait, cors)
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                if (wait := failures.take(address)) > 0:
                    return locked_out(wait, cors)
                return JSONResponse(
                    {"error": "unauthenticated"},
                    status_code=401,
                    headers={**cors, "WWW-Authenticate": "Bearer"},
                )
        namespace = request.headers.get("x-namespace", "")
        if namespace not in settings.codec_namespaces():
            return JSONResponse({"error": "unknown_namespace"}, status_code=403, headers=cors)
        try:
            body = await read_body(request, settings.samverkan_codec_max_body_bytes)
        except BodyTooLarge:
            return JSONResponse({"error": "too_large"}, status_code=413, headers=cors)
        except ClientDisconnect:
            return JSONResponse({"error": "client_disconnected"}, status_code=400, headers=cors)
        try:
            payloads = json_format.Parse(body or b"{}", Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError):
            return JSONResponse(
                {"error": "invalid", "detail": 'expected {"payloads": [...]}'},
                status_code=400,
                headers=cors,
            )
        scoped = EncryptionCodec(keys=codec.keys, namespace=namespace)
        try:
            if request.url.path.endswith("/encode"):
                # The caller names no case: seal under a fresh intake key, adopted by the case
                # whose worker first decodes it (docs/security.md, "Keys for what operators
                # type").
                out = await scoped.encode_intake(list(payloads.payloads))
            else:
                out = [await _decode_one(scoped, p) for p in payloads.payloads]
        except Exception as exc:  # the key store (PostgreSQL) unavailable: no details out
            log.warning("gateway.codec_unavailable", error_type=type(exc).__name__)
            return JSONResponse({"error": "unavailable"}, status_code=503, headers=cors)
        return Response(
            json_format.MessageToJson(Payloads(payloads=out)),
            media_type="application/json",
            headers=cors,
        )

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
    except (PayloadDecryptionError, KeyError_):
        return payload
    return decoded
