"""Request and response bodies of the gateway's /v1 API (one model per call).

The calling agency comes from its credential, never from a body: a body cannot act for
another agency. Validation errors never echo input (``hide_input_in_errors``), nor a property
name the model does not know (those are counted: ``gateway.app._fields``).
"""

from __future__ import annotations

from typing import Annotated

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


class ActionResult(BaseModel):
    """The outcome of an acknowledge, answer, decline or add-information call."""

    consultation_id: str
    result: str


class OpenConsultation(BaseModel):
    """One open consultation as its agency sees it in a list (no personal data)."""

    consultation_id: str
    status: str
    legal_basis: str
    acute: bool
    requested_at: str
    acknowledged_at: str | None
    due: str | None


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


class ErrorBody(BaseModel):
    """Every error response: a stable ``error`` word, a ``code`` from the workflow, ``fields``."""

    error: str
    code: str | None = None
    fields: list[FieldProblem] | None = None
    request_id: str
