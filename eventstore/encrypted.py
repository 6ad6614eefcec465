"""`EncryptingEventStore`: personal event fields encrypted with the case's data key.

A wrapper around any `EventStore` (DESIGN §4, §6). On append, every field an event type lists in
``personal_fields`` is encrypted (AES-256-GCM under the key of scope ``case-<case number>``,
associated data ``<event id>:<field>``) into a *vault* (table ``event_personal_data``), and the
event row keeps a **redaction marker** in its place: ``"[redacted]"`` for text, a fixed
placeholder for a structured value (the subject). On read, the fields are decrypted back.

Why a vault row rather than ciphertext inside ``data``: the inner store validates every stored
envelope against its event model (`cases.open_envelope`), and a ciphertext is not a valid
``Subject``; the marker is. So the raw ``events`` table never holds personal data, every
row still validates and folds, projections work unchanged, and a retried append (same
envelopes, same markers) is still recognised as a retry.

After crypto-shredding (`infra.keys.CaseKeys.shred`) the vault rows no longer decrypt and
the case reads with its markers: the non-personal audit trail (types, times, actors, deadlines,
disclosures without content) stays readable.

Writing, so that a crash or a failure at any step leaves either nothing readable or the
events with every personal field:

- `PostgresEventStore` with a `PostgresPersonalDataVault` on the same pool (the worker's
  composition): the vault rows go into the same statement or transaction as the events
  (`PostgresEventStore.append` with ``sealed``). A retry of a recorded batch writes any
  vault row its events lack (rows already there are kept), which completes events recorded
  by the older write order (events, then the vault, outside their transaction).
- any other pair (the in-memory store, a vault elsewhere): the vault rows first, then the
  events. A crash in between leaves sealed rows of events that were never recorded, which
  nothing reads (and which the case's key shreds with the rest); the retry keeps those
  rows (same content: the same batch) and records the events.

Keys are asked for with the store's namespace (`EncryptingEventStore.for_namespace`: the
append and read activities bind it to their workflow's namespace), so a case's personal fields
are sealed and opened only with keys of that namespace (`infra.keys.KeyOfAnotherNamespace`
otherwise). A store without one (``namespace=None``: the projector, the board, retention) is
the region's own reader and reads every municipality's cases.

Nothing here logs or raises with a field's value: the stores below see only markers and
ciphertext, and their errors name the case and versions.
"""

from __future__ import annotations

import copy
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from types import UnionType
from typing import Any, Protocol, Union, get_args, get_origin
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from cases import Envelope, Subject
from cases.envelope import event_types
from infra.keys import KeyDestroyed

from .postgres import PostgresEventStore
from .store import (
    AppendResult,
    EventStore,
    RecordedEvent,
    SealedField,
    check_batch,
    check_readable,
)

__all__ = [
    "PLACEHOLDERS",
    "REDACTED",
    "EncryptingEventStore",
    "InMemoryPersonalDataVault",
    "PersonalDataVault",
    "PostgresPersonalDataVault",
    "SealedField",
]

REDACTED = "[redacted]"
#: The marker of a personal field whose value is a structured model.
PLACEHOLDERS: dict[type[Any], dict[str, Any]] = {
    Subject: {
        "personal_identity_number": "19000101-0000",
        "name": REDACTED,
        "birth_date": "1900-01-01",
    },
}
_NONCE = 12
_SHREDDED = object()
_log = logging.getLogger(__name__)


class PersonalDataVault(Protocol):
    """Where sealed personal fields live."""

    async def put(self, fields: Sequence[SealedField]) -> None:
        """Store ``fields``; a field already stored is kept as it is."""
        ...

    async def get(self, event_ids: Sequence[UUID]) -> list[SealedField]:
        """Every sealed field of these events."""
        ...


