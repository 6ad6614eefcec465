"""What the gateway asks of Temporal and of the read model, behind one small class.

The consultation workflow is the truth about ownership (the ``open_consultations``
projection may lag and forgets ended consultations, which would turn a second answer's 409
into a 404). Acknowledge, answer and decline are the workflow's validated updates, and
their validators check the agency before anything else (``wrong_agency``, mapped to
`ConsultationNotFound`), so an update needs no ownership query of its own: one round trip
to Temporal. Only when the workflow has ended (the server refuses the update) does
`Consultations.update` ask the ``status`` query, and it tells the outcome only to the
consultation's own agency. New information is the case workflow's ``add_information``
signal, which has no validator: `check_owner` asks the ``status`` query first.

Encrypting an update's argument takes the case's data key, and the codec *creates* a case's
key on first use (`infra.keys.CaseKeys.for_scope`). So before an update, `update` reads the
case's ``data_keys`` row (one PostgreSQL round trip, nothing created): with a key the case
exists and the update goes ahead (its validator checks the agency); without one, only the
``status`` query of a consultation that exists and is the caller's lets it go ahead (a case
from before encryption), so a made-up id never gets a key row.

A shredded case (its row a tombstone) is `ConsultationNotFound`, exactly like an unknown one,
before anything is sent: the row is read from the database each time, because this
process may still hold the key in its cache when another process shredded it. A key
shredded between that read and the call (the codec raises `KeyDestroyed`) is the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from cases import Agency
from cases.ids import parse_workflow_id
from cases.workdays import local_date
from infra.attestation_interceptors import UNAUTHENTICATED
from infra.keys import KeyDestroyed, PostgresDataKeyStore, StoredKey, scope_for_workflow_id


class ConsultationNotFound(Exception):
    """No such consultation for this agency (unknown, or another agency's: never told apart)."""


class AttestationRefused(RuntimeError):
    """The workers refused this gateway's attestation of the agency: its
    ``SAMVERKAN_AGENCY_ATTESTATION_KEYS`` do not match theirs (a server fault, never the
    agency's; the app answers 503)."""


class Refused(Exception):
    """The workflow's validator refused the update; ``code`` like ``already_answered``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    @property
    def conflict(self) -> bool:
        """A state conflict (409) rather than invalid input (422)."""
        return self.code.startswith("already_")


def _instant(instant: object) -> datetime | None:
    """An ISO instant with an offset (a naive one is not an instant); None if absent."""
    if isinstance(instant, datetime):
        parsed = instant
    elif isinstance(instant, str):
        try:
            parsed = datetime.fromisoformat(instant)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo is not None else None


def _utc(instant: object) -> str | None:
    """An instant as RFC 3339 in UTC, with its offset (+00:00): the API's form for every
    instant; None if absent."""
    parsed = _instant(instant)
    return parsed.astimezone(UTC).isoformat() if parsed is not None else None


def _stockholm_date(instant: object) -> str | None:
    """The Swedish local date (YYYY-MM-DD) on which an instant falls: a deadline's last day,
    since ``due`` is the end of that day in Stockholm; None if absent."""
    parsed = _instant(instant)
    return local_date(parsed).isoformat() if parsed is not None else None


def case_workflow_id(consultation_id: str) -> str:
    """The case workflow id of a consultation id (``case-<n>``)."""
    parsed = parse_workflow_id(consultation_id)
    if parsed is None or parsed.consultation is None:
        raise ConsultationNotFound
    return parsed.case_workflow_id


class Consultations:
    """Agency-scoped access to consultations through Temporal and the projection."""

    def __init__(self, *, client: Client, pool: asyncpg.Pool) -> None:
        self._client = client
        self._pool = pool
        self._keys = PostgresDataKeyStore(pool)  # read only: rows are created by the codec

    async def _case_key(self, consultation_id: str) -> StoredKey | None:
        """The case's data-key row (``None``: none yet); `ConsultationNotFound` for a
        malformed id or a shredded case."""
        case_workflow_id(consultation_id)  # a consultation id, or ConsultationNotFound
        scope = scope_for_workflow_id(consultation_id)  # the scope the codec encrypts with
        stored = await self._keys.by_scope(scope) if scope else None
        if stored is not None and stored.wrapped is None:
            raise ConsultationNotFound  # shredded: answered exactly like an unknown case
        return stored

    async def check_owner(self, consultation_id: str, agency: Agency) -> None:
        """Raise `ConsultationNotFound` unless the consultation exists, is ``agency``'s and
        its case was not shredded."""
        await self._case_key(consultation_id)
        await self._owned(consultation_id, agency)

    async def _owned(self, consultation_id: str, agency: Agency) -> None:
        handle = self._client.get_workflow_handle(consultation_id)
        try:
            status = await handle.query("status", result_type=dict)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise ConsultationNotFound from None
            raise
        except KeyDestroyed:
            raise ConsultationNotFound from None
        if not isinstance(status, dict) or status.get("agency") != agency.value:
            raise ConsultationNotFound

    async def update(
        self,
        consultation_id: str,
        name: str,
        command: BaseModel,
        *,
        agency: Agency,
        update_id: str,
    ) -> str:
        """Run update ``name`` with ``command`` (which carries ``agency``); the update's result.

        Raises:
            Refused: the validator rejected it. ConsultationNotFound: no such workflow, or
                another agency's (never told apart). AttestationRefused: the workers do not
                accept this gateway's attestation (keys out of step).
        """
        if await self._case_key(consultation_id) is None:
            await self._owned(consultation_id, agency)  # encrypting would create the key
        handle = self._client.get_workflow_handle(consultation_id)
        try:
            result = await handle.execute_update(name, command, id=update_id, result_type=str)
        except KeyDestroyed:
            raise ConsultationNotFound from None
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == UNAUTHENTICATED:
                raise AttestationRefused(
                    "the workers refused the gateway's agency attestation: check that gateway "
                    "and workers share SAMVERKAN_AGENCY_ATTESTATION_KEYS"
                ) from None
            if isinstance(cause, ApplicationError) and cause.type == "Rejected":
                code = str(cause.message).split(":", 1)[0].strip() or "rejected"
                if code == "wrong_agency":
                    raise ConsultationNotFound from None
                raise Refused(code) from None
            raise
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # A consultation that has ended refuses updates at the server, not its validator.
                raise await self._ended(consultation_id, agency) from None
            raise
        return str(result)

    async def _ended(self, consultation_id: str, agency: Agency) -> Exception:
        try:
            status = await self._client.get_workflow_handle(consultation_id).query(
                "status", result_type=dict
            )
        except (RPCError, KeyDestroyed):
            return ConsultationNotFound()
        if not isinstance(status, dict) or status.get("agency") != agency.value:
            return ConsultationNotFound()  # another agency's: it must not learn the outcome
        outcome = status.get("outcome")
        return Refused(f"already_{outcome}") if outcome else ConsultationNotFound()

    async def signal_case(self, consultation_id: str, name: str, payload: BaseModel) -> None:
        """Send signal ``name`` to the case the consultation belongs to."""
        handle = self._client.get_workflow_handle(case_workflow_id(consultation_id))
        try:
            await handle.signal(name, payload)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ConsultationNotFound from None
            raise
        except KeyDestroyed:
            raise ConsultationNotFound from None

    async def detail(self, consultation_id: str, agency: Agency) -> dict[str, Any]:
        """What ``agency`` was asked in the consultation and what was disclosed to it (the
        workflow's start input: the request as pushed), and where it stands (its ``status``
        query); `ConsultationNotFound` for another agency's, an unknown or a shredded one."""
        await self._case_key(consultation_id)
        status = await self._status(consultation_id)
        if status.get("agency") != agency.value:
            raise ConsultationNotFound
        started = await self._start_input(consultation_id)
        payload = started.get("payload")
        request = payload if isinstance(payload, dict) else {}
        outcome = status.get("outcome")
        if outcome:
            state = str(outcome)
        elif status.get("acknowledged"):
            state = "acknowledged"
        else:
            delivered_at = await self._pool.fetchval(
                "SELECT delivered_at FROM open_consultations WHERE consultation_id = $1",
                consultation_id,
            )
            state = "delivered" if delivered_at is not None else "requested"
        deadline = started.get("deadline")
        start = deadline.get("start") if isinstance(deadline, dict) else None
        return {
            "consultation_id": consultation_id,
            "agency": agency.value,
            "status": state,
            "legal_basis": str(started.get("legal_basis", "")),
            "acute": bool(request.get("acute", False)),
            "contains_personal_data": bool(started.get("contains_personal_data", False)),
            "disclosed_fields": [str(f) for f in started.get("disclosed_fields") or []],
            "request": request,
            "requested_at": _utc(start),
            "target": _utc(status.get("target")),
            "due": _utc(status.get("legal_latest")),
            "due_date": _stockholm_date(status.get("legal_latest")),
        }

    async def _status(self, consultation_id: str) -> dict[str, Any]:
        try:
            status = await self._client.get_workflow_handle(consultation_id).query(
                "status", result_type=dict
            )
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise ConsultationNotFound from None
            raise
        except KeyDestroyed:
            raise ConsultationNotFound from None
        if not isinstance(status, dict):
            raise ConsultationNotFound
        return status

    async def _start_input(self, consultation_id: str) -> dict[str, Any]:
        """The consultation workflow's start input, decoded (the codec decrypts it)."""
        handle = self._client.get_workflow_handle(consultation_id)
        try:
            async for event in handle.fetch_history_events():
                attributes = event.workflow_execution_started_event_attributes
                decoded = await self._client.data_converter.decode(
                    attributes.input.payloads, [dict]
                )
                first = decoded[0] if decoded else None
                return first if isinstance(first, dict) else {}
        except KeyDestroyed:
            raise ConsultationNotFound from None
        raise ConsultationNotFound

    async def open_for(self, agency: Agency) -> list[dict[str, Any]]:
        """The agency's open consultations from the projection: ids, status, basis, dates
        (instants in UTC with their offset; ``due_date`` the due day in Stockholm).

        ``status`` is ``requested`` until the agency's system has accepted the push, then
        ``delivered``, then ``acknowledged``."""
        rows = await self._pool.fetch(
            "SELECT consultation_id, status, legal_basis, acute, requested_at, acknowledged_at, "
            "due, delivered_at FROM open_consultations WHERE agency = $1 "
            "ORDER BY due NULLS LAST, consultation_id",
            agency.value,
        )
        return [
            {
                "consultation_id": r["consultation_id"],
                "status": (
                    "delivered"
                    if r["status"] == "requested" and r["delivered_at"] is not None
                    else r["status"]
                ),
                "legal_basis": r["legal_basis"],
                "acute": r["acute"],
                "requested_at": _utc(r["requested_at"]),
                "acknowledged_at": _utc(r["acknowledged_at"]),
                "due": _utc(r["due"]),
                "due_date": _stockholm_date(r["due"]),
            }
            for r in rows
        ]
