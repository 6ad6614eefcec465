"""The payload codec: AES-256-GCM with a per-case data key, chosen by serialization context.

Every payload Temporal stores (workflow inputs and results, update and signal arguments,
activity inputs, memos, summaries, failure details) passes through `EncryptionCodec`:

- **Encode** picks the key from the Temporal serialization context (`with_context`): a
  workflow or activity whose workflow id is ``case-<n>`` or ``case-<n>:consultation-<k>`` uses
  the case's data key; anything else (no context, other workflows, the codec endpoint) uses
  the namespace's key. The stored payload is ``encoding=binary/encrypted`` with the key id in
  metadata ``encryption-key-id``; its data is ``nonce (12 bytes) || AES-GCM(serialized
  original payload)`` with the key id as associated data.
- **Intake** (`EncryptionCodec.encode_intake`, the ``/codec/encode`` endpoint the Web UI and the
  ``temporal`` CLI call with only ``X-Namespace``): each request is sealed under a fresh
  single-use data key of scope ``intake:<random>``. For a signed-in operator the endpoint
  first stamps each payload with the officer's identifier (``samverkan-sealed-by``, inside the
  seal: AES-GCM covers it); the case workflow refuses an actor field that is not that
  officer (`infra.converter`). Metadata of Samverkan's own (``samverkan-*``) that the caller
  sent is dropped before sealing, so only the endpoint stamps.
- **Decode** needs no context: the key id in the metadata names the key, so the Web UI's codec
  endpoint and ``samverkan replay`` read any payload they are allowed to. Payloads without the
  encrypted encoding pass through unchanged (histories from before encryption still read;
  the data converter marks them and a case workflow refuses them, see `infra.converter`).
  In the context
  of a case or consultation workflow, a payload under an intake key makes the case *adopt*
  the key (`infra.keys.CaseKeys.adopt`), so shredding the case destroys it; every intake
  payload is marked ``samverkan-key-owner`` with the case that owns its key, and a case
  workflow refuses a payload whose key another case owns (docs/security.md, "Keys for what
  operators type"). A replay (`DecodeOnlyCodec`, no context) marks an intake key no case
  adopted with an empty owner, so it refuses what the live worker refused (below).
- **Namespaces.** Every key is asked for with the codec's namespace (the serialization
  context's, else the constructor's) and a key bound to another namespace is never used
  (`infra.keys.KeyOfAnotherNamespace`). Without a case's context (the codec endpoint, clients,
  replays) decode raises it. In a case's context it must not (a workflow task that fails
  retries forever): a payload under another namespace's key, or an intake payload for a case
  number another namespace holds, is marked ``samverkan-other-namespace`` and the case
  workflow refuses it (`infra.converter`), so a start fails at once.
- After crypto-shredding, decoding raises `PayloadKeyShredded` naming the key and the case,
  never the content.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from typing import Self

import asyncpg
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from infra.converter import (
    ENCRYPTED_ENCODING,
    KEY_OWNER_METADATA,
    OTHER_NAMESPACE_CASE,
    OTHER_NAMESPACE_KEY,
    OTHER_NAMESPACE_METADATA,
    SCOPED_CACHE_SIZE,
    SEALED_BY_METADATA,
    LRUCache,
    drop_reserved_metadata,
)
from infra.keys import (
    INTAKE_PREFIX,
    NONCE_BYTES,
    CaseKeys,
    DataKey,
    KeyOfAnotherNamespace,
    KeyOwnedElsewhere,
    KeyShredded,
    MasterKeys,
    PostgresDataKeyStore,
    is_intake_scope,
    namespace_scope,
    scope_for_workflow_id,
)

ENCODING = ENCRYPTED_ENCODING
KEY_ID_METADATA = "encryption-key-id"
CIPHER_METADATA = "encryption-cipher"
CIPHER = b"AES-256-GCM"
#: How the id of an intake key begins (`infra.keys.CaseKeys.for_scope` names a key after
#: its scope, ``:`` as ``.``).
_INTAKE_KEY_ID_PREFIX = INTAKE_PREFIX.replace(":", ".")


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


@functools.lru_cache(maxsize=SCOPED_CACHE_SIZE)
def _sealed_template(key_id: str) -> Payload:
    """The metadata of a payload sealed under ``key_id`` (copied, never modified)."""
    return Payload(
        metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id.encode(), CIPHER_METADATA: CIPHER}
    )


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """AES-256-GCM payload codec with per-case keys (see the module docstring)."""

    #: Every payload it encodes is ciphertext: the data converter marks the ones it decodes
    #: that are not (`infra.converter.ScopedDataConverter`).
    seals_payloads = True

    def __init__(
        self,
        *,
        keys: CaseKeys,
        namespace: str,
        scope: str | None = None,
        cache_size: int = SCOPED_CACHE_SIZE,
    ) -> None:
        """Args:
        keys: the data keys (shared by every copy `with_context` makes).
        namespace: the Temporal namespace: the fallback key's, and the one every key is
            asked for with (a context's namespace replaces it in `with_context`).
        scope: the key scope to encrypt with; ``None`` means the namespace's key.
        cache_size: how many per-scope copies `with_context` keeps (least recently used go).
        """
        self._keys = keys
        self._namespace = namespace
        self._scope = scope
        self._key_scope = scope or namespace_scope(namespace)
        self._copies: LRUCache[tuple[str, str | None], EncryptionCodec] = LRUCache(cache_size)
        self._copies.put((namespace, scope), self)  # so a copy asked for this scope gives self

    @property
    def scope(self) -> str:
        """The key scope this codec encrypts with."""
        return self._key_scope

    @property
    def namespace(self) -> str:
        """The Temporal namespace this codec asks for keys with."""
        return self._namespace

    @property
    def keys(self) -> CaseKeys:
        """The data keys."""
        return self._keys

    def with_context(self, context: SerializationContext) -> Self:
        """The codec encrypting with the key of the context's case (or the namespace's).

        The SDK asks for every payload; the copy for a (namespace, scope) is built once and
        kept in an LRU shared by this codec and all its copies, so the same context gives
        the same object (and the data converter need not be copied again). A context of this
        codec's own scope gives this codec.
        """
        workflow_id: str | None = None
        namespace = self._namespace
        if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
            workflow_id = context.workflow_id
            namespace = context.namespace or namespace
        scope = scope_for_workflow_id(workflow_id)
        if namespace == self._namespace and scope == self._scope:
            return self
        copy = self._copies.get((namespace, scope))
        if copy is None:
            copy = self._copy(namespace, scope)
            self._copies.put((namespace, scope), copy)
        return copy  # type: ignore[return-value]  # built as type(self)

    def _copy(self, namespace: str, scope: str | None) -> Self:
        """A codec for ``scope`` sharing this one's keys and cache of copies."""
        copy = object.__new__(type(self))
        copy._keys = self._keys
        copy._namespace = namespace
        copy._scope = scope
        copy._key_scope = scope or namespace_scope(namespace)
        copy._copies = self._copies
        return copy

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with this context's data key."""
        if not payloads:
            return []
        key = await self._keys.for_scope(self._key_scope, namespace=self._namespace)
        return self._seal(key, payloads)

    async def encode_intake(
        self, payloads: Sequence[Payload], *, sealed_by: str | None = None
    ) -> list[Payload]:
        """Encrypt the payloads of one codec-endpoint request under a fresh intake key.

        The key belongs to no case until a case's worker decodes one of the payloads (it is
        then adopted by that case); unadopted it is shredded after
        `infra.keys.INTAKE_KEY_LIFETIME`. The key is bound to this codec's namespace.

        Args:
            payloads: what the caller sent; ``samverkan-*`` metadata in them is dropped.
            sealed_by: the signed-in officer's identifier (``""``: the sign-on carries
                none), stamped inside each sealed payload; ``None`` stamps nothing.
        """
        if not payloads:
            return []
        stamped = [_stamped(p, sealed_by) for p in payloads]
        return self._seal(await self._keys.new_intake(namespace=self._namespace), stamped)

    @staticmethod
    def _seal(key: DataKey, payloads: Sequence[Payload]) -> list[Payload]:
        kid = key.key_id.encode()
        template = _sealed_template(key.key_id)
        out: list[Payload] = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE_BYTES)
            sealed = Payload()
            sealed.CopyFrom(template)  # a third of the cost of building the metadata map
            sealed.data = nonce + key.aead.encrypt(nonce, payload.SerializeToString(), kid)
            out.append(sealed)
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt every encrypted payload with the key its metadata names.

        Raises:
            PayloadKeyShredded: the key was shredded. PayloadDecryptionError: bad ciphertext.
            UnknownKey: the key id is not known here. KeyOfAnotherNamespace: the key is bound
            to another namespace (only without a case's context: in one, the payload is
            marked instead, module docstring).
        """
        out: list[Payload] = []
        for payload in payloads:
            kid = key_id_of(payload)
            if kid is None:
                out.append(payload)
                continue
            try:
                # only a case's worker binds an old key; readers (no case context) never do
                key = await self._keys.by_id(
                    kid, namespace=self._namespace, claim=self._scope is not None
                )
            except KeyShredded as exc:
                raise PayloadKeyShredded(exc.key_id, exc.scope, None) from None
            except KeyOfAnotherNamespace:
                if self._scope is None:
                    raise
                out.append(_other_namespace_marker())
                continue
            owner: str | None = None
            other_namespace = False
            if is_intake_scope(key.scope):
                owner = key.owner_scope
                if self._scope is not None:
                    try:
                        key = await self._keys.adopt(
                            key, self._key_scope, namespace=self._namespace
                        )
                        owner = self._key_scope
                    except KeyOwnedElsewhere as exc:
                        owner = exc.owner_scope
                    except KeyOfAnotherNamespace:
                        other_namespace = True
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
            if owner is not None:
                decoded.metadata[KEY_OWNER_METADATA] = owner.encode()
            if other_namespace:
                decoded.metadata[OTHER_NAMESPACE_METADATA] = OTHER_NAMESPACE_CASE
            out.append(decoded)
        return out


def _stamped(payload: Payload, sealed_by: str | None) -> Payload:
    """A copy of ``payload`` without Samverkan's own metadata, stamped with ``sealed_by``."""
    copy = Payload()
    copy.CopyFrom(payload)
    drop_reserved_metadata(copy)
    if sealed_by is not None:
        copy.metadata[SEALED_BY_METADATA] = sealed_by.encode()
    return copy


