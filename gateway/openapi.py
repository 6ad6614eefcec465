"""The OpenAPI 3.1 document of the /v1 API, built from the request and response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cases.ids import CONSULTATION_ID_PATTERN
from gateway.models import (
    AcknowledgeBody,
    ActionResult,
    AnswerBody,
    ConsultationList,
    DeclineBody,
    ErrorBody,
    InformationBody,
)

_MODELS: list[type[BaseModel]] = [
    AcknowledgeBody,
    AnswerBody,
    DeclineBody,
    InformationBody,
    ActionResult,
    ConsultationList,
    ErrorBody,
]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(ErrorBody)}},
    }


_COMMON_ERRORS = {
    "401": _error("Missing, unknown or revoked API key."),
    "413": _error("Body larger than the limit."),
    "429": _error(
        "Rate limit of this agency exceeded, or (code authentication_failures) too many "
        "failed authentications from this client address; see Retry-After."
    ),
    "503": _error("Temporal or the database is unavailable; retry with the same Idempotency-Key."),
}

_CONSULTATION_ID = {
    "name": "consultation_id",
    "in": "path",
    "required": True,
    "schema": {
        "type": "string",
        "pattern": CONSULTATION_ID_PATTERN,
    },
    "description": "The consultation's id, case-<case number>:consultation-<n>.",
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[\x21-\x7e]+$"},
    "description": (
        "Makes a retried call return the first call's result (status and body) instead of "
        "acting again. Scope: per agency (another agency's identical key is another key); "
        "within it, a key names one call: one route, one consultation and one body. Reusing "
        "it with another route, consultation or body is 422 with error "
        "idempotency_key_reused (bodies are compared by their fields, so formatting and "
        "property order do not matter). Lifetime: a result is kept once the call has acted "
        "(2xx, or 409) and kept results never expire, so use a new random key (e.g. a UUID) "
        "for every new call. A call that did not act (401, 404, 413, 422, 429, 503) keeps "
        "nothing: retrying it with the same key acts then."
    ),
}


def _action(summary: str, body: type[BaseModel], ok: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_CONSULTATION_ID, _IDEMPOTENCY_KEY],
            "requestBody": {
                "required": body is not AcknowledgeBody,
                "content": {"application/json": {"schema": _ref(body)}},
            },
            "responses": {
                ok: {
                    "description": "Done (or the first result of this Idempotency-Key).",
                    "content": {"application/json": {"schema": _ref(ActionResult)}},
                },
                "404": _error("No such consultation for this agency."),
                "422": _error(
                    "Invalid body (see fields), a refused command (see code), or an "
                    "Idempotency-Key used before for another call (idempotency_key_reused)."
                ),
                **extra,
                **_COMMON_ERRORS,
            },
        }
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document served at /v1/openapi.json."""
    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    conflict = {"409": _error("The consultation has ended or was acknowledged already.")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Samverkan agency gateway",
            "version": "1.0.0",
            "description": "Consultations addressed to the calling agency. Authenticate with "
            "'Authorization: Bearer <agency API key>'.",
        },
        "servers": [{"url": "/"}],
        "security": [{"agencyKey": []}],
        "paths": {
            "/v1/consultations": {
                "get": {
                    "summary": "The calling agency's open consultations",
                    "responses": {
                        "200": {
                            "description": "Open consultations, soonest due first.",
                            "content": {"application/json": {"schema": _ref(ConsultationList)}},
                        },
                        **_COMMON_ERRORS,
                    },
                }
            },
            "/v1/consultations/{consultation_id}/acknowledge": _action(
                "Acknowledge receipt", AcknowledgeBody, "200", conflict
            ),
            "/v1/consultations/{consultation_id}/answer": _action(
                "Answer the consultation", AnswerBody, "200", conflict
            ),
            "/v1/consultations/{consultation_id}/decline": _action(
                "Decline to answer", DeclineBody, "200", conflict
            ),
            "/v1/consultations/{consultation_id}/information": _action(
                "Send new information about the case", InformationBody, "202", {}
            ),
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"agencyKey": {"type": "http", "scheme": "bearer"}},
        },
    }
