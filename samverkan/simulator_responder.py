"""How the agency simulator answers a consultation: the responder interface and its implementations.

A real agency answers through the agency gateway; until the gateway exists the simulator
answers with Temporal updates (``acknowledge``, ``answer``, ``decline``) on the workflow
whose id is the consultation id. The gateway will plug in as another `ConsultationResponder`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from temporalio.client import Client

from activities.domain import AcknowledgeConsultation, AnswerConsultation, DeclineConsultation
from samverkan.converter import data_converter

__all__ = [
    "ConsultationResponder",
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
    """Answers with a Temporal update on the workflow whose id is the consultation id."""

    def __init__(self, *, client: Client | None = None, connect: ClientFactory | None = None):
        """Use ``client``, or connect on first use with ``connect`` (the simulator then
        starts even while Temporal is still coming up)."""
        if client is None and connect is None:
            raise ValueError("give a client or a way to connect")
        self._client = client
        self._connect = connect
        self._lock = asyncio.Lock()

    @classmethod
    def connecting_to(cls, address: str, *, namespace: str = "default") -> TemporalUpdateResponder:
        """A responder that connects to ``address`` with Samverkan's data converter."""

        async def connect() -> Client:
            return await Client.connect(
                address, namespace=namespace, data_converter=data_converter()
            )

        return cls(connect=connect)

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
                self._client = await self._connect()
            return self._client


ClientFactory = Callable[[], Awaitable[Client]]
