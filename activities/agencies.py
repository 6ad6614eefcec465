"""Calls to the agencies' own systems: deliver a consultation, deliver a notice, fetch status.

`AgencySystem` is the interface of one agency's system; `HttpAgencySystem` speaks its
HTTP/JSON API (the one the agency simulator serves); `AgencyActivities` wraps them as the
Temporal activities ``deliver_consultation``, ``deliver_agency_notice`` and
``fetch_consultation_status``.

Every call carries an ``Idempotency-Key`` that starts with the consultation id, so a call
Temporal retries after a timeout never creates a second request on the agency's side.
Errors follow `activities.http_calls`: 5xx, timeouts and connection errors are retried by
Temporal with the calling workflow's retry policy (the consultation workflow's, the same for
every agency); a 4xx becomes a non-retryable ``ApplicationError`` whose ``type``
(``AgencyRejected``, ``AgencyUnknown``, ``AgencyUnauthorized``) the consultation workflow
turns into an escalation to a person.

The payload arrives already minimised by the disclosure rules of `cases`; as a second
guard, ``deliver_consultation`` refuses (``PersonalDataRefused``, nothing sent) to send
anything that looks like personal data to an agency that may receive none (CVE).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from temporalio import activity

from activities.config import AgencyDirectory, AgencyEndpoint, load_agency_directory
from activities.http_calls import (
    AgencyCallError,
    AgencyRejected,
    AgencyTimeout,
    AgencyUnauthorized,
    AgencyUnavailable,
    AgencyUnknown,
    PersonalDataRefused,
    as_application_error,
    send,
    with_heartbeats,
)
from cases import Agency, LegalBasis
from cases.access import PERSONAL_PAYLOAD_FIELDS
from cases.ids import CASE_NUMBER_PATTERN, CONSULTATION_ID_PATTERN

__all__ = [
    "AgencyActivities",
    "AgencyCallError",
    "AgencyReceipt",
    "AgencyRejected",
    "AgencySystem",
    "AgencyTimeout",
    "AgencyUnauthorized",
    "AgencyUnavailable",
    "AgencyUnknown",
    "ConsultationState",
    "ConsultationStatus",
    "ConsultationStatusRequest",
    "DeliverConsultationRequest",
    "DeliverNoticeRequest",
    "DeliveryReceipt",
    "HttpAgencySystem",
    "NoticeReceipt",
    "PersonalDataRefused",
    "find_personal_data",
    "load_agency_directory",
]

log = structlog.get_logger(__name__)

#: ``case-<case number>:consultation-<n>`` (DESIGN §5); URL- and header-safe ASCII.
ConsultationId = Annotated[str, Field(pattern=CONSULTATION_ID_PATTERN)]
CaseNumber = Annotated[str, Field(pattern=CASE_NUMBER_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeliverConsultationRequest(_Model):
    """Input of ``deliver_consultation``: one consultation request to one agency.

    ``payload`` is what the disclosure rules of `cases` allow this agency under this legal
    basis; ``contains_personal_data`` says whether it holds any (the workflow records a
    ``DisclosureRecorded`` event when it does). ``reply_to`` tells the agency where to
    answer (e.g. the gateway URL); agencies answer on the consultation id by default.
    """

    consultation_id: ConsultationId
    case_number: CaseNumber
    agency: Agency
    legal_basis: LegalBasis
    payload: dict[str, Any]
    contains_personal_data: bool
    reply_to: dict[str, Any] | None = None


class DeliveryReceipt(_Model):
    """Result of ``deliver_consultation``: the agency has the request."""

    agency_reference: str
    delivered_at: AwareDatetime
    attempts: int = Field(ge=1)


class DeliverNoticeRequest(_Model):
    """Input of ``deliver_agency_notice``: a reminder or escalation about a consultation.

    The call's idempotency key is ``"<consultation id>:<notice key>"``; ``notice_key``
    defaults to ``"<kind>:<rung name>"`` (made header-safe), so each distinct notice is
    delivered once and a retried one is harmless. ``message`` is shown to the agency and
    must hold no personal data.
    """

    consultation_id: ConsultationId
    case_number: CaseNumber
    agency: Agency
    kind: Literal["reminder", "escalation"]
    rung_name: str = Field(min_length=1, max_length=200)
    notice_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,100}$")
    due: AwareDatetime | None = None
    message: str = Field(default="", max_length=2_000)

    @property
    def idempotency_key(self) -> str:
        """The ``Idempotency-Key`` of this notice's delivery."""
        key = self.notice_key or f"{self.kind}:{_header_safe(self.rung_name)}"
        return f"{self.consultation_id}:{key}"


