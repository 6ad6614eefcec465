"""The one data converter shared by worker, clients, test environments and the replayer.

Payloads are JSON through pydantic (plain JSON an operator can type in the Web UI). Input
that does not validate becomes a non-retryable ``ApplicationError`` of type
``InvalidInput`` naming each bad field and the kind of error — never the value, which
may be personal data. Raised while decoding, it reaches the caller as is: a malformed
update is rejected with the field named, a malformed start input fails the workflow with
it, instead of the SDK's "Failed decoding arguments".

The payload codec that encrypts payloads plugs in here, so every user of this function
gets it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)
from temporalio.exceptions import ApplicationError

INVALID_INPUT = "InvalidInput"


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """Each failing field's dotted path and pydantic error type; no input values."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "<input>", "error": e["type"]}
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]


class _ValidatingJSONConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic JSON whose validation failures are typed, value-free application errors."""

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as exc:
            errors = field_errors(exc)
            described = "; ".join(f"{e['field']}: {e['error']}" for e in errors)
            name = getattr(type_hint, "__name__", "input")
            raise ApplicationError(
                f"invalid {name}: {described}", *errors, type=INVALID_INPUT, non_retryable=True
            ) from None


class SamverkanPayloadConverter(CompositePayloadConverter):
    """The default converters, with JSON handled by `_ValidatingJSONConverter`."""

    def __init__(self) -> None:
        json_converter = _ValidatingJSONConverter()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


_BASE = DataConverter(payload_converter_class=SamverkanPayloadConverter)


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """Samverkan's data converter, with ``codec`` (encryption) when given."""
    if codec is None:
        return _BASE
    return dataclasses.replace(_BASE, payload_codec=codec)