def _other_namespace_marker() -> Payload:
    """What a case's context gets for a payload under another namespace's key: no content
    (the key is not used), only the mark the case workflow refuses."""
    return Payload(
        metadata={"encoding": b"json/plain", OTHER_NAMESPACE_METADATA: OTHER_NAMESPACE_KEY},
        data=b"null",
    )


class DecodeOnlyCodec(PayloadCodec):
    """A codec that decodes with ``inner`` and encodes nothing: for replaying histories.

    A replay reads the history's payloads (workflow input, activity results, signals and
    updates: decoded by ``inner``) and compares the commands the workflow issues with the
    history's, never their payloads, which it throws away; encrypting them would be wasted
    work (a quarter of a replay's time with `EncryptionCodec`). Never give it to a worker or
    a client: what it encodes is stored in plain text.

    It takes no serialization context: ``inner``'s decode must not need one
    (`EncryptionCodec` reads the key id from each payload), and without `with_context` the
    SDK uses one data converter for every payload instead of a copy per context.
    """

    def __init__(self, inner: PayloadCodec) -> None:
        """Args:
        inner: the codec whose decode this one uses.
        """
        self._inner = inner

    @property
    def inner(self) -> PayloadCodec:
        """The codec decoding payloads."""
        return self._inner

    @property
    def seals_payloads(self) -> bool:
        """Whether the histories it reads were sealed (``inner`` seals): a replay marks and
        refuses the same unsealed payloads the live worker did."""
        return bool(getattr(self._inner, "seals_payloads", False))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """The payloads unchanged."""
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """``inner``'s decode (its errors too: shredded or tampered payloads still raise).

        A payload under an intake key that no case adopted is marked with an empty owner
        (``samverkan-key-owner``): in a case's history that is an input the live worker
        refused without adopting its key (a case number of another namespace), and the
        case workflow refuses it again here, so the replay takes the path the live run took.
        """
        decoded = await self._inner.decode(payloads)
        for before, after in zip(payloads, decoded, strict=True):
            kid = key_id_of(before)
            if (
                kid is not None
                and kid.startswith(_INTAKE_KEY_ID_PREFIX)
                and KEY_OWNER_METADATA not in after.metadata
            ):
                after.metadata[KEY_OWNER_METADATA] = b""
        return decoded


def decode_only(codec: PayloadCodec) -> DecodeOnlyCodec:
    """``codec`` for replaying: decodes with it, encodes nothing (never wraps twice)."""
    return codec if isinstance(codec, DecodeOnlyCodec) else DecodeOnlyCodec(codec)


def build_codec(pool: asyncpg.Pool, *, namespace: str, master_keys: MasterKeys) -> EncryptionCodec:
    """The payload codec on the data keys in ``pool``'s database."""
    keys = CaseKeys(master_keys=master_keys, store=PostgresDataKeyStore(pool))
    return EncryptionCodec(keys=keys, namespace=namespace)
