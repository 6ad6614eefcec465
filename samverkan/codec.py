"""The payload codec: AES-256-GCM with a per-case data key, chosen by serialization context.

Every payload Temporal stores (workflow inputs and results, update and signal arguments,
activity inputs, memos, summaries, failure details) passes through `EncryptionCodec`:

- **Encode** picks the key from the Temporal serialization context (`with_context`): a
  workflow or activity whose workflow id is ``case-<n>`` or ``case-<n>:consultation-<k>`` uses
  the case's data key; anything else (no context, other workflows, the codec endpoint) uses
  the namespace's key. The stored payload is ``encoding=binary/encrypted`` with the key id in
  metadata ``encryption-key-id``; its data is ``nonce (12 bytes) || AES-GCM(serialized
  original payload)`` with the key id as associated data.
- **Decode** needs no context: the key id in the metadata names the key, so the Web UI's codec
  endpoint and ``samverkan replay`` read any payload they are allowed to. Payloads without the
  encrypted encoding pass through unchanged (histories from before encryption still read).
- After crypto-shredding, decoding raises `PayloadKeyShredded` naming the key and the case,
  never the content.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Self

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from samverkan.keys import (
    NONCE_BYTES,
    CaseKeys,
    KeyShredded,
    namespace_scope,
    scope_for_workflow_id,
)

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
CIPHER_METADATA = "encryption-cipher"
CIPHER = b"AES-256-GCM"


class PayloadKeyShredded(KeyShredded):
    """A payload was encrypted with a key that has since been shredded."""


class PayloadDecryptionError(Exception):
    """A payload could not be decrypted (tampered with, or a wrong key); names no content."""


def is_encrypted(payload: Payload) -> bool:
    """Whether ``payload`` is this codec's ciphertext."""
    return payload.metadata.get("encoding") == ENCODING


def key_id_of(payload: Payload) -> str | None:
    """The data key id of an encrypted payload, ``None`` for a plain one."""
    if not is_encrypted(payload):
        return None
    return payload.metadata[KEY_ID_METADATA].decode()


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM payload codec with per-case keys (see the module docstring)."""

    def __init__(self, *, keys: CaseKeys, namespace: str, scope: str | None = None) -> None:
        """Args:
        keys: the data keys (shared by every copy `with_context` makes).
        namespace: the Temporal namespace, for the fallback key.
        scope: the key scope to encrypt with; ``None`` means the namespace's key.
        """
        self._keys = keys
        self._namespace = namespace
        self._scope = scope

    @property
    def scope(self) -> str:
        """The key scope this codec encrypts with."""
        return self._scope or namespace_scope(self._namespace)

    @property
    def keys(self) -> CaseKeys:
        """The data keys."""
        return self._keys

    def with_context(self, context: SerializationContext) -> Self:
        """A copy encrypting with the key of the context's case (or the namespace's)."""
        workflow_id: str | None = None
        namespace = self._namespace
        if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
            workflow_id = context.workflow_id
            namespace = context.namespace or namespace
        return type(self)(
            keys=self._keys, namespace=namespace, scope=scope_for_workflow_id(workflow_id)
        )

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with this context's data key."""
        if not payloads:
            return []
        key = await self._keys.for_scope(self.scope)
        kid = key.key_id.encode()
        out: list[Payload] = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            sealed = key.aead.encrypt(nonce, payload.SerializeToString(), kid)
            out.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: kid, CIPHER_METADATA: CIPHER},
                    data=nonce + sealed,
                )
            )
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt every encrypted payload with the key its metadata names.

        Raises:
            PayloadKeyShredded: the key was shredded. PayloadDecryptionError: bad ciphertext.
            UnknownKey: the key id is not known here.
        """
        out: list[Payload] = []
        for payload in payloads:
            kid = key_id_of(payload)
            if kid is None:
                out.append(payload)
                continue
            try:
                key = await self._keys.by_id(kid)
            except KeyShredded as exc:
                raise PayloadKeyShredded(exc.key_id, exc.scope, None) from None
            try:
                plain = key.aead.decrypt(
                    payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], kid.encode()
                )
            except Exception:
                raise PayloadDecryptionError(
                    f"payload under key {kid} does not decrypt (tampered with or wrong key)"
                ) from None
            decoded = Payload()
            decoded.ParseFromString(plain)
            out.append(decoded)
        return out
