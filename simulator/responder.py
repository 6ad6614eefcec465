"""How the agency simulator answers a consultation: the responder interface and its implementations.

A real agency answers through the agency gateway, and so does the simulator in the dev
stack (`GatewayResponder`, one API key per agency). `TemporalUpdateResponder` answers
with Temporal updates (``acknowledge``, ``answer``, ``decline``) on the workflow whose id
is the consultation id, standing in for the gateway: the workers accept those updates only
with the gateway's attestation, so it signs with the attestation keys it is given (tests and
benchmarks that run no gateway); without keys its updates are refused as ``unauthenticated``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from temporalio.client import Client

from cases import AcknowledgeConsultation, AnswerConsultation, DeclineConsultation
from infra.attestation import AttestationKeys
from infra.attestation_interceptors import attesting
from infra.converter import data_converter

__all__ = [
    "ConsultationResponder",
    "GatewayResponder",
    "NullResponder",
    "RecordingResponder",
    "TemporalUpdateResponder",
]


class ConsultationResponder(Protocol):
    """Delivers an agency's reaction to a consultation back to Samverkan.

    Each method raises on failure; the simulator logs and records it.
    """

    async def acknowledge(self, consultation_id: str, command: AcknowledgeConsultation) -> None:
        """The agency has received the request."""
        ...

    async def answer(self, consultation_id: str, command: AnswerConsultation) -> None:
        """The agency answers."""
        ...

    async def decline(self, consultation_id: str, command: DeclineConsultation) -> None:
        """The agency declines to answer."""
        ...


class NullResponder:
    """Answers nowhere: for a simulator that only records what it receives."""

    async def acknowledge(self, consultation_id: str, command: AcknowledgeConsultation) -> None:
        """Do nothing."""

    async def answer(self, consultation_id: str, command: AnswerConsultation) -> None:
        """Do nothing."""

    async def decline(self, consultation_id: str, command: DeclineConsultation) -> None:
        """Do nothing."""


Reply = AcknowledgeConsultation | AnswerConsultation | DeclineConsultation


@dataclass
class RecordingResponder:
    """Keeps every reply in memory (a fake for tests that need no Temporal)."""

    replies: list[tuple[str, Reply]] = field(default_factory=list)

    async def acknowledge(self, consultation_id: str, command: AcknowledgeConsultation) -> None:
        """Record the acknowledgement."""
        self.replies.append((consultation_id, command))

    async def answer(self, consultation_id: str, command: AnswerConsultation) -> None:
        """Record the answer."""
        self.replies.append((consultation_id, command))

    async def decline(self, consultation_id: str, command: DeclineConsultation) -> None:
        """Record the decline."""
        self.replies.append((consultation_id, command))


class TemporalUpdateResponder:
    """Answers with a Temporal update on the workflow whose id is the consultation id,
    signed as the gateway would sign it when given ``attestation_keys``."""

    def __init__(
        self,
        *,
        client: Client | None = None,
        connect: ClientFactory | None = None,
        attestation_keys: AttestationKeys | None = None,
    ):
        """Use ``client``, or connect on first use with ``connect`` (the simulator then
        starts even while Temporal is still coming up)."""
        if client is None and connect is None:
            raise ValueError("give a client or a way to connect")
        self._keys = attestation_keys
        self._client = self._signing(client) if client is not None else None
        self._connect = connect
        self._lock = asyncio.Lock()

    def _signing(self, client: Client) -> Client:
        return attesting(client, self._keys) if self._keys is not None else client

    @classmethod
    def connecting_to(
        cls,
        address: str,
        *,
        namespace: str = "default",
        attestation_keys: AttestationKeys | None = None,
    ) -> TemporalUpdateResponder:
        """A responder that connects to ``address`` with Samverkan's data converter."""

        async def connect() -> Client:
            return await Client.connect(
                address, namespace=namespace, data_converter=data_converter()
            )

        return cls(connect=connect, attestation_keys=attestation_keys)

    async def acknowledge(self, consultation_id: str, command: AcknowledgeConsultation) -> None:
        """Execute update ``acknowledge``."""
        await self._update(consultation_id, "acknowledge", command)

    async def answer(self, consultation_id: str, command: AnswerConsultation) -> None:
        """Execute update ``answer``."""
        await self._update(consultation_id, "answer", command)

    async def decline(self, consultation_id: str, command: DeclineConsultation) -> None:
        """Execute update ``decline``."""
        await self._update(consultation_id, "decline", command)

    async def _update(self, workflow_id: str, update: str, command: Reply) -> None:
        client = await self._get_client()
        await client.get_workflow_handle(workflow_id).execute_update(update, command)

    async def _get_client(self) -> Client:
        async with self._lock:
            if self._client is None:
                assert self._connect is not None
                self._client = self._signing(await self._connect())
            return self._client


ClientFactory = Callable[[], Awaitable[Client]]


class GatewayError(RuntimeError):
    """The gateway refused an agency's reply; the message carries status and error word only."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        """Whether trying again may help: the gateway was busy or down, not refusing."""
        return self.status is None or self.status >= 500 or self.status == 429


class GatewayResponder:
    """Answers through the agency gateway's ``/v1`` API with each agency's own API key.

    The idempotency key of each call is ``<consultation id>:<action>``, so a retried reply
    is harmless.
    """

    def __init__(self, gateway_url: str, api_keys: dict[str, str], *, timeout: float = 10.0):
        self._keys = dict(api_keys)
        self._http = httpx.AsyncClient(base_url=gateway_url.rstrip("/"), timeout=timeout)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def acknowledge(self, consultation_id: str, command: AcknowledgeConsultation) -> None:
        """POST ``/v1/consultations/{id}/acknowledge``."""
        await self._post(consultation_id, "acknowledge", command.agency.value, {})

    async def answer(self, consultation_id: str, command: AnswerConsultation) -> None:
        """POST ``/v1/consultations/{id}/answer``."""
        await self._post(
            consultation_id, "answer", command.agency.value, {"answer": command.answer}
        )

    async def decline(self, consultation_id: str, command: DeclineConsultation) -> None:
        """POST ``/v1/consultations/{id}/decline``."""
        await self._post(
            consultation_id, "decline", command.agency.value, {"reason": command.reason}
        )

    async def _post(
        self, consultation_id: str, action: str, agency: str, body: dict[str, str]
    ) -> None:
        key = self._keys.get(agency)
        if key is None:
            raise GatewayError(f"no gateway API key for agency {agency}", status=401)
        response = await self._http.post(
            f"/v1/consultations/{consultation_id}/{action}",
            json=body,
            headers={
                "Authorization": f"Bearer {key}",
                "Idempotency-Key": f"{consultation_id}:{action}",
            },
        )
        if response.status_code >= 400:
            word = response.json().get("error", "") if response.content else ""
            raise GatewayError(
                f"gateway answered {response.status_code} {word}".strip(),
                status=response.status_code,
            )
