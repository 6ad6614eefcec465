"""The one data converter shared by worker, clients, test environments and the replayer.

Payloads are JSON through pydantic (plain JSON an operator can type in the Web UI). Input
that does not validate becomes a non-retryable ``ApplicationError`` of type
``InvalidInput`` naming each bad field and the kind of error — never the value, which
may be personal data. Raised while decoding, it reaches the caller as is: a malformed
update is rejected with the field named, a malformed start input fails the workflow with
it, instead of the SDK's "Failed decoding arguments".

The payload codec that encrypts payloads plugs in here, so every user of this function
gets it.

Inside a case or consultation workflow (the payload converter the SDK gives each workflow
instance, with the workflow's serialization context) a payload the codec marked as having
arrived unsealed (``samverkan-unsealed``), sealed under an intake key another case owns
(``samverkan-key-owner``; empty: no case adopted it, which a replay meets where the live
worker refused), or sealed under a key of another namespace or for a case number another
namespace holds (``samverkan-other-namespace``) is refused with a non-retryable
``ApplicationError`` of type ``PlaintextRefused`` / ``ForeignKeyRefused`` /
``CaseOfAnotherNamespace``: a start fails at once, an update is rejected, a signal is dropped
(the SDK logs it). A worker without the codec marks nothing, so the
tests' codec-less workers and the replay corpus are unaffected. Data converters
(`ScopedDataConverter`: activations, clients, activities) never give the payload converter
a context: the refusal is the workflow's alone.

**Who is calling.** A payload the codec endpoint sealed for a signed-in operator carries,
inside the ciphertext, ``samverkan-sealed-by``: the officer identifier of the sign-on
(`gateway.oidc.Principal.sealed_by`; empty when the sign-on carries none). In a case or
consultation workflow, a value converted from such a payload whose actor field
(``decided_by``, ``requested_by``: `cases.commands.ACTOR_FIELDS`) is not that officer is
refused with an ``ApplicationError`` of type ``NotTheSignedInOfficer`` naming the field (not
the identifiers). Payloads without the stamp are not checked: those sealed by holders of the
master keys (`samverkan cases`, the SDK clients of the tests), by the agency gateway (its
updates are attested, `infra.attestation_interceptors`), by the worker itself, and those of
the dev stack's open codec endpoint (no real subject to stamp).

Why this needs no ``workflow.patched`` and changes no history (temporalio 1.35,
``worker/_workflow_instance.py``): ``_apply_do_update`` converts the update's arguments
(``_process_handler_args`` → ``_convert_payloads`` → this converter's ``from_payloads``)
inside its ``try`` before ``past_validation = True``; ``_convert_payloads`` re-raises a
``FailureError`` such as ``ApplicationError`` unwrapped, and any exception before
``past_validation`` becomes ``update_response.rejected``: the caller gets the message, and a
rejected update writes nothing to history (no UpdateAccepted event), adds and reorders no
workflow command. On replay an accepted update's arguments are converted again (the same
``_process_handler_args``, validator skipped as ``run_validator`` is false); only updates that
passed this check were accepted, and the stamp is read from inside the same ciphertext, so
the check passes again. A signal whose conversion raises is dropped and logged by
``_process_signal_job``, live and on replay alike (no signal model has an actor field today);
a start input fails the workflow as the refusals above do.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Generic, Self, TypeVar

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    ActivitySerializationContext,
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverter,
    DefaultPayloadConverter,
    EncodingPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
    PayloadConverter,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from cases.commands import ACTOR_FIELDS
from cases.ids import case_workflow_id, parse_workflow_id

INVALID_INPUT = "InvalidInput"
PLAINTEXT_REFUSED = "PlaintextRefused"
FOREIGN_KEY_REFUSED = "ForeignKeyRefused"
CASE_OF_ANOTHER_NAMESPACE = "CaseOfAnotherNamespace"
NOT_THE_SIGNED_IN_OFFICER = "NotTheSignedInOfficer"
#: Metadata the codec sets on a decoded payload that was not sealed (value ``1``).
UNSEALED_METADATA = "samverkan-unsealed"
#: Metadata the codec sets on a decoded payload sealed under an intake key: the owning case.
KEY_OWNER_METADATA = "samverkan-key-owner"
#: Metadata the codec sets, in a case's context, on a payload for a case number another
#: namespace holds (`OTHER_NAMESPACE_CASE`) or sealed under another namespace's key
#: (`OTHER_NAMESPACE_KEY`; the payload then carries no content).
OTHER_NAMESPACE_METADATA = "samverkan-other-namespace"
OTHER_NAMESPACE_CASE = b"case"
OTHER_NAMESPACE_KEY = b"key"
#: Metadata the codec endpoint puts *inside* each payload it seals for a signed-in operator
#: (`infra.codec.EncryptionCodec.encode_intake`): the officer identifier of the sign-on, or
#: empty when the sign-on carries none. Covered by AES-GCM, so it cannot be altered or removed
#: from the ciphertext the endpoint returns.
SEALED_BY_METADATA = "samverkan-sealed-by"
#: Metadata keys of this prefix are set by Samverkan only: the codec endpoint drops them from
#: what an operator sends before sealing it.
RESERVED_METADATA_PREFIX = "samverkan-"


def drop_reserved_metadata(payload: Payload) -> None:
    """Remove Samverkan's own (``samverkan-*``) metadata from ``payload``, in place: before
    sealing what an operator sent, and from what ``/codec/decode`` gives back."""
    for name in [k for k in payload.metadata if k.startswith(RESERVED_METADATA_PREFIX)]:
        del payload.metadata[name]


#: The encoding of the codec's ciphertext (`infra.codec.ENCODING`).
ENCRYPTED_ENCODING = b"binary/encrypted"
#: What a refused operator is told to do instead.
USE_THE_CODEC = (
    "send it through Samverkan's codec endpoint (temporal ... --codec-endpoint "
    "<gateway>/codec, or the Web UI with the codec server configured) or `samverkan cases`"
)
SCOPED_CACHE_SIZE = 1024
"""How many context-scoped codecs and data converters one worker keeps (LRU).