class PostgresPersonalDataVault:
    """`PersonalDataVault` on table ``event_personal_data`` (migration 0003)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        """The asyncpg pool the vault runs on."""
        return self._pool

    async def put(self, fields: Sequence[SealedField]) -> None:
        """Store ``fields`` unless stored already."""
        if not fields:
            return
        await self._pool.executemany(
            "INSERT INTO event_personal_data (event_id, field, case_id, key_id, ciphertext) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            [(f.event_id, f.field, f.case_id, f.key_id, f.ciphertext) for f in fields],
        )

    async def get(self, event_ids: Sequence[UUID]) -> list[SealedField]:
        """Every sealed field of these events."""
        if not event_ids:
            return []
        rows = await self._pool.fetch(
            "SELECT event_id, field, case_id, key_id, ciphertext FROM event_personal_data "
            "WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return [
            SealedField(
                r["event_id"], r["field"], r["case_id"], r["key_id"], bytes(r["ciphertext"])
            )
            for r in rows
        ]


class InMemoryPersonalDataVault:
    """`PersonalDataVault` in memory, beside `InMemoryEventStore`."""

    def __init__(self) -> None:
        self._fields: dict[tuple[UUID, str], SealedField] = {}

    async def put(self, fields: Sequence[SealedField]) -> None:
        """Store ``fields`` unless stored already."""
        for f in fields:
            self._fields.setdefault((f.event_id, f.field), f)

    async def get(self, event_ids: Sequence[UUID]) -> list[SealedField]:
        """Every sealed field of these events."""
        wanted = set(event_ids)
        return [f for (eid, _), f in self._fields.items() if eid in wanted]


class _Keys(Protocol):
    """What the store needs of `infra.keys.CaseKeys` (eventstore does not import samverkan)."""

    async def for_scope(self, scope: str, *, namespace: str | None) -> Any:
        """The scope's data key (``key_id``, ``aead``) for ``namespace`` (``None``: any)."""
        ...

    async def by_id(self, key_id: str, *, namespace: str | None) -> Any:
        """The data key ``key_id`` for ``namespace``; raises when shredded or another
        namespace's."""
        ...


def _one_transaction(inner: EventStore, vault: PersonalDataVault) -> PostgresEventStore | None:
    """The store that can write the vault's rows in the events' own transaction: a
    `PostgresEventStore` and a `PostgresPersonalDataVault` on the same pool."""
    if (
        isinstance(inner, PostgresEventStore)
        and isinstance(vault, PostgresPersonalDataVault)
        and inner.pool is vault.pool
    ):
        return inner
    return None


def _placeholder(event_type: str, field: str) -> Any:
    """The marker of a personal field: its type's `PLACEHOLDERS` entry, ``{}`` (every part at
    its default) for another structured value, else `REDACTED`. ``X | None`` is read as X."""
    annotation = event_types()[event_type].model_fields[field].annotation
    kinds = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    kinds = tuple(k for k in kinds if k is not type(None)) or (annotation,)
    for kind in kinds:
        if isinstance(kind, type) and kind in PLACEHOLDERS:
            return dict(PLACEHOLDERS[kind])
    if any(isinstance(kind, type) and issubclass(kind, BaseModel) for kind in kinds):
        return {}
    return REDACTED


def _personal(envelope: Envelope) -> list[str]:
    cls = event_types().get(envelope.type)
    if cls is None:
        return []
    return sorted(f for f in cls.personal_fields if f in envelope.data)


