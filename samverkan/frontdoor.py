"""The dev stack's authorizing front door: a gRPC proxy before the dev Temporal server's
frontend that checks each call as Temporal's JWT authorizer would. **Development only.**

Production runs Temporal with its own authorizer (deploy/helm values:
``server.config.authorization`` with the default claim mapper and authorizer, permissions
claim ``permissions``). ``temporal server start-dev`` cannot run one, so on a dev stack this
proxy stands in, to show with the real ``temporal`` CLI and SDK that a Malmö token lists
Malmö's cases and is refused Eskilstuna's. It listens on loopback only unless told otherwise
(`samverkan.commands.frontdoor`), and is never part of a deployment.

Each call:

1. the ``authorization`` metadata (``Bearer <jwt>``) is verified by `gateway.oidc.OidcVerifier`
   (the codec endpoint's verifier and settings). A missing or refused token is
   ``UNAUTHENTICATED`` with a fixed message — except for Temporal's health checks, which
   Temporal allows without a token (a present but refused token is refused there too).
   Temporal itself answers both ``PERMISSION_DENIED``; the distinct code tells an operator
   to fetch a new token rather than ask for a grant;
2. the token's ``permissions`` become Temporal's claims (`samverkan.temporal_authorizer`:
   ``temporal-system:<role>`` is the system role) — here only: the codec endpoint keeps
   treating ``temporal-system:admin`` as no grant on any namespace's payloads;
3. the request bytes are parsed with the method's request message (the protobuf descriptors
   of ``temporalio.api``) for its ``namespace``, and the call is allowed or refused as
   Temporal's default authorizer does; refused is ``PERMISSION_DENIED`` ``"Request
   unauthorized."`` with a ``PermissionDeniedFailure`` detail, as Temporal answers;
4. an allowed call is forwarded as raw bytes (no re-serialisation) to the upstream frontend
   with the caller's metadata less the hop's own (`_HOP_HEADERS`, the token, Temporal's
   principal headers); the upstream's response or status, details and trailing metadata
   (including ``grpc-status-details-bin``, which carries Temporal's typed errors) go back.

WorkflowService and OperatorService have no streaming methods (the descriptors say so, and
tests/frontdoor checks it), so every call that is not unary-unary — and every method the
table does not know — is refused without being forwarded.

Every refused call logs one line ``frontdoor.denied`` (subject, method, namespace, reason
word); never a token, claims or payloads.

Known differences from Temporal's claim mapper: a permissions claim given as one
space-separated string is read here (`gateway.oidc.parse_permissions`), Temporal reads only a
JSON list; whitespace around an entry is trimmed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import structlog
from google.protobuf import message_factory
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from temporalio.api.errordetails.v1 import PermissionDeniedFailure
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service

from gateway.oidc import JwksUnavailable, OidcVerifier, TokenRefused
from samverkan.temporal_authorizer import (
    HEALTH_CHECKS,
    Claims,
    Scope,
    cross_namespace_targets,
    is_allowed,
    method_metadata,
)

log = structlog.get_logger("samverkan.frontdoor")

#: Temporal's message for every refusal (interceptor.go ``RequestUnauthorized``).
REQUEST_UNAUTHORIZED = "Request unauthorized."
UNAUTHENTICATED_MESSAGE = "Missing or invalid bearer token."
JWKS_UNAVAILABLE_MESSAGE = "The sign-on keys cannot be fetched."
UNREADABLE_REQUEST_MESSAGE = "The request message cannot be parsed."

#: Metadata that belongs to one hop (HTTP/2 and gRPC framing, set anew by the channel), the
#: credentials consumed here, and the principal headers Temporal strips from every caller.
_HOP_HEADERS = frozenset(
    {
        "authorization",
        "authorization-extras",
        "user-agent",
        "content-type",
        "te",
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "temporal-principal-type",
        "temporal-principal-name",
    }
)
#: The one ``grpc-`` key passed back: the rich status (Temporal's typed error details).
_STATUS_DETAILS = "grpc-status-details-bin"
#: History pages and batched payloads can be large; the upstream enforces its own limits.
MAX_MESSAGE_BYTES = 128 * 1024 * 1024
_GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]
#: The one streaming method of the services the table covers (AdminService's replication
#: stream, tdbg's); refused like every other non-unary call.
_ADMIN_STREAM = (
    "/temporal.server.api.adminservice.v1.AdminService/StreamWorkflowReplicationMessages"
)
#: A namespace named in a log line is cut to this length (it is the caller's input).
_LOGGED_NAMESPACE_CHARS = 128


def _request_classes() -> dict[str, type[Message]]:
    classes: dict[str, type[Message]] = {}
    for module, service in (
        (workflow_service, "WorkflowService"),
        (operator_service, "OperatorService"),
    ):
        descriptor = module.DESCRIPTOR.services_by_name[service]
        for method in descriptor.methods:
            full = f"/{descriptor.full_name}/{method.name}"
            classes[full] = message_factory.GetMessageClass(method.input_type)
    return classes


#: Full method name -> request message class, for reading the request's namespace.
REQUEST_CLASSES: Mapping[str, type[Message]] = _request_classes()


def _forwarded(metadata: Iterable[tuple[str, str | bytes]] | None) -> list[tuple[str, Any]]:
    return [
        (key, value)
        for key, value in metadata or ()
        if key not in _HOP_HEADERS and not key.startswith((":", "grpc-"))
    ]


def _returned(metadata: Iterable[tuple[str, str | bytes]] | None) -> list[tuple[str, Any]]:
    return [
        (key, value)
        for key, value in metadata or ()
        if key == _STATUS_DETAILS
        or (key not in _HOP_HEADERS and not key.startswith((":", "grpc-")))
    ]


def _permission_denied_details() -> bytes:
    detail = status_pb2.Status(code=grpc.StatusCode.PERMISSION_DENIED.value[0])
    detail.message = REQUEST_UNAUTHORIZED
    detail.details.add().Pack(PermissionDeniedFailure())
    return detail.SerializeToString()


_DENIED_TRAILER = ((_STATUS_DETAILS, _permission_denied_details()),)


class _Refusal(Exception):
    """A call refused here: the status to answer and the reason word to log."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str,
        *,
        subject: str | None = None,
        namespace: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.message = message
        self.reason = reason
        self.subject = subject
        self.namespace = namespace


