"""Deadline computation and the case policy, as local activities.

Deadlines depend on the holiday calendar (the ``holidays`` package) and the policy
file: both may change between a case's start and a later replay. Running them as local
activities records their results in the workflow's history, so a replay never depends on
the installed calendar's version or on the policy file of the day (DESIGN §2).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cases import (
    Agency,
    Deadline,
    DeadlineKind,
    Policy,
    ScheduledRung,
    compute_deadline,
    escalation_schedule,
)


class DeadlineRequest(BaseModel):
    """What deadline to compute: its kind, when its period starts, and for whom.

    Built with the case's whole policy, it keeps only the part the ``kind`` deadline needs
    (`Policy.for_deadline`): the request is a local activity's input, which the worker
    holds for as long as the case stays cached, and the results are the same. A local
    activity's input is not part of the history, so this changes no replay.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: DeadlineKind
    start: AwareDatetime
    policy: Policy
    agency: Agency | None = None
    acute: bool = False
    key: str | None = None
    until: date | None = None

    @model_validator(mode="before")
    @classmethod
    def _only_what_the_kind_needs(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("policy"), Policy):
            return data  # decoded from JSON: the sender trimmed it already
        try:
            kind = DeadlineKind(str(data.get("kind")))
        except ValueError:
            return data  # field validation reports the bad kind
        return {**data, "policy": data["policy"].for_deadline(kind)}


class PlannedDeadline(BaseModel):
    """A computed deadline and the instants at which its escalation rungs fire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deadline: Deadline
    schedule: list[ScheduledRung]


def plan_deadline(request: DeadlineRequest) -> PlannedDeadline:
    """Compute a deadline and its escalation schedule (pure; the activity wraps it)."""
    deadline = compute_deadline(
        request.kind,
        request.start,
        policy=request.policy,
        agency=request.agency,
        acute=request.acute,
        key=request.key,
        until=request.until,
    )
    return PlannedDeadline(
        deadline=deadline, schedule=escalation_schedule(deadline, request.policy)
    )


class DeadlineActivities:
    """Local activities for deadlines; ``policy_file`` is the operator's policy, if any."""

    def __init__(self, *, policy_file: Path | None = None) -> None:
        self._policy_file = policy_file

    @activity.defn(name="load_policy")
    async def load_policy(self) -> Policy:
        """The policy in force now: the configured TOML file, or the built-in default."""
        if self._policy_file is None:
            return Policy.default()
        try:
            text = self._policy_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ApplicationError(
                f"policy file {self._policy_file} cannot be read ({exc.strerror})",
                type="PolicyUnreadable",
            ) from None
        return Policy.from_toml(text)

    @activity.defn(name="compute_deadline")
    async def compute_deadline(self, request: DeadlineRequest) -> PlannedDeadline:
        """Compute a deadline with the installed holiday calendar."""
        return plan_deadline(request)
