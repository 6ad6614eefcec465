"""The OpenAPI 3.1 document of the /v1 API, built from the request and response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from activities.agencies import AgencyReceipt, DeliverConsultationRequest, DeliverNoticeRequest
from cases.ids import CONSULTATION_ID_PATTERN
from gateway.config import GatewaySettings
from gateway.models import (
    AcknowledgeBody,
    ActionResult,
    AnswerBody,
    ConsultationDetail,
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
    ConsultationDetail,
    ErrorBody,
    AgencyReceipt,
]
#: What Samverkan POSTs to the agency's own system (the agency field is its URL, not sent).
_PUSHED: dict[str, type[BaseModel]] = {
    "ConsultationPush": DeliverConsultationRequest,
    "NoticePush": DeliverNoticeRequest,
}

_PUSH_DESCRIPTIONS = {
    "ConsultationPush": "The consultation request pushed to the agency's system. `payload` is "
    "what was disclosed to the agency (the same as `request` of ConsultationDetail); "
    "`contains_personal_data` says whether it holds personal data; `reply_to` is null.",
    "NoticePush": "A reminder or escalation about a consultation; `message` holds no personal "
    "data.",
}

_DESCRIPTION = """Consultations addressed to the calling agency. Authenticate with \
'Authorization: Bearer <agency API key>' (`samverkan agency add NAME` issues one).

**The flow.** When a case officer asks your agency something, Samverkan pushes the request \
to your system: `POST {base_url}/consultations` (the `consultationRequest` webhook below; \
`base_url` and its credentials are agreed per agency). Your system answers 2xx with a \
receipt; the consultation is then `delivered`. You answer through this API on the \
`consultation_id` of the push: optionally `POST .../acknowledge` (you have it and are \
working on it), then exactly one of `POST .../answer` or `POST .../decline`. \
`GET /v1/consultations/{consultation_id}` shows what you were asked and what was disclosed \
to you, and where it stands; `GET /v1/consultations` lists the open ones.

**Acknowledge before answering?** Recommended, not required: an answer or a decline is \
accepted whether or not you acknowledged. Acknowledge at most once (again: 409 \
already_acknowledged); after the answer or decline every further call is 409 \
already_<outcome>. Reminders (`POST {base_url}/notices`) follow the agreed ladder until you \
answer or decline, acknowledged or not.

**status** of a consultation: `requested` (being pushed to your system; a failing push is \
retried), `delivered` (your system accepted it), `acknowledged`; once ended: `answered`, \
`declined`, `expired` (not answered in time: the case went on without it) or \
`delivery_failed` (your system refused the push). **result** of a call: `acknowledged`, \
`answered`, `declined`, or `accepted` (information, queued for the case). **error** is a \
stable word, **code** its detail (see ErrorBody).

**Times.** Every instant (`requested_at`, `acknowledged_at`, `target`, `due`) is RFC 3339 \
with its offset from UTC, given in UTC (`+00:00`). **due** is the end of the last answer day \
in Stockholm (23:59:59.999999 Europe/Stockholm), e.g. `2026-12-09T22:59:59.999999+00:00` \
for 9 December; **due_date** is that day as a Swedish local date, `2026-12-09`.

**Rate limits.** Per agency {rate:g} calls a minute sustained with a burst of {burst} on \
top (a token bucket); beyond it 429 `rate_limited` with `Retry-After` (seconds). Failed \
authentications are limited per client address ({failures:g} a minute, burst \
{failure_burst}): 429 with code `authentication_failures`.

**Pagination.** None: `GET /v1/consultations` returns all of your agency's open \
consultations in one response, soonest due first (ended ones drop out).

**Retries.** Send an `Idempotency-Key` with every POST and retry a 503 or a lost response \
with the same key (see the parameter for its scope and lifetime). Another agency's \
consultation is 404 exactly like an unknown one."""


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


def _webhook(summary: str, description: str, schema: str, key: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "description": description,
            "security": [],
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": key,
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": schema}}},
            },
            "responses": {
                "2XX": {
                    "description": "Accepted: your system has it (return the same receipt "
                    "for a repeated Idempotency-Key).",
                    "content": {"application/json": {"schema": _ref(AgencyReceipt)}},
                },
                "4XX": {
                    "description": "Refused: never retried; the case officer is told at once "
                    "and the consultation ends as delivery_failed."
                },
                "5XX": {
                    "description": "Retried (also on timeouts and refused connections), "
                    "2 s doubling to 10 min between attempts, for up to 3 days."
                },
            },
        }
    }


def _webhooks() -> dict[str, Any]:
    return {
        "consultationRequest": _webhook(
            "A consultation request, pushed to the agency's system",
            "Samverkan POSTs this to `{base_url}/consultations` of the agency's system when a "
            "case officer requests a consultation. `payload` holds only what the legal basis "
            "lets this agency see (`disclosed_fields`; nothing personal for CVE). "
            "`reply_to` is null today: answer on this API, on the push's `consultation_id`: "
            "`POST /v1/consultations/{consultation_id}/acknowledge`, then "
            "`POST /v1/consultations/{consultation_id}/answer` or `.../decline`; "
            "`GET /v1/consultations/{consultation_id}` shows the request again.",
            "#/components/schemas/ConsultationPush",
            "The consultation id: a retried push carries the same key and must not create a "
            "second request in your system.",
        ),
        "consultationNotice": _webhook(
            "A reminder or escalation about an unanswered consultation",
            "Samverkan POSTs this to `{base_url}/notices` as the consultation's ladder says "
            "(`due` is the answer's due instant, as in the API). Answering it is not needed.",
            "#/components/schemas/NoticePush",
            "`<consultation id>:<kind>:<rung name>`: one per distinct notice.",
        ),
    }


def openapi_document(settings: GatewaySettings | None = None) -> dict[str, Any]:
    """The OpenAPI document served at /v1/openapi.json (rate limits from ``settings``)."""
    limits = settings or GatewaySettings()
    schemas: dict[str, Any] = {}
    for model in _MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name, model in _PUSHED.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schema["properties"].pop("agency", None)
        schema["required"] = [r for r in schema.get("required", []) if r != "agency"]
        schema["title"] = name
        schema["description"] = _PUSH_DESCRIPTIONS[name]
        schemas[name] = schema
    conflict = {"409": _error("The consultation has ended or was acknowledged already.")}
    description = (
        _DESCRIPTION.replace("{rate:g}", f"{limits.samverkan_gateway_rate_per_minute:g}")
        .replace("{burst}", str(limits.samverkan_gateway_burst))
        .replace("{failures:g}", f"{limits.samverkan_gateway_auth_failures_per_minute:g}")
        .replace("{failure_burst}", str(limits.samverkan_gateway_auth_failure_burst))
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Samverkan agency gateway",
            "version": "1.2.0",
            "description": description,
        },
        "webhooks": _webhooks(),
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
            "/v1/consultations/{consultation_id}": {
                "get": {
                    "summary": "What your agency was asked and where it stands",
                    "parameters": [_CONSULTATION_ID],
                    "responses": {
                        "200": {
                            "description": "The consultation: the request as pushed (what was "
                            "disclosed to you), its status and due time; open or ended.",
                            "content": {"application/json": {"schema": _ref(ConsultationDetail)}},
                        },
                        "404": _error("No such consultation for this agency."),
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
