"""How a case explains itself: Web UI details, search attributes and domain metrics.

All are built from the folded `CaseState` and its events only, and none ever holds
personal data: search attributes are stored unencrypted, details are read by everyone who
can open the workflow, and metric labels are checked by `infra.metrics`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import MetricMeter, SearchAttributeUpdate

from cases import (
    STOCKHOLM,
    CaseState,
    Deadline,
    DeadlineBreached,
    DomainEvent,
    EscalationRaised,
)
from cases.state import deadline_name
from infra import metrics
from workflows.search_attributes import (
    AGENCY,
    CASE_STATE,
    MUNICIPALITY,
    NEXT_DEADLINE,
    OPEN_CONSULTATIONS,
    OVERDUE_COUNT,
)

_STATE_WORDS = {
    "received": "Report of concern received",
    "protection_assessment": "Protection assessment (skyddsbedömning) under way",
    "immediate_protection": "Acute: protect the child and open the investigation at once",
    "pre_assessment": "Pre-assessment (förhandsbedömning) under way",
    "investigation": "Investigation (utredning) open",
    "decided": "Investigation concluded",
    "follow_up": "Follow-up",
    "closed": "Closed",
}


def _when(moment: datetime | None) -> str:
    """``2026-03-02 23:59 CET``: Swedish time, as the law counts deadlines.

    Formatted by hand: ``strftime`` imports ``time`` on every call, which in the workflow
    sandbox goes through its import hook (~0.1 ms a call, a few per step on replay).
    """
    if moment is None:
        return "—"
    local = moment.astimezone(STOCKHOLM)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d} {local.tzname()}"
    )


@contextlib.contextmanager
def calendar_allowed() -> Iterator[None]:
    """Let the holiday calendar be read for presentation (working days late) in a workflow.

    The ``holidays`` package reads the locale when it builds a year, which the workflow
    sandbox forbids. What it gives here goes only into current details and query answers,
    never into a command, so replay does not depend on it (deadlines themselves are still
    computed in a local activity).
    """
    if workflow.in_workflow():
        with workflow.unsafe.sandbox_unrestricted():
            yield
    else:
        yield


def current_details(
    state: CaseState, *, now: datetime, pending: list[Deadline] | None = None
) -> str:
    """Markdown for the Web UI: where the case stands, what it waits for, by when, and the
    provision behind that deadline as resolved for this case (its ``legal_reference``).

    ``pending``: the state's `pending_deadlines`, when the caller has them.
    """
    pending = state.pending_deadlines() if pending is None else pending
    deadline = state.step_deadline(pending)  # the step's own, not the earliest of all
    lines = [
        f"**{_STATE_WORDS.get(state.state.value, state.state.value)}** — case {state.case_number}, "
        f"{state.municipality}",
        "",
        f"**Next:** {state.next_expected_action(pending)}",
    ]
    if deadline is not None:
        lines.append(
            f"**By:** {_when(deadline.target)} (legal latest {_when(deadline.legal_latest)}, "
            f"{deadline_name(deadline)})"
        )
        if deadline.legal_reference is not None:
            lines.append(f"**Law:** {deadline.legal_reference.label()}")
    if state.custody_in_force:
        lines.append("**Immediate custody (LVU 6 §):** in force")
    elif state.custody_lapsed_key is not None:
        lines.append(
            "**Immediate custody (LVU 6 §):** ended by law (LVU 9 §), "
            f"{state.custody_lapsed_key.replace('_', ' ')} missed"
        )
    with calendar_allowed():
        overdue = state.overdue_lines(now, pending)
    if overdue:
        lines += ["", "**Overdue:**", *(f"- {line}" for line in overdue)]
    if pending:
        lines += ["", "**Deadlines:**", *(f"- {line}" for line in state.pending_lines(pending))]
    open_ids = state.open_consultation_ids()
    if open_ids:
        lines.append("")
        lines.append("**Waiting for consultations:**")
        for consultation_id in open_ids:
            consultation = state.consultations[consultation_id]
            lines.append(
                f"- {consultation.agency.value}: {consultation.status.value} ({consultation_id})"
            )
    return "\n".join(lines)


def search_attribute_values(
    state: CaseState, *, now: datetime, pending: list[Deadline] | None = None
) -> dict[str, Any]:
    """The search attribute values the case should have now, by attribute name."""
    pending = state.pending_deadlines() if pending is None else pending
    deadline = state.next_deadline(pending)
    agencies = sorted({c.agency.value for c in state.consultations.values()})
    return {
        CASE_STATE.name: state.state.value,
        MUNICIPALITY.name: state.municipality,
        NEXT_DEADLINE.name: deadline.legal_latest if deadline else None,
        OVERDUE_COUNT.name: state.overdue_count(now, pending),
        OPEN_CONSULTATIONS.name: len(state.open_consultation_ids()),
        AGENCY.name: agencies,
    }


def search_attribute_updates(
    state: CaseState,
    previous: dict[str, Any],
    *,
    now: datetime,
    pending: list[Deadline] | None = None,
) -> tuple[list[SearchAttributeUpdate[Any]], dict[str, Any]]:
    """The upserts needed to bring ``previous`` values to the state's, and the new values.

    Only changed attributes are upserted: each upsert is a command in history and costs.
    """
    values = search_attribute_values(state, now=now, pending=pending)
    keys = {
        key.name: key
        for key in (
            CASE_STATE,
            MUNICIPALITY,
            NEXT_DEADLINE,
            OVERDUE_COUNT,
            OPEN_CONSULTATIONS,
            AGENCY,
        )
    }
    updates: list[SearchAttributeUpdate[Any]] = []
    for name, value in values.items():
        if name in previous and previous[name] == value:
            continue
        key: Any = keys[name]
        updates.append(key.value_unset() if value is None else key.value_set(value))
    return updates, values


def record_metrics(
    meter: MetricMeter, before: CaseState | None, after: CaseState, event: DomainEvent
) -> None:
    """Count what ``event`` did to the case: a state transition, a breach, an escalation.

    Called with ``workflow.metric_meter()``, which records nothing while a history is
    replayed, so a series never counts an event twice.
    """
    if before is not None and before.state is not after.state:
        metrics.record_case_transition(meter, from_state=before.state, to_state=after.state)
    if isinstance(event, DeadlineBreached | EscalationRaised):
        deadline = after.deadlines.get(event.deadline_key)
        kind = deadline.kind if deadline is not None else event.deadline_key.split(":")[0]
        if isinstance(event, DeadlineBreached):
            metrics.record_deadline_breached(meter, kind=kind)
        else:
            metrics.record_escalation(meter, kind=kind, rung=event.rung_name)