One per case in flight: the worker caches at most 1,000 workflows, and a case evicted from
the LRU costs one small object to build again, so 10,000 open cases stay bounded.
"""

#: Application errors that are the case's rules refusing input, not faults: the Web UI and
#: CLIs show them as one line (rule and field), without the worker's stack trace.
DOMAIN_REFUSALS = frozenset(
    {
        "Rejected",
        INVALID_INPUT,
        PLAINTEXT_REFUSED,
        FOREIGN_KEY_REFUSED,
        CASE_OF_ANOTHER_NAMESPACE,
        NOT_THE_SIGNED_IN_OFFICER,
        "WrongWorkflowId",
        "SubjectTooOld",
        "CaseAlreadyExists",
    }
)

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


def _case_of(context: SerializationContext) -> str | None:
    """The case workflow id (``case-<n>``) of a case or consultation workflow's context."""
    if not isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
        return None
    parsed = parse_workflow_id(context.workflow_id)
    return case_workflow_id(parsed.case_number) if parsed else None


def refusal(payload: Payload, case: str) -> ApplicationError | None:
    """Why a case workflow refuses ``payload`` (decoded by the codec), or ``None``."""
    if payload.metadata.get(UNSEALED_METADATA) == b"1":
        return ApplicationError(
            "unsealed payload refused: a case's input must be encrypted under its case key; "
            + USE_THE_CODEC,
            type=PLAINTEXT_REFUSED,
            non_retryable=True,
        )
    other = payload.metadata.get(OTHER_NAMESPACE_METADATA)
    if other is not None:
        reason = (
            f"{case} is a case number of another municipality's namespace (case numbers are "
            "unique across the region: use your municipality's prefix)"
            if other == OTHER_NAMESPACE_CASE
            else "it is sealed under another municipality's key"
        )
        return ApplicationError(
            f"payload refused: {reason}", type=CASE_OF_ANOTHER_NAMESPACE, non_retryable=True
        )
    owner = payload.metadata.get(KEY_OWNER_METADATA)
    if owner is not None and owner.decode() != case:
        return ApplicationError(
            "payload refused: it was encoded for another case (each codec request seals "
            "one case's input; encode again for this case)",
            type=FOREIGN_KEY_REFUSED,
            non_retryable=True,
        )
    return None


