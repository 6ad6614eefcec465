"""What the agency simulator remembers and how each simulated agency behaves.

Kept apart from the HTTP layer (`simulator.app`) so the rules — idempotency on the
``Idempotency-Key``, ``fail_times`` counting, the answer-back sequence — read in one place.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cases import (
    AcknowledgeConsultation,
    Agency,
    AnswerConsultation,
    DeclineConsultation,
)
from simulator.responder import ConsultationResponder

#: An agency system retries a reply that could not get through, a few times.
REPLY_ATTEMPTS = 4
REPLY_BACKOFF_SECONDS = 0.5
log = structlog.get_logger(__name__)

#: The target name of the notification endpoint in behaviours and admin filters.
NOTIFICATIONS = "notifications"

CreatedKind = Literal["consultation", "notice", "notification"]
ConsultationState = Literal["received", "acknowledged", "answered", "declined"]


class SimulatorConfigError(ValueError):
    """The simulator configuration is invalid; the message names the target and field."""


class AgencyBehaviour(BaseModel):
    """How one simulated agency (or the notification endpoint) behaves.

    Attributes:
        answer_after: seconds between acknowledging and answering.
        acknowledge_only: acknowledge, then never answer.
        never_answer: neither acknowledge nor answer.
        decline: acknowledge, then decline with ``decline_reason``.
        answer: the answer text sent back.
        fail_times: the next N calls answer HTTP 500.
        reject: answer every call with this 4xx status.
        slow: seconds to wait before each HTTP response.
        require_bearer: when set, calls without ``Authorization: Bearer <it>`` get 401.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    answer_after: float = Field(default=0.0, ge=0, le=86_400)
    acknowledge_only: bool = False
    never_answer: bool = False
    decline: bool = False
    decline_reason: str = Field(default="Outside our remit.", min_length=1, max_length=2_000)
    answer: str = Field(default="No information on record.", min_length=1, max_length=20_000)
    fail_times: int = Field(default=0, ge=0, le=1_000)
    reject: int | None = Field(default=None, ge=400, le=499)
    slow: float = Field(default=0.0, ge=0, le=600)
    require_bearer: str | None = Field(default=None, min_length=1, repr=False)

    @model_validator(mode="after")
    def _one_outcome(self) -> AgencyBehaviour:
        chosen = [n for n in ("acknowledge_only", "never_answer", "decline") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(f"choose at most one of {', '.join(chosen)}")
        return self


class SimulatorConfig(BaseModel):
    """Start-up behaviours: ``[agencies.<agency>]`` tables and a ``[notifications]`` table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agencies: dict[Agency, AgencyBehaviour] = Field(default_factory=dict)
    notifications: AgencyBehaviour = AgencyBehaviour()

    @classmethod
    def from_mapping(cls, document: Mapping[str, Any]) -> SimulatorConfig:
        """Validate a parsed document.

        Raises:
            SimulatorConfigError: naming the target and field that are wrong.
        """
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            ]
            raise SimulatorConfigError("; ".join(problems)) from None

    @classmethod
    def from_toml(cls, text: str) -> SimulatorConfig:
        """Parse and validate TOML text (see `from_mapping`)."""
        try:
            return cls.from_mapping(tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            raise SimulatorConfigError(f"not valid TOML: {exc}") from None

    @classmethod
    def load(cls, path: Path | str) -> SimulatorConfig:
        """Read and validate the TOML file at ``path``."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SimulatorConfigError(f"cannot read {path}: {exc.strerror}") from None
        return cls.from_toml(text)

    def leave_to_hand(self, agencies: Iterable[str]) -> SimulatorConfig:
        """This configuration with ``agencies`` (names, or comma-separated lists of names)
        never acknowledging nor answering, so a person can do both through the gateway.

        Raises:
            SimulatorConfigError: an unknown agency name.
        """
        names = [n.strip() for item in agencies for n in item.split(",") if n.strip()]
        chosen = dict(self.agencies)
        for name in names:
            try:
                agency = Agency(name)
            except ValueError:
                known = ", ".join(a.value for a in Agency)
                raise SimulatorConfigError(f"unknown agency {name!r}; one of {known}") from None
            chosen[agency] = chosen.get(agency, AgencyBehaviour()).model_copy(
                update={"never_answer": True, "acknowledge_only": False, "decline": False}
            )
        return self.model_copy(update={"agencies": chosen})

    def behaviour_of(self, target: str) -> AgencyBehaviour:
        """The configured behaviour of an agency name or ``notifications``."""
        if target == NOTIFICATIONS:
            return self.notifications
        return self.agencies.get(Agency(target), AgencyBehaviour())


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class StoredResponse:
    """The first response to an idempotency key, replayed for every repeat."""

    status: int
    body: dict[str, Any]


@dataclass
class CreatedRequest:
    """A request the simulated system created (once per idempotency key)."""

    target: str
    kind: CreatedKind
    idempotency_key: str
    reference: str
    body: Any
    created_at: str
    consultation_id: str | None = None
    state: ConsultationState = "received"
    updated_at: str = field(default_factory=_now)

    def as_json(self) -> dict[str, Any]:
        """The admin API's view."""
        return {
            "target": self.target,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "reference": self.reference,
            "consultation_id": self.consultation_id,
            "state": self.state,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "body": self.body,
        }


@dataclass
class SimulatorState:
    """Everything the simulator knows; one instance per app."""

    config: SimulatorConfig
    responder: ConsultationResponder
    behaviours: dict[str, AgencyBehaviour] = field(default_factory=dict)
    failures_left: dict[str, int] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    created: list[CreatedRequest] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    responses: dict[tuple[str, CreatedKind, str], StoredResponse] = field(default_factory=dict)
    consultations: dict[tuple[str, str], CreatedRequest] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def targets(self) -> tuple[str, ...]:
        """Every agency name the simulator plays, and ``notifications``."""
        return (*(a.value for a in Agency), NOTIFICATIONS)

    def behaviour(self, target: str) -> AgencyBehaviour:
        """The current behaviour of ``target``."""
        return self.behaviours.get(target) or self.config.behaviour_of(target)

    def set_behaviour(self, target: str, behaviour: AgencyBehaviour) -> None:
        """Replace ``target``'s behaviour; its ``fail_times`` count starts afresh."""
        self.behaviours[target] = behaviour
        self.failures_left[target] = behaviour.fail_times

    def take_failure(self, target: str) -> bool:
        """Whether this call must fail with 500 (uses up one of ``fail_times``)."""
        left = self.failures_left.setdefault(target, self.behaviour(target).fail_times)
        if left <= 0:
            return False
        self.failures_left[target] = left - 1
        return True

    def record_received(
        self, *, target: str, method: str, path: str, headers: dict[str, str], body: Any
    ) -> None:
        """Record one HTTP request exactly as received."""
        self.received.append(
            {
                "target": target,
                "method": method,
                "path": path,
                "headers": headers,
                "body": body,
                "received_at": _now(),
            }
        )

    def create_once(
        self,
        *,
        target: str,
        kind: CreatedKind,
        key: str,
        body: Any,
        consultation_id: str | None = None,
    ) -> tuple[StoredResponse, bool]:
        """The response for ``key``: the stored one, or a new request created now.

        Returns:
            The response, and whether it was created by this call (False: a replay).
        """
        stored = self.responses.get((target, kind, key))
        if stored is not None:
            return stored, False
        reference = f"{target}-{len(self.created) + 1:06d}"
        created = CreatedRequest(
            target=target,
            kind=kind,
            idempotency_key=key,
            reference=reference,
            body=body,
            created_at=_now(),
            consultation_id=consultation_id,
        )
        self.created.append(created)
        if kind == "consultation" and consultation_id is not None:
            self.consultations[(target, consultation_id)] = created
        stored = StoredResponse(
            status=201,
            body={"reference": reference, "received_at": created.created_at, "state": "received"},
        )
        self.responses[(target, kind, key)] = stored
        return stored, True

    def start_answering(self, created: CreatedRequest) -> None:
        """Answer the consultation back in the background, as its agency's behaviour says."""
        task = asyncio.get_running_loop().create_task(
            self._answer_back(created, self.behaviour(created.target))
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer_back(self, created: CreatedRequest, behaviour: AgencyBehaviour) -> None:
        consultation_id = created.consultation_id
        if behaviour.never_answer or consultation_id is None:
            return
        agency = Agency(created.target)
        acknowledged = await self._reply(
            created,
            "acknowledged",
            lambda: self.responder.acknowledge(
                consultation_id,
                AcknowledgeConsultation(agency=agency, consultation_id=consultation_id),
            ),
        )
        if not acknowledged or behaviour.acknowledge_only:
            return
        await asyncio.sleep(behaviour.answer_after)
        if behaviour.decline:
            command_d = DeclineConsultation(
                agency=agency, reason=behaviour.decline_reason, consultation_id=consultation_id
            )
            await self._reply(
                created, "declined", lambda: self.responder.decline(consultation_id, command_d)
            )
        else:
            command_a = AnswerConsultation(
                agency=agency, answer=behaviour.answer, consultation_id=consultation_id
            )
            await self._reply(
                created, "answered", lambda: self.responder.answer(consultation_id, command_a)
            )

    async def _reply(
        self,
        created: CreatedRequest,
        new_state: ConsultationState,
        call: Callable[[], Awaitable[None]],
    ) -> bool:
        """Send one reply as an agency system would: retried a few times with backoff when
        the other side is slow or down (the gateway's idempotency key makes that harmless),
        never when it refused the reply."""
        action = {"acknowledged": "acknowledge", "answered": "answer", "declined": "decline"}[
            new_state
        ]
        entry: dict[str, Any] = {
            "agency": created.target,
            "consultation_id": created.consultation_id,
            "action": action,
            "at": _now(),
        }
        try:
            for attempt in range(REPLY_ATTEMPTS):
                try:
                    await call()
                    break
                except Exception as exc:
                    if attempt + 1 == REPLY_ATTEMPTS or not getattr(exc, "retryable", True):
                        raise
                    await asyncio.sleep(REPLY_BACKOFF_SECONDS * 2**attempt)
        except Exception as exc:
            # The error's text may quote the payload; keep only its type.
            entry.update(outcome="failed", error_type=type(exc).__name__)
            self.replies.append(entry)
            log.warning(
                "simulated agency could not reply",
                agency=created.target,
                consultation_id=created.consultation_id,
                action=action,
                error_type=type(exc).__name__,
            )
            return False
        entry.update(outcome="delivered", error_type=None)
        self.replies.append(entry)
        created.state = new_state
        created.updated_at = _now()
        return True

    async def reset(self) -> None:
        """Forget everything received and created; behaviours back to the configuration."""
        await self.cancel_tasks()
        self.behaviours.clear()
        self.failures_left.clear()
        self.received.clear()
        self.created.clear()
        self.replies.clear()
        self.responses.clear()
        self.consultations.clear()

    async def cancel_tasks(self) -> None:
        """Stop every pending answer-back."""
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