def _header_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:100] or "notice"


class NoticeReceipt(_Model):
    """Result of ``deliver_agency_notice``."""

    agency_reference: str
    delivered_at: AwareDatetime
    attempts: int = Field(ge=1)


class ConsultationStatusRequest(_Model):
    """Input of ``fetch_consultation_status``."""

    consultation_id: ConsultationId
    agency: Agency


#: Where a consultation stands in an agency's system (``GET /consultations/{id}``).
ConsultationState = Literal["received", "acknowledged", "answered", "declined"]


class ConsultationStatus(_Model):
    """Where the agency's system says the consultation stands."""

    consultation_id: str
    agency: Agency
    state: ConsultationState
    agency_reference: str | None = None
    updated_at: AwareDatetime | None = None


class AgencyReceipt(_Model):
    """What an agency's system says when it accepts a delivery (other fields are ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    reference: str = Field(min_length=1, max_length=200)
    received_at: AwareDatetime | None = None


class AgencySystem(Protocol):
    """One agency's system, as Samverkan uses it. Implementations raise `AgencyCallError`s."""

    async def deliver_consultation(self, request: DeliverConsultationRequest) -> AgencyReceipt:
        """Hand over a consultation request; idempotent on its consultation id."""
        ...

    async def deliver_notice(self, notice: DeliverNoticeRequest) -> AgencyReceipt:
        """Hand over a reminder or escalation notice; idempotent on its idempotency key."""
        ...

    async def fetch_status(self, request: ConsultationStatusRequest) -> ConsultationStatus:
        """Read where the consultation stands in the agency's system."""
        ...


M = TypeVar("M", bound=BaseModel)


class HttpAgencySystem:
    """An agency's system over HTTP/JSON.

    Routes, relative to the endpoint's ``base_url``:
    ``POST /consultations``, ``POST /notices``, ``GET /consultations/{consultation id}``.
    Each answers JSON; the POSTs ``{"reference": ..., "received_at": ...}``.
    """

    def __init__(self, *, endpoint: AgencyEndpoint, client: httpx.AsyncClient) -> None:
        """Call ``endpoint`` through ``client`` (whose lifetime the caller owns)."""
        self._endpoint = endpoint
        self._client = client

    @classmethod
    def for_endpoint(cls, endpoint: AgencyEndpoint) -> HttpAgencySystem:
        """A system with its own client, configured with the endpoint's timeouts."""
        timeout = httpx.Timeout(
            endpoint.request_timeout_seconds, connect=endpoint.connect_timeout_seconds
        )
        return cls(endpoint=endpoint, client=httpx.AsyncClient(timeout=timeout))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def deliver_consultation(self, request: DeliverConsultationRequest) -> AgencyReceipt:
        """``POST /consultations`` with the request (agency field omitted: it is the URL)."""
        body = request.model_dump(mode="json", exclude={"agency"})
        response = await self._call(
            "POST", "/consultations", "deliver_consultation", request.consultation_id, body
        )
        return self._parse(response, AgencyReceipt, "deliver_consultation")

    async def deliver_notice(self, notice: DeliverNoticeRequest) -> AgencyReceipt:
        """``POST /notices`` with the notice."""
        body = notice.model_dump(mode="json", exclude={"agency"})
        response = await self._call(
            "POST", "/notices", "deliver_notice", notice.idempotency_key, body
        )
        return self._parse(response, AgencyReceipt, "deliver_notice")

    async def fetch_status(self, request: ConsultationStatusRequest) -> ConsultationStatus:
        """``GET /consultations/{id}``; the agency field of the answer is ours, not theirs."""
        path = f"/consultations/{quote(request.consultation_id, safe='')}"
        response = await self._call("GET", path, "fetch_status", request.consultation_id, None)
        try:
            data = response.json()
            fields = ("consultation_id", "state", "agency_reference", "updated_at")
            known = {name: data[name] for name in fields if name in data}
            return ConsultationStatus.model_validate({**known, "agency": request.agency})
        except (ValueError, TypeError, ValidationError):
            raise AgencyUnavailable(self._where("fetch_status") + ": malformed response") from None

    async def _call(
        self, method: str, path: str, operation: str, key: str, body: dict[str, Any] | None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key, "Accept": "application/json"}
        try:
            headers.update(self._endpoint.auth_headers())
        except KeyError:
            raise AgencyUnauthorized(self._where(operation) + ": credentials missing") from None
        request = self._client.build_request(
            method, self._endpoint.url + path, headers=headers, json=body
        )
        return await send(
            self._client, request, target=f"agency {self._endpoint.agency}", operation=operation
        )

    def _parse(self, response: httpx.Response, model: type[M], operation: str) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise AgencyUnavailable(self._where(operation) + ": malformed response") from None

    def _where(self, operation: str) -> str:
        return f"agency {self._endpoint.agency} {operation}"