def actor_refusal(payload: Payload, value: Any) -> ApplicationError | None:
    """Why a case workflow refuses ``value`` (converted from ``payload``), or ``None``: the
    codec endpoint stamped ``payload`` with the signed-in officer and ``value`` names another
    one in an actor field (`cases.commands.ACTOR_FIELDS`). A payload without the stamp is not
    checked (module docstring). The message names the field only: neither identifier (a
    dropped signal's reason reaches the worker's log)."""
    stamp = payload.metadata.get(SEALED_BY_METADATA)
    if stamp is None:
        return None
    for name in ACTOR_FIELDS:
        given = value.get(name) if isinstance(value, dict) else getattr(value, name, None)
        if given is None or (stamp and given == stamp.decode()):
            continue
        why = (
            " (the identifier your sign-on carries)"
            if stamp
            else ", and your sign-on carries no officer identifier (SAMVERKAN_CODEC_OFFICER_CLAIM)"
        )
        return ApplicationError(
            f"{name} must be the signed-in officer{why}: a decision is recorded only as the "
            "officer who sends it",
            type=NOT_THE_SIGNED_IN_OFFICER,
            non_retryable=True,
        )
    return None


class SamverkanPayloadConverter(CompositePayloadConverter):
    """The default converters, with JSON handled by `_ValidatingJSONConverter`.

    Given a case or consultation workflow's context it refuses the payloads the codec
    marked (module docstring).
    """

    def __init__(self, *, case: str | None = None) -> None:
        super().__init__(*_CONVERTERS)
        self._case = case

    def with_context(self, context: SerializationContext) -> Self:
        """This converter for ``context``: refusing marked payloads in a case's workflows."""
        case = _case_of(context)
        if case == self._case:
            return self
        return type(self)(case=case)

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """The values, unless a case workflow must refuse one of the payloads or values."""
        if self._case is None:
            return super().from_payloads(payloads, type_hints)
        for payload in payloads:
            refused = refusal(payload, self._case)
            if refused is not None:
                raise refused
        values = super().from_payloads(payloads, type_hints)
        for payload, value in zip(payloads, values, strict=True):
            refused = actor_refusal(payload, value)
            if refused is not None:
                raise refused
        return values


class SamverkanFailureConverter(DefaultFailureConverter):
    """The SDK's failure converter, dropping the stack trace of a domain refusal
    (`DOMAIN_REFUSALS`): a rejected update reaches the Web UI and CLI as its one-line
    message, never a trace with the worker's paths. Faults keep their traces."""

    def to_failure(
        self, exception: BaseException, payload_converter: PayloadConverter, failure: Failure
    ) -> None:
        super().to_failure(exception, payload_converter, failure)
        if isinstance(exception, ApplicationError) and exception.type in DOMAIN_REFUSALS:
            failure.stack_trace = ""


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
        """The copy for ``context``: only the codec takes the context (the payload converter
        does inside a workflow instance, where the SDK asks it directly), cached per codec
        scope."""
        codec = self.payload_codec
        if not isinstance(codec, WithSerializationContext):
            return self
        scoped = codec.with_context(context)
        if scoped is codec:
            return self
        hit = self.scoped_copies.get(scoped)
        if hit is not None:
            return hit
        made = dataclasses.replace(self)
        object.__setattr__(made, "payload_codec", scoped)
        object.__setattr__(made, "payload_converter", self.payload_converter)
        object.__setattr__(made, "failure_converter", self.failure_converter)
        object.__setattr__(made, "scoped_copies", self.scoped_copies)
        self.scoped_copies.put(scoped, made)
        return made

    async def _decode_payload_sequence(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Codec decode (the SDK's hook for every payload a worker or replayer decodes), each
        payload that arrived without encryption marked ``samverkan-unsealed``.

        Only with a codec that seals (``seals_payloads``: `infra.codec.EncryptionCodec` and
        its decode-only form). Marked here, not by the codec, so a live worker (codec with the workflow's context)
        and a replayer (decode-only codec, no context) mark the same payloads, and a case
        workflow refuses the same inputs on replay as it did live.
        """
        decoded = await super()._decode_payload_sequence(payloads)
        if not getattr(self.payload_codec, "seals_payloads", False):
            return decoded  # no codec, or one that encrypts nothing (test recorders)
        for before, after in zip(payloads, decoded, strict=True):
            if before.metadata.get("encoding") != ENCRYPTED_ENCODING:
                after.metadata[UNSEALED_METADATA] = b"1"
        return decoded


_BASE = ScopedDataConverter(
    payload_converter_class=SamverkanPayloadConverter,
    failure_converter_class=SamverkanFailureConverter,
)


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """Samverkan's data converter, with ``codec`` (encryption) when given.

    With a codec the converter is a `ScopedDataConverter` of its own (its cache of
    per-context copies belongs to this codec).
    """
    if codec is None:
        return _BASE
    return ScopedDataConverter(
        payload_converter_class=SamverkanPayloadConverter,
        failure_converter_class=SamverkanFailureConverter,
        payload_codec=codec,
    )
