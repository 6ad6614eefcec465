"""Escalation notices to people: officer, unit manager, head of division, on-call social services.

The ``notify_escalation`` activity POSTs an `EscalationNotice` as JSON to the notification
endpoint (``SAMVERKAN_NOTIFY_URL``; in dev the agency simulator serves it at
``<simulator_url>/notifications``). A notice carries the case number, the deadline and the
rung — never personal data: the person notified looks the case up with their own access.

The ``Idempotency-Key`` is ``"<deadline key>:<rung index>"``, the same key that makes each
escalation rung fire once, so a retried notice is harmless. Errors map as for agency calls
(`activities.http_calls`): 5xx and timeouts retry, 4xx is a typed non-retryable error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from temporalio import activity

from activities.http_calls import (
    AgencyCallError,
    AgencyUnavailable,
    as_application_error,
    send,
    with_heartbeats,
)
from cases.ids import CASE_NUMBER_PATTERN
from infra.settings import Settings

log = structlog.get_logger(__name__)


class NotificationConfigError(ValueError):
    """Notifications cannot be sent: the endpoint is not configured or not a URL."""


_Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EscalationNotice(_Model):
    """Input of ``notify_escalation``: one rung of one deadline's escalation ladder fired.

    ``deadline_kind``, ``role`` and ``action`` are the values of the `cases` enums
    `DeadlineKind`, `Role` and `EscalationAction` (e.g. ``pre_assessment``,
    ``unit_manager``, ``notify``); they are plain identifiers here so that a value added
    to a policy never makes an escalation undeliverable. No field may hold personal data.
    """

    case_number: str = Field(pattern=CASE_NUMBER_PATTERN)
    deadline_kind: _Identifier
    deadline_key: str = Field(pattern=r"^[\x21-\x7e]{1,200}$")
    rung_index: int = Field(ge=0)
    rung_name: str = Field(min_length=1, max_length=200)
    role: _Identifier
    action: _Identifier
    due: AwareDatetime | None = None

    @property
    def idempotency_key(self) -> str:
        """``"<case number>:<deadline key>:<rung index>"``: one notice per case and rung,
        however often retried (deadline keys alone repeat across cases)."""
        return f"{self.case_number}:{self.deadline_key}:{self.rung_index}"


class NotificationReceipt(_Model):
    """Result of ``notify_escalation``."""

    reference: str
    delivered_at: AwareDatetime
    attempts: int = Field(ge=1)


class _EndpointReply(_Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    reference: str = Field(min_length=1)
    received_at: AwareDatetime | None = None


class NotificationActivities:
    """The notification activity; register `notify_escalation` on the worker."""

    def __init__(
        self,
        endpoint: str | None,
        *,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
        timeout_seconds: float = 10.0,
        heartbeat_interval_seconds: float = 5.0,
    ) -> None:
        """POST notices to ``endpoint`` (an absolute http(s) URL, ``SAMVERKAN_NOTIFY_URL``).

        Raises:
            NotificationConfigError: ``endpoint`` is None or not an http(s) URL, so a
                worker that could not tell anyone about an escalation does not start.
        """
        if endpoint is None:
            raise NotificationConfigError("SAMVERKAN_NOTIFY_URL is not set")
        if not endpoint.startswith(("http://", "https://")):
            raise NotificationConfigError("SAMVERKAN_NOTIFY_URL must be an http(s) URL")
        self._endpoint = endpoint
        self._client_factory = client_factory or (
            lambda: httpx.AsyncClient(timeout=httpx.Timeout(timeout_seconds))
        )
        self._client: httpx.AsyncClient | None = None
        self._heartbeat_interval = heartbeat_interval_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> NotificationActivities:
        """Built from ``SAMVERKAN_NOTIFY_URL``.

        Raises:
            NotificationConfigError: the variable is unset or not a URL.
        """
        return cls(settings.samverkan_notify_url or None)

    def activities(self) -> list[Callable[..., Any]]:
        """The activity callables, for ``Worker(activities=...)``."""
        return [self.notify_escalation]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @activity.defn(name="notify_escalation")
    async def notify_escalation(self, notice: EscalationNotice) -> NotificationReceipt:
        """Tell the person in ``notice.role`` that an escalation rung fired.

        Raises:
            ApplicationError: typed as in `activities.http_calls`.
        """
        if self._client is None:
            self._client = self._client_factory()
        client = self._client
        request = client.build_request(
            "POST",
            self._endpoint,
            headers={"Idempotency-Key": notice.idempotency_key, "Accept": "application/json"},
            json=notice.model_dump(mode="json"),
        )
        try:
            response = await with_heartbeats(
                send(client, request, target="notifications", operation="notify_escalation"),
                every_seconds=self._heartbeat_interval,
            )
            try:
                reply = _EndpointReply.model_validate_json(response.content)
            except ValidationError:
                raise AgencyUnavailable(
                    "notifications notify_escalation: malformed response"
                ) from None
        except AgencyCallError as error:
            log.warning(
                "escalation notice failed",
                case_number=notice.case_number,
                deadline_key=notice.deadline_key,
                rung_index=notice.rung_index,
                error_type=error.error_type,
                status=error.status,
            )
            raise as_application_error(error) from None
        attempts = activity.info().attempt if activity.in_activity() else 1
        log.info(
            "escalation notice sent",
            case_number=notice.case_number,
            deadline_key=notice.deadline_key,
            rung_index=notice.rung_index,
            role=notice.role,
        )
        return NotificationReceipt(
            reference=reply.reference,
            delivered_at=reply.received_at or datetime.now(UTC),
            attempts=attempts,
        )