SystemFactory = Callable[[AgencyEndpoint], AgencySystem]

#: Keys that name personal data in a payload (compared lower-case, without ``_``/``-``).
PERSONAL_FIELD_NAMES: frozenset[str] = frozenset(
    {
        "name",
        "firstname",
        "lastname",
        "givenname",
        "familyname",
        "surname",
        "fullname",
        "personalidentitynumber",
        "personnummer",
        "samordningsnummer",
        "coordinationnumber",
        "ssn",
        "dateofbirth",
        "birthdate",
        "address",
        "streetaddress",
        "postaladdress",
        "phone",
        "phonenumber",
        "email",
        "guardian",
        "guardians",
        "guardianname",
    }
)
#: For recipients of no personal data, also every personal payload field of `cases` except
#: ``questions`` (towards CVE the questions are anonymised by `cases` before they get here).
_NO_PERSONAL_DATA_FIELDS = PERSONAL_FIELD_NAMES | {
    f.lower().replace("_", "") for f in PERSONAL_PAYLOAD_FIELDS - {"questions"}
}
# Swedish personal identity / coordination number: (YY)YYMMDD[-+]NNNN.
_PERSONAL_NUMBER = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)")


def find_personal_data(payload: Any, path: str = "payload") -> Iterator[str]:
    """Paths in ``payload`` that look like personal data: named fields or personal numbers.

    Yields locations (``payload.youth.name``), never values, so callers may log them.
    """
    if isinstance(payload, dict):
        for key, value in payload.items():
            where = f"{path}.{key}"
            if str(key).lower().replace("_", "").replace("-", "") in _NO_PERSONAL_DATA_FIELDS:
                yield where
            else:
                yield from find_personal_data(value, where)
    elif isinstance(payload, list | tuple):
        for index, item in enumerate(payload):
            yield from find_personal_data(item, f"{path}[{index}]")
    elif isinstance(payload, str) and _PERSONAL_NUMBER.search(payload):
        yield path


def _guard_personal_data(request: DeliverConsultationRequest, endpoint: AgencyEndpoint) -> None:
    if endpoint.accepts_personal_data and request.legal_basis is not LegalBasis.NONE:
        return
    where = f"agency {request.agency} deliver_consultation"
    if request.contains_personal_data:
        raise PersonalDataRefused(f"{where}: request is marked as containing personal data")
    found = sorted(set(find_personal_data(request.payload)))
    if found:
        raise PersonalDataRefused(f"{where}: personal data at {', '.join(found[:10])}")


