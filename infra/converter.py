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

import contextlib
import dataclasses
from collections import OrderedDict
from typing import Any, Generic, Self, TypeVar

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.exceptions import ApplicationError

INVALID_INPUT = "InvalidInput"
SCOPED_CACHE_SIZE = 1024
"""How many context-scoped codecs and data converters one worker keeps (LRU).

One per case in flight: the worker caches at most 1,000 workflows, and a case evicted from
the LRU costs one small object to build again, so 10,000 open cases stay bounded.
"""

_K = TypeVar("_K")
_V = TypeVar("_V")


class LRUCache(Generic[_K, _V]):
    """A small least-recently-used mapping with at most ``size`` entries.

    Safe to share between the event loop and the SDK's threads: a race can only cost a
    rebuilt entry, never a wrong one.
    """

    def __init__(self, size: int = SCOPED_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError("an LRU cache holds at least one entry")
        self._size = size
        self._entries: OrderedDict[_K, _V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: _K) -> _V | None:
        """The entry for ``key`` (now the most recently used), or ``None``."""
        value = self._entries.get(key)
        if value is not None:
            with contextlib.suppress(KeyError):  # evicted by another thread meanwhile
                self._entries.move_to_end(key)
        return value

    def pop(self, key: _K) -> _V | None:
        """Forget ``key``; its entry, or ``None``."""
        return self._entries.pop(key, None)

    def put(self, key: _K, value: _V) -> None:
        """Remember ``value``; the least recently used entry goes when the cache is full."""
        self._entries[key] = value
        while len(self._entries) > self._size:
            try:
                self._entries.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break


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


_CONVERTERS: tuple[EncodingPayloadConverter, ...] = tuple(
    _ValidatingJSONConverter() if isinstance(c, JSONPlainPayloadConverter) else c
    for c in DefaultPayloadConverter.default_encoding_payload_converters
)
"""The encoding converters every `SamverkanPayloadConverter` shares.

The SDK builds a payload converter for every workflow instance and every activation, and
the JSON converter caches a pydantic `TypeAdapter` per type it meets: one shared JSON
converter (stateless but for that thread-safe cache, like the SDK's own shared default
converters) builds each adapter once per process instead of once per cached workflow.
"""


class SamverkanPayloadConverter(CompositePayloadConverter):
    """The default converters, with JSON handled by `_ValidatingJSONConverter`."""

    def __init__(self) -> None:
        super().__init__(*_CONVERTERS)


@dataclasses.dataclass(frozen=True)
class ScopedDataConverter(DataConverter):
    """A data converter that reuses its per-context copies instead of building one per payload.

    The SDK calls `with_context` for every payload it encodes or decodes; the SDK's version
    copies the converter whenever the codec's `with_context` returns another object, and a
    copy builds a new payload and failure converter. Here the copy for a codec scope (the
    object the codec's own cache returns, see `infra.codec.EncryptionCodec.with_context`)
    is built once and kept in an LRU shared by the converter and its copies.
    """

    scoped_copies: LRUCache[PayloadCodec, DataConverter] = dataclasses.field(
        default_factory=LRUCache, compare=False, repr=False
    )

    def with_context(self, context: SerializationContext) -> Self:
        """The copy for ``context``: cached per codec scope when only the codec depends on it."""
        codec = self.payload_codec
        if not isinstance(codec, WithSerializationContext):
            return super().with_context(context)
        scoped = codec.with_context(context)
        if scoped is codec:
            return super().with_context(context)
        hit = self.scoped_copies.get(scoped)
        if hit is not None:
            return hit
        made = super().with_context(context)
        if (
            made.payload_codec is scoped
            and made.payload_converter is self.payload_converter
            and made.failure_converter is self.failure_converter
            and made.external_storage is self.external_storage
        ):
            self.scoped_copies.put(scoped, made)
        return made


_BASE = DataConverter(payload_converter_class=SamverkanPayloadConverter)


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """Samverkan's data converter, with ``codec`` (encryption) when given.

    With a codec the converter is a `ScopedDataConverter` of its own (its cache of
    per-context copies belongs to this codec).
    """
    if codec is None:
        return _BASE
    return ScopedDataConverter(
        payload_converter_class=SamverkanPayloadConverter, payload_codec=codec
    )
