"""Request and response bodies of the gateway's /v1 API (one model per call).

The calling agency comes from its credential, never from a body: a body cannot act for
another agency. Validation errors never echo input (``hide_input_in_errors``), nor a property
name the model does not know (those are counted: ``gateway.app._fields``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class AcknowledgeBody(BaseModel):
    """Acknowledge a consultation request (the body may be empty)."""

    model_config = _STRICT


class AnswerBody(BaseModel):
    """The agency's answer (personal data: encrypted in Temporal, never logged)."""

    model_config = _STRICT

    answer: Annotated[str, Field(min_length=1, max_length=20_000)]


class DeclineBody(BaseModel):
    """Why the agency declines to answer."""

    model_config = _STRICT

    reason: Annotated[str, Field(min_length=1, max_length=2_000)]


class InformationBody(BaseModel):
    """New information about the case from the agency (personal data)."""

    model_config = _STRICT

    information: Annotated[str, Field(min_length=1, max_length=20_000)]


_DUE = (
    "When the answer is due: an RFC 3339 instant in UTC, the end (23:59:59.999999) of the last "
    "day of the answer time in Stockholm local time, e.g. 2026-12-09T22:59:59.999999+00:00 in "
    "winter (UTC+1) or 21:59:59.999999+00:00 in summer. Null while no deadline is set. Its "
    "Stockholm day is due_date."
)
_DUE_DATE = (
    "The last day of the answer time as a Swedish local date (Europe/Stockholm), "
    "e.g. 2026-12-09: the day in Stockholm on which due falls. Null when due is."
)

#: Every instant of a response: RFC 3339 with its offset from UTC (the gateway gives +00:00).
Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
#: A calendar day in Stockholm, ISO 8601 (YYYY-MM-DD).
LocalDate = Annotated[str, Field(json_schema_extra={"format": "date"})]

#: Where a consultation stands for its agency. ``requested``: being delivered to your system
#: (the push may be retried); ``delivered``: your system accepted the push; ``acknowledged``:
#: you acknowledged it; then one of the ended states.
OpenStatus = Literal["requested", "delivered", "acknowledged"]
EndedStatus = Literal["answered", "declined", "expired", "delivery_failed"]


class ActionResult(BaseModel):
    """The outcome of an acknowledge, answer, decline or add-information call."""

    consultation_id: str
    result: Literal["acknowledged", "answered", "declined", "accepted"] = Field(
        description="acknowledged, answered or declined (the update done), or accepted "
        "(new information: queued for the case)."
    )


class OpenConsultation(BaseModel):
    """One open consultation as its agency sees it in a list (no personal data)."""

    consultation_id: str
    status: OpenStatus
    legal_basis: str
    acute: bool
    requested_at: Instant
    acknowledged_at: Instant | None
    due: Instant | None = Field(description=_DUE)
    due_date: LocalDate | None = Field(description=_DUE_DATE)


class ConsultationDetail(BaseModel):
    """One consultation as its own agency sees it: what it was asked and what was disclosed
    to it (the request exactly as pushed to its system), and where it stands."""

    consultation_id: str
    agency: str
    status: OpenStatus | EndedStatus
    legal_basis: str
    acute: bool
    contains_personal_data: bool
    disclosed_fields: list[str] = Field(
        description="The personal fields disclosed under the legal basis (none for CVE)."
    )
    request: dict[str, Any] = Field(
        description="The request as pushed to the agency's system (its payload): ids, legal "
        "basis, concern category, the questions and the disclosed fields' values."
    )
    requested_at: Instant | None
    target: Instant | None = Field(description="The agreed answer time (same form as due).")
    due: Instant | None = Field(description=_DUE)
    due_date: LocalDate | None = Field(description=_DUE_DATE)


class ConsultationList(BaseModel):
    """The calling agency's open consultations."""

    agency: str
    consultations: list[OpenConsultation]


class FieldProblem(BaseModel):
    """One problem of a request body: ``field`` is one of the body's documented fields, or
    ``<body>`` for the body as a whole (unknown properties are counted, never named)."""

    field: str
    problem: str
    type: str


ErrorWord = Literal[
    "unauthenticated",
    "not_found",
    "rate_limited",
    "too_large",
    "client_disconnected",
    "invalid_body",
    "invalid_header",
    "idempotency_key_reused",
    "refused",
    "conflict",
    "unavailable",
]
ErrorCode = Literal[
    "already_acknowledged",
    "already_answered",
    "already_declined",
    "already_expired",
    "already_delivery_failed",
    "authentication_failures",
    "rejected",
]


class ErrorBody(BaseModel):
    """Every error response: a stable ``error`` word, a ``code`` from the workflow, ``fields``."""

    error: ErrorWord
    code: ErrorCode | None = Field(
        default=None,
        description="With conflict (409): already_<how the consultation ended or "
        "acknowledged>; with rate_limited: authentication_failures (too many failed "
        "authentications from this address); with refused: rejected.",
    )
    fields: list[FieldProblem] | None = None
    request_id: str
