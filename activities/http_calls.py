"""How Samverkan's activities call other systems over HTTP: error types, retries, heartbeats.

One mapping from HTTP outcomes to typed errors, shared by agency calls and notifications:

| outcome | error type | retried by Temporal |
|---|---|---|
| 5xx, 408, 429, connection error | ``AgencyUnavailable`` | yes, with backoff |
| timeout | ``AgencyTimeout`` | yes, with backoff |
| 400, 409, 422 and other 4xx | ``AgencyRejected`` | no |
| 404, or agency not configured | ``AgencyUnknown`` | no |
| 401, 403 | ``AgencyUnauthorized`` | no |
| personal data addressed to an agency that may not have it | ``PersonalDataRefused`` | no |

Messages name the agency, the operation and the status — never a payload, a header or a
response body, which could carry personal data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import ClassVar, TypeVar

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

T = TypeVar("T")


class AgencyCallError(Exception):
    """A call to another system failed. ``error_type`` is the Temporal error type."""

    error_type: ClassVar[str] = "AgencyCallError"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Create the error; ``message`` must hold no personal data."""
        super().__init__(message)
        self.status = status


class AgencyUnavailable(AgencyCallError):
    """The system is down or overloaded (5xx, 408, 429, connection refused): try again later."""

    error_type = "AgencyUnavailable"
    retryable = True


class AgencyTimeout(AgencyCallError):
    """The system did not answer within the configured timeout: try again later."""

    error_type = "AgencyTimeout"
    retryable = True


class AgencyRejected(AgencyCallError):
    """The system refused the request as invalid (400, 409, 422, other 4xx); a person must act."""

    error_type = "AgencyRejected"


class AgencyUnknown(AgencyCallError):
    """The agency (or the requested resource) does not exist for us (404, or not configured)."""

    error_type = "AgencyUnknown"


class AgencyUnauthorized(AgencyCallError):
    """Our credentials were refused (401, 403); retrying will not help until they are fixed."""

    error_type = "AgencyUnauthorized"


class PersonalDataRefused(AgencyCallError):
    """The request carried personal data to a recipient that may not receive any; nothing sent."""

    error_type = "PersonalDataRefused"


_RETRYABLE_STATUSES = frozenset({408, 425, 429})


def raise_for_status(response: httpx.Response, *, target: str, operation: str) -> None:
    """Raise the typed error for a non-2xx ``response``; return quietly on success."""
    status = response.status_code
    if 200 <= status < 300:
        return
    where = f"{target} {operation}: HTTP {status}"
    if status >= 500 or status in _RETRYABLE_STATUSES:
        raise AgencyUnavailable(where, status=status)
    if status in (401, 403):
        raise AgencyUnauthorized(where, status=status)
    if status == 404:
        raise AgencyUnknown(where, status=status)
    if 400 <= status < 500:
        raise AgencyRejected(where, status=status)
    raise AgencyRejected(f"{where} (unexpected status)", status=status)


async def send(
    client: httpx.AsyncClient, request: httpx.Request, *, target: str, operation: str
) -> httpx.Response:
    """Send ``request`` and return a 2xx response, or raise the typed error for the outcome."""
    try:
        response = await client.send(request)
    except httpx.TimeoutException as exc:
        raise AgencyTimeout(f"{target} {operation}: {type(exc).__name__}") from None
    except httpx.TransportError as exc:
        raise AgencyUnavailable(f"{target} {operation}: {type(exc).__name__}") from None
    raise_for_status(response, target=target, operation=operation)
    return response


def as_application_error(error: AgencyCallError) -> ApplicationError:
    """The Temporal form of ``error``: its type, and non-retryable unless retrying can help."""
    return ApplicationError(str(error), type=error.error_type, non_retryable=not error.retryable)


async def with_heartbeats(call: Awaitable[T], *, every_seconds: float) -> T:
    """Await ``call``, heartbeating every ``every_seconds`` while it runs inside an activity.

    Heartbeats let Temporal notice a dead worker within the heartbeat timeout and deliver
    a cancellation to a call that hangs; outside an activity this just awaits ``call``.
    """
    if not activity.in_activity():
        return await call
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_seconds)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        if not task.done():
            task.cancel()