class FrontDoor(grpc.GenericRpcHandler):
    """The generic handler: authenticate, authorize, forward (module docstring)."""

    def __init__(self, *, verifier: OidcVerifier, upstream: grpc.aio.Channel) -> None:
        self._verifier = verifier
        self._upstream = upstream

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        known = method in HEALTH_CHECKS or method_metadata(method) is not None
        if not known or method == _ADMIN_STREAM:
            # A stream handler refuses without reading a message, whatever the call's shape.
            return grpc.stream_stream_rpc_method_handler(self._refuse_stream(method))
        return grpc.unary_unary_rpc_method_handler(self._unary(method))

    def _refuse_stream(
        self, method: str
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[None]]:
        reason = "not_unary" if method == _ADMIN_STREAM else "unknown_method"

        async def refuse(_requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            try:
                claims = await self._claims(method, context)
            except _Refusal as refusal:
                await _abort(context, method, refusal)
            await _abort(
                context,
                method,
                _Refusal(
                    grpc.StatusCode.PERMISSION_DENIED,
                    REQUEST_UNAUTHORIZED,
                    reason,
                    subject=claims.subject if claims else None,
                ),
            )

        return refuse

    def _unary(
        self, method: str
    ) -> Callable[[bytes, grpc.aio.ServicerContext[Any, Any]], Awaitable[bytes]]:
        async def handle(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            try:
                try:
                    claims = await self._claims(method, context)
                except _Refusal as refusal:
                    refusal.namespace = _namespace_for_log(method, request)
                    raise
                _authorize(claims, method, request)
            except _Refusal as refusal:
                await _abort(context, method, refusal)
            return await self._forward(method, request, context)

        return handle

    async def _claims(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Claims | None:
        """The caller's claims; ``None`` for a health check without a token."""
        authorization = _first(context.invocation_metadata(), "authorization")
        if authorization is None and method in HEALTH_CHECKS:
            return None
        try:
            principal = await self._verifier.principal(authorization)
        except TokenRefused as refused:
            raise _Refusal(
                grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE, refused.reason
            ) from None
        except JwksUnavailable:
            raise _Refusal(
                grpc.StatusCode.UNAVAILABLE, JWKS_UNAVAILABLE_MESSAGE, "jwks_unavailable"
            ) from None
        return Claims.from_permissions(principal.subject, principal.roles)

    async def _forward(
        self, method: str, request: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        remaining = context.time_remaining()
        forward: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
        forward = self._upstream.unary_unary(method)
        call = forward(
            request,
            metadata=grpc.aio.Metadata(*_forwarded(context.invocation_metadata())),
            timeout=remaining,
        )
        try:
            response: bytes = await call
        except grpc.aio.AioRpcError as failed:
            await context.abort(
                failed.code(),
                failed.details() or "",
                trailing_metadata=tuple(_returned(failed.trailing_metadata())),
            )
        initial = _returned(await call.initial_metadata())
        if initial:
            await context.send_initial_metadata(tuple(initial))
        context.set_trailing_metadata(tuple(_returned(await call.trailing_metadata())))
        return response


def _parse(method: str, request: bytes) -> Message | None:
    """The request message of a namespace-scoped method (``None`` for any other method).

    Raises:
        DecodeError: the bytes are not that message.
    """
    meta = method_metadata(method)
    if method in HEALTH_CHECKS or meta is None or meta[0] is not Scope.NAMESPACE:
        return None
    request_class = REQUEST_CLASSES.get(method)
    if request_class is None:
        return None
    return request_class.FromString(request)


def _namespace_for_log(method: str, request: bytes) -> str | None:
    try:
        parsed = _parse(method, request)
    except DecodeError:
        return None
    return str(getattr(parsed, "namespace", "")) or None


def _authorize(claims: Claims | None, method: str, request: bytes) -> None:
    """Refuse (`_Refusal`) unless Temporal's default authorizer would allow the call."""
    subject = claims.subject if claims else None
    meta = method_metadata(method)
    needs_namespace = (
        method not in HEALTH_CHECKS and meta is not None and meta[0] is Scope.NAMESPACE
    )
    if needs_namespace and method not in REQUEST_CLASSES:  # the descriptors lack it
        raise _Refusal(
            grpc.StatusCode.PERMISSION_DENIED,
            REQUEST_UNAUTHORIZED,
            "unknown_method",
            subject=subject,
        )
    try:
        parsed = _parse(method, request)
    except DecodeError:
        raise _Refusal(
            grpc.StatusCode.INVALID_ARGUMENT,
            UNREADABLE_REQUEST_MESSAGE,
            "unreadable_request",
            subject=subject,
        ) from None
    namespace = str(getattr(parsed, "namespace", ""))
    checks = [(method, namespace)]
    if isinstance(parsed, RespondWorkflowTaskCompletedRequest):
        checks += sorted(cross_namespace_targets(parsed))
    for checked_method, checked_namespace in checks:
        if not is_allowed(claims, checked_method, checked_namespace):
            raise _Refusal(
                grpc.StatusCode.PERMISSION_DENIED,
                REQUEST_UNAUTHORIZED,
                "forbidden" if claims else "unauthenticated",
                subject=subject,
                namespace=checked_namespace,
            )


async def _abort(
    context: grpc.aio.ServicerContext[Any, Any], method: str, refusal: _Refusal
) -> NoReturn:
    log.info(
        "frontdoor.denied",
        subject=refusal.subject,
        method=method,
        namespace=(refusal.namespace or "")[:_LOGGED_NAMESPACE_CHARS] or None,
        reason=refusal.reason,
        code=refusal.code.name,
    )
    trailer = _DENIED_TRAILER if refusal.code is grpc.StatusCode.PERMISSION_DENIED else ()
    await context.abort(refusal.code, refusal.message, trailing_metadata=trailer)


def _first(metadata: Iterable[tuple[str, Any]] | None, key: str) -> str | None:
    for found, value in metadata or ():
        if found == key and isinstance(value, str):
            return value
    return None


@dataclass
class RunningFrontDoor:
    """A started front door: its bound port; `stop` ends it and closes the upstream channel."""

    server: grpc.aio.Server
    channel: grpc.aio.Channel
    port: int

    async def stop(self, grace: float | None = 1.0) -> None:
        """Stop listening, let calls in flight finish for ``grace`` seconds, close upstream."""
        await self.server.stop(grace)
        await self.channel.close()


async def start_front_door(
    *, upstream: str, verifier: OidcVerifier, host: str = "127.0.0.1", port: int = 0
) -> RunningFrontDoor:
    """Listen on ``host:port`` (``0``: a free port) and forward to ``upstream`` (``HOST:PORT``
    of a Temporal frontend, plaintext). The caller enforces loopback-only (the CLI does)."""
    channel = grpc.aio.insecure_channel(upstream, options=_GRPC_OPTIONS)
    server = grpc.aio.server(options=_GRPC_OPTIONS)
    server.add_generic_rpc_handlers((FrontDoor(verifier=verifier, upstream=channel),))
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
        await server.start()
    except BaseException:
        await channel.close()
        raise
    return RunningFrontDoor(server=server, channel=channel, port=bound)


__all__ = [
    "REQUEST_UNAUTHORIZED",
    "FrontDoor",
    "RunningFrontDoor",
    "start_front_door",
]