class AgencyActivities:
    """The agency activities; register the bound methods (`activities`) on the worker."""

    def __init__(
        self,
        directory: AgencyDirectory,
        *,
        system_factory: SystemFactory = HttpAgencySystem.for_endpoint,
    ) -> None:
        """Call the agencies in ``directory``; ``system_factory`` builds each agency's system
        once, on first use (tests pass fakes)."""
        self._directory = directory
        self._system_factory = system_factory
        self._systems: dict[Agency, AgencySystem] = {}

    def activities(self) -> list[Callable[..., Any]]:
        """The activity callables, for ``Worker(activities=...)``."""
        return [
            self.deliver_consultation,
            self.deliver_agency_notice,
            self.fetch_consultation_status,
        ]

    async def aclose(self) -> None:
        """Close the systems' HTTP clients (those that have an ``aclose``)."""
        for system in self._systems.values():
            close = getattr(system, "aclose", None)
            if close is not None:
                await close()
        self._systems.clear()

    @activity.defn(name="deliver_consultation")
    async def deliver_consultation(self, request: DeliverConsultationRequest) -> DeliveryReceipt:
        """Deliver a consultation request to its agency, exactly once on the agency's side.

        Raises:
            ApplicationError: typed as in `activities.http_calls`; ``PersonalDataRefused``
                when personal data is addressed to CVE (nothing is sent).
        """
        try:
            endpoint = self._endpoint(request.agency, "deliver_consultation")
            _guard_personal_data(request, endpoint)
            receipt = await with_heartbeats(
                self._system(endpoint).deliver_consultation(request),
                every_seconds=endpoint.heartbeat_interval_seconds,
            )
        except AgencyCallError as error:
            self._log_failure(
                "deliver_consultation", request.consultation_id, request.agency, error
            )
            raise as_application_error(error) from None
        self._log_success("deliver_consultation", request.consultation_id, request.agency)
        return DeliveryReceipt(
            agency_reference=receipt.reference,
            delivered_at=receipt.received_at or datetime.now(UTC),
            attempts=_attempt(),
        )

    @activity.defn(name="deliver_agency_notice")
    async def deliver_agency_notice(self, notice: DeliverNoticeRequest) -> NoticeReceipt:
        """Deliver a reminder or escalation notice about a consultation to its agency.

        Raises:
            ApplicationError: typed as in `activities.http_calls`.
        """
        try:
            endpoint = self._endpoint(notice.agency, "deliver_notice")
            receipt = await with_heartbeats(
                self._system(endpoint).deliver_notice(notice),
                every_seconds=endpoint.heartbeat_interval_seconds,
            )
        except AgencyCallError as error:
            self._log_failure("deliver_notice", notice.consultation_id, notice.agency, error)
            raise as_application_error(error) from None
        self._log_success("deliver_notice", notice.consultation_id, notice.agency)
        return NoticeReceipt(
            agency_reference=receipt.reference,
            delivered_at=receipt.received_at or datetime.now(UTC),
            attempts=_attempt(),
        )

    @activity.defn(name="fetch_consultation_status")
    async def fetch_consultation_status(
        self, request: ConsultationStatusRequest
    ) -> ConsultationStatus:
        """Ask the agency's system where a consultation stands.

        Raises:
            ApplicationError: typed as in `activities.http_calls` (``AgencyUnknown`` when
                the agency has no such consultation).
        """
        try:
            endpoint = self._endpoint(request.agency, "fetch_status")
            return await with_heartbeats(
                self._system(endpoint).fetch_status(request),
                every_seconds=endpoint.heartbeat_interval_seconds,
            )
        except AgencyCallError as error:
            self._log_failure("fetch_status", request.consultation_id, request.agency, error)
            raise as_application_error(error) from None

    def _endpoint(self, agency: Agency, operation: str) -> AgencyEndpoint:
        if agency not in self._directory:
            raise AgencyUnknown(f"agency {agency} {operation}: agency not configured")
        return self._directory.endpoint(agency)

    def _system(self, endpoint: AgencyEndpoint) -> AgencySystem:
        system = self._systems.get(endpoint.agency)
        if system is None:
            system = self._systems[endpoint.agency] = self._system_factory(endpoint)
        return system

    @staticmethod
    def _log_success(operation: str, consultation_id: str, agency: Agency) -> None:
        log.info(
            "agency call succeeded",
            operation=operation,
            consultation_id=consultation_id,
            agency=agency.value,
            attempt=_attempt(),
        )

    @staticmethod
    def _log_failure(
        operation: str, consultation_id: str, agency: Agency, error: AgencyCallError
    ) -> None:
        log.warning(
            "agency call failed",
            operation=operation,
            consultation_id=consultation_id,
            agency=agency.value,
            error_type=error.error_type,
            status=error.status,
            retryable=error.retryable,
            attempt=_attempt(),
        )


def _attempt() -> int:
    return activity.info().attempt if activity.in_activity() else 1
