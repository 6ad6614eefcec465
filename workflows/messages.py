"""The models that travel between the case workflow, its consultations and their callers.

One model per workflow input, signal and result (TEMPORAL-NOTES "Data"). They are plain
JSON through the pydantic data converter, so the Web UI shows them and operators can type them.
A consultation's report to its case (`ConsultationReport`, `ReportKind`) is the domain's
(`cases.decide_signal` decides it) and is re-exported here with the other messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cases import (
    Agency,
    CaseState,
    CaseStateName,
    ConcernCategory,
    ConsultationReport,
    ConsultationStatusName,
    Deadline,
    DeadlineKind,
    InvestigationOutcome,
    LegalBasis,
    Policy,
    ReportKind,
    ScheduledRung,
)

__all__ = [
    "CarriedCase",
    "CaseResult",
    "CaseRunOptions",
    "CaseSummary",
    "ConsultationInput",
    "ConsultationReport",
    "ConsultationResult",
    "DeadlineSummary",
    "OpenConsultationSummary",
    "ReportKind",
    "TimelineEntry",
]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimelineEntry(_Message):
    """One event of the case as the ``timeline`` query shows it: no personal data."""

    version: int
    type: str
    occurred_at: datetime
    actor: str
    data: dict[str, Any]


class CarriedCase(_Message):
    """What one run of a case hands to the next when it continues as new."""

    state: CaseState
    version: int
    policy: Policy
    schedule: list[ScheduledRung]
    timeline: list[TimelineEntry]
    inbox: list[dict[str, Any]] = Field(default_factory=list)


class CaseRunOptions(_Message):
    """What a continued run carries, and tuning; travels in the memo, not the input.

    The workflow's input stays the ``OpenCase`` an operator types in the Web UI (the SDK
    decodes typed arguments only when their count matches, so no optional second argument).
    """

    carried: CarriedCase | None = None
    history_length_limit: int | None = Field(
        default=None,
        ge=50,
        description="continue as new after this many history events (default: when Temporal suggests)",
    )


class ConsultationInput(_Message):
    """Start input of a `ConsultationWorkflow`."""

    consultation_id: str
    case_workflow_id: str
    case_number: str
    agency: Agency
    legal_basis: LegalBasis
    payload: dict[str, Any]
    contains_personal_data: bool
    disclosed_fields: list[str]
    deadline: Deadline
    schedule: list[ScheduledRung]


class ConsultationResult(_Message):
    """How a consultation ended."""

    consultation_id: str
    outcome: ReportKind


class CaseResult(_Message):
    """How a case's workflow ended."""

    case_number: str
    state: str
    events: int


class DeadlineSummary(_Message):
    """One deadline in a `CaseSummary`; instants as ``datetime.isoformat`` writes them.

    Keyed in the summary by `cases.state.summary_key` (``investigation``,
    ``police_consultation_1``); ``name`` in plain words, ``due`` its last day in Swedish time.
    """

    name: str
    due: str
    kind: DeadlineKind
    target: str
    legal_latest: str
    moved_because: list[str]
    status: Literal["open", "met", "met_late", "breached"]
    suspended: bool


class OpenConsultationSummary(_Message):
    """One open consultation in a `CaseSummary`."""

    consultation_id: str
    agency: Agency
    status: ConsultationStatusName
    requested_at: str


class CaseSummary(_Message):
    """Where a case stands, with no personal data: the ``summary`` query's answer and every
    operator update's result (the Web UI and ``samverkan case summary`` show it).

    Exactly `CaseState.to_summary`, field for field and in its order, so its JSON is the
    same: instants are strings as ``datetime.isoformat`` writes them (pydantic would write
    ``Z`` for UTC), ``overdue_count`` and ``overdue`` (which deadline, how many working days
    late) are null when no clock was given; ``pending_deadlines`` names each pending
    deadline with its own last day.
    """

    case_number: str
    municipality: str
    state: CaseStateName
    urgent: bool
    concern_category: ConcernCategory
    received_at: str
    deadlines: dict[str, DeadlineSummary]
    open_consultations: list[OpenConsultationSummary]
    overdue_count: int | None
    overdue: list[str] | None
    pending_deadlines: list[str]
    next_deadline: str | None
    extension_count: int
    outcome: InvestigationOutcome | None
    closed_at: str | None
    version: int
    next_expected_action: str

    @classmethod
    def of(cls, state: CaseState, *, now: datetime) -> CaseSummary:
        """The summary of ``state`` at ``now``."""
        from workflows.presentation import calendar_allowed

        with calendar_allowed():  # working days late read the holiday calendar
            return cls.model_validate(state.to_summary(now=now))
