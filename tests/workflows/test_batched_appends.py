"""Each step is one append: its events and the deadlines it starts (patch ``samverkan-batched-appends``).

Every activity is a round of payloads through the server and the codec, so the saving is
asserted on a fresh history; histories recorded before the patch replay the one-append-
per-deadline path (tests/workflows/test_replay.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from cases import DeadlineKind, Policy, compute_deadline, escalation_schedule
from tests.waiting import eventually
from tests.workflows.conftest import CaseStack, assessed_into_investigation, stored_types
from workflows.case import BATCHED_APPENDS, SYSTEM_ACTOR


async def _scheduled(handle: WorkflowHandle[Any, Any], activity: str) -> int:
    """How many times ``activity`` was scheduled in the case's history so far."""
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == activity
    )


async def _local_activities(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        1
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )


async def _patch_markers(handle: WorkflowHandle[Any, Any]) -> list[bytes]:
    history = await handle.fetch_history()
    return [
        payload.data
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


async def test_opening_records_the_report_and_both_deadlines_in_one_append(
    stack: CaseStack,
) -> None:
    handle = await stack.open()

    async def deadlines_set() -> bool:
        deadlines = (await handle.query("summary")).get("deadlines", {})
        return {"protection_assessment", "pre_assessment"} <= set(deadlines)

    await eventually(deadlines_set)
    assert await _scheduled(handle, "append_events") == 1
    assert await _local_activities(handle) == 3  # the policy and both deadlines
    markers = await _patch_markers(handle)  # and samverkan-steady-wait's, once waiting
    assert sum(BATCHED_APPENDS.encode() in marker for marker in markers) == 1

    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    assert [e.version for e in envelopes] == list(range(1, len(envelopes) + 1))
    opening, deadlines = envelopes[:-2], envelopes[-2:]
    assert opening[0].type == "ReportReceived"
    assert all(e.actor == "operator" and e.type != "DeadlineSet" for e in opening)
    assert [(e.type, e.actor, e.data["deadline"]["key"]) for e in deadlines] == [
        ("DeadlineSet", SYSTEM_ACTOR, "protection_assessment"),
        ("DeadlineSet", SYSTEM_ACTOR, "pre_assessment"),
    ]
    received = datetime.fromisoformat(opening[0].data["received_at"])
    assert all(datetime.fromisoformat(e.data["deadline"]["start"]) == received for e in deadlines)
    timeline = await handle.query("timeline")
    assert [(t["version"], t["type"]) for t in timeline] == [(e.version, e.type) for e in envelopes]


async def test_the_batched_opening_watches_the_first_rung_of_its_deadlines(
    stack: CaseStack,
) -> None:
    received: datetime = await stack.env.get_current_time()
    handle = await stack.open(received_at=received)
    policy = Policy.default()
    rungs = [
        rung
        for kind in (DeadlineKind.PROTECTION_ASSESSMENT, DeadlineKind.PRE_ASSESSMENT)
        for rung in escalation_schedule(compute_deadline(kind, received, policy=policy), policy)
    ]
    first = min(rungs, key=lambda r: (r.fire_at, r.deadline_key, r.rung_index))

    async def timer_summaries() -> list[str]:
        history = await handle.fetch_history()
        return [
            json.loads(e.user_metadata.summary.data)
            for e in history.events
            if e.HasField("timer_started_event_attributes")
        ]

    async def waiting_for_the_first_rung() -> bool:
        wanted = f"{first.rung_name} ({first.deadline_key}) — until "  # and its end
        return any(summary.startswith(wanted) for summary in await timer_summaries())

    await eventually(waiting_for_the_first_rung)


async def test_opening_and_extending_an_investigation_each_record_their_deadline_in_one_append(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    # opening, protection assessment, pre-assessment with the investigation's deadline
    assert await _scheduled(handle, "append_events") == 3
    types = await stored_types(stack, handle)
    assert types[-1] == "DeadlineSet" and "InvestigationOpened" in types
    assert types.count("DeadlineSet") == 4  # and the feedback task's (a mandatory reporter)

    before = (await handle.query("summary"))["deadlines"]["investigation"]["target"]
    until = (datetime.fromisoformat(before) + timedelta(days=45)).date()
    summary = await handle.execute_update(
        "extend_investigation",
        {"until": until.isoformat(), "reasons": "Awaiting BUP.", "decided_by": "unit-manager-1"},
    )
    assert summary["deadlines"]["investigation"]["target"].startswith(until.isoformat())
    assert await _scheduled(handle, "append_events") == 4
    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    extended, deadline = envelopes[-2:]
    assert (extended.type, extended.actor) == ("InvestigationExtended", "unit-manager-1")
    assert (deadline.type, deadline.actor) == ("DeadlineSet", SYSTEM_ACTOR)
    assert deadline.data["deadline"]["key"] == "investigation"


async def test_a_consultation_records_its_deadline_and_disclosure_in_one_append_before_it_starts(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    appends = await _scheduled(handle, "append_events")
    consultation_id = await handle.execute_update(
        "request_consultation",
        {
            "agency": "police",
            "legal_basis": "osl_10_18a",
            "statement": {
                "osl_10_18a": {
                    "risk_of_criminal_activity": "Recruited by a violent group.",
                    "may_help_prevent": "SSPF programme.",
                    "not_inappropriate": "Support not hindered.",
                }
            },
            "questions": "Is the youth known in SSPF?",
            "requested_by": "officer-1",
        },
    )
    # the request, then the answer deadline with the disclosure
    assert await _scheduled(handle, "append_events") == appends + 2
    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    requested, deadline, disclosed = envelopes[-3:]
    assert requested.type == "ConsultationRequested"
    assert (deadline.type, deadline.actor) == ("DeadlineSet", SYSTEM_ACTOR)
    assert deadline.data["deadline"]["key"] == f"consultation:{consultation_id}"
    assert (disclosed.type, disclosed.actor) == ("DisclosureRecorded", "officer-1")
    history = await handle.fetch_history()
    kinds = [
        "append"
        if e.HasField("activity_task_scheduled_event_attributes")
        else "child"
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
        else None
        for e in history.events
    ]
    kinds = [k for k in kinds if k]
    assert kinds[-2:] == ["append", "child"]  # disclosure recorded before anything goes out