class EncryptingEventStore:
    """An `EventStore` that keeps personal fields only as ciphertext (module docstring)."""

    def __init__(
        self,
        inner: EventStore,
        *,
        keys: _Keys,
        vault: PersonalDataVault,
        scope_of_case: Callable[[str], str] | None = None,
        namespace: str | None = None,
    ) -> None:
        """Args:
        inner: the store that keeps the (redacted) rows.
        keys: data keys, `infra.keys.CaseKeys`.
        vault: where the sealed fields go.
        scope_of_case: ``case_id -> key scope``; default ``case-<case_id>``.
        namespace: the Temporal namespace whose keys seal and open the fields; ``None``:
            the region's own reader (module docstring).
        """
        self._inner = inner
        self._keys = keys
        self._vault = vault
        self._scope = scope_of_case or (lambda case_id: f"case-{case_id}")
        self._namespace = namespace
        self._together = _one_transaction(inner, vault)

    @property
    def namespace(self) -> str | None:
        """The namespace whose keys this store uses (``None``: any, the region's reader)."""
        return self._namespace

    def for_namespace(self, namespace: str) -> EncryptingEventStore:
        """This store (same inner store, keys and vault) using ``namespace``'s keys only."""
        if namespace == self._namespace:
            return self
        bound = copy.copy(self)
        bound._namespace = namespace
        return bound

    @property
    def inner(self) -> EventStore:
        """The wrapped store."""
        return self._inner

    async def append(
        self,
        case_id: str,
        expected_version: int,
        envelopes: Sequence[Envelope],
        *,
        validated: bool = False,
    ) -> AppendResult:
        """Validate the plain batch and store it redacted with its sealed personal fields:
        in one transaction on PostgreSQL, else the fields first (module docstring).

        Each envelope is read as a domain event once: the plain batch here, and of the
        redacted batch only the envelopes whose fields were replaced by markers; the inner
        store is told the batch is validated.
        """
        check_batch(case_id, expected_version, envelopes, read_events=not validated)
        redacted: list[Envelope] = []
        changed: list[Envelope] = []
        sealed: list[SealedField] = []
        key = None
        for envelope in envelopes:
            fields = _personal(envelope)
            if not fields:
                redacted.append(envelope)
                continue
            if key is None:
                key = await self._keys.for_scope(self._scope(case_id), namespace=self._namespace)
            data = dict(envelope.data)
            for field in fields:
                nonce = secrets.token_bytes(_NONCE)
                plain = json.dumps(data[field], separators=(",", ":")).encode()
                aad = f"{envelope.event_id}:{field}".encode()
                sealed.append(
                    SealedField(
                        envelope.event_id,
                        field,
                        case_id,
                        key.key_id,
                        nonce + key.aead.encrypt(nonce, plain, aad),
                    )
                )
                data[field] = _placeholder(envelope.type, field)
            redacted.append(envelope.model_copy(update={"data": data}))
            changed.append(redacted[-1])
        check_readable(case_id, changed)  # the markers must read as valid events too
        if self._together is not None:
            return await self._together.append(
                case_id, expected_version, redacted, validated=True, sealed=sealed
            )
        await self._vault.put(sealed)  # first: until the events are recorded nothing reads it
        return await self._inner.append(case_id, expected_version, redacted, validated=True)

    async def _open(self, envelopes: list[Envelope]) -> list[Envelope]:
        sealed = await self._vault.get([e.event_id for e in envelopes if _personal(e)])
        if not sealed:
            return envelopes
        by_event: dict[UUID, list[SealedField]] = {}
        for f in sealed:
            by_event.setdefault(f.event_id, []).append(f)
        opened: list[Envelope] = []
        for envelope in envelopes:
            fields = by_event.get(envelope.event_id)
            if not fields:
                opened.append(envelope)
                continue
            data = dict(envelope.data)
            for f in fields:
                value = await self._decrypt(f)
                if value is not _SHREDDED:
                    data[f.field] = value
            opened.append(envelope.model_copy(update={"data": data}))
        return opened

    async def _decrypt(self, sealed: SealedField) -> Any:
        """The field's value, or `_SHREDDED` when its key was destroyed (the marker then stays).

        Any other key failure (a master key not configured, a key row missing) is a broken
        deployment, not a shredded case: it raises, rather than showing real cases as empty.
        """
        try:
            key = await self._keys.by_id(sealed.key_id, namespace=self._namespace)
        except KeyDestroyed:  # exactly what crypto-shredding is for
            return _SHREDDED
        aad = f"{sealed.event_id}:{sealed.field}".encode()
        try:
            plain = key.aead.decrypt(sealed.ciphertext[:_NONCE], sealed.ciphertext[_NONCE:], aad)
        except Exception:  # tampered with: keep the marker, never show a wrong value
            _log.warning("personal field does not decrypt", extra={"key_id": sealed.key_id})
            return _SHREDDED
        return json.loads(plain)

    async def read_case(self, case_id: str, *, after_version: int = 0) -> list[Envelope]:
        """The case's envelopes with personal fields decrypted (markers once shredded)."""
        return await self._open(await self._inner.read_case(case_id, after_version=after_version))

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events in global order, with personal fields decrypted (markers once shredded)."""
        recorded = await self._inner.read_all(after_position, limit)
        opened = await self._open([r.envelope for r in recorded])
        return [
            RecordedEvent(position=r.position, envelope=e, recorded_at=r.recorded_at)
            for r, e in zip(recorded, opened, strict=True)
        ]

    async def last_position(self) -> int:
        """The global position of the last recorded event."""
        return await self._inner.last_position()

    async def case_version(self, case_id: str) -> int:
        """The case's last version."""
        return await self._inner.case_version(case_id)
