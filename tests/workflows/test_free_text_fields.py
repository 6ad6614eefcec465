"""Clear-text fields of a running case take no free text (issue 16, item 3).

An operator update naming its operator with anything but an identifier is refused by the
update's validator (naming the field, not the value, and leaving no trace in history);
new signals are checked strictly behind patch ``samverkan-signal-fields-checked``; the
timeline and the event store never see a name typed into ``source`` or as ``by_whom``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.waiting import eventually
from tests.workflows.conftest import CaseStack, record_history, stored_types
from workflows.case import SIGNAL_FIELDS_CHECKED

TYPED = "Nils Namnsson"
"""A (fictitious) person's name an operator types where no free text belongs."""


def _patches(history: Any) -> set[str]:
    ids: set[str] = set()
    for event in history.events:
        if not event.HasField("marker_recorded_event_attributes"):
            continue
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_patch":
            for payload in marker.details["patch-data"].payloads:
                ids.add(json.loads(payload.data)["id"])
    return ids


async def _timeline(handle: WorkflowHandle[Any, Any]) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = await handle.query("timeline")
    return timeline


async def test_an_update_naming_its_operator_by_name_is_refused_without_echo(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    with pytest.raises(WorkflowUpdateFailedError) as raised:
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "No immediate danger.", "decided_by": TYPED},
        )
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Rejected"
    assert cause.details[0]["code"] == "not_an_identifier"
    assert cause.details[0]["field"] == "decided_by"
    assert "Nils" not in str(cause) and "Nils" not in json.dumps(cause.details[0])
    history = await handle.fetch_history()
    assert not any(
        e.HasField("workflow_execution_update_accepted_event_attributes") for e in history.events
    )
    summary = await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-17"},
    )
    assert summary["state"] == "pre_assessment"
    assessed = [e for e in await _timeline(handle) if e["type"] == "ProtectionAssessed"]
    assert [(e["actor"], e["data"]["decided_by"]) for e in assessed] == [
        ("officer-17", "officer-17")
    ]


async def test_new_signals_are_checked_and_no_typed_name_reaches_the_timeline_or_store(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await handle.signal("add_information", {"source": TYPED, "information": "Absent all week."})
    await handle.signal("add_information", {"source": "guardian", "information": "Called."})
    await handle.signal("consent_changed", {"given": True, "scope": "school", "by_whom": TYPED})
    await handle.signal("consent_changed", {"given": True, "scope": TYPED, "by_whom": "guardian"})

    async def recorded() -> bool:
        kinds = [e["type"] for e in await _timeline(handle)]
        return kinds.count("SignalRejected") == 2 and "ConsentChanged" in kinds

    await eventually(recorded)
    timeline = await _timeline(handle)
    entries = [
        (e["type"], e["actor"], e["data"].get("source"))
        for e in timeline
        if e["type"] in {"SignalRejected", "InformationAdded", "ConsentChanged"}
    ]
    assert entries == [
        ("SignalRejected", "system:signal", None),
        ("InformationAdded", "guardian", "guardian"),
        ("ConsentChanged", "system:consent", None),
        ("SignalRejected", "system:signal", None),
    ]
    rejected = [e["data"]["errors"] for e in timeline if e["type"] == "SignalRejected"]
    assert [[err["field"] for err in errors] for errors in rejected] == [["source"], ["scope"]]
    assert "Nils" not in json.dumps(timeline)
    stored = await stack.store.read_case(handle.id.removeprefix("case-"))
    clear = [e.model_dump(mode="json") for e in stored if e.type != "ConsentChanged"]
    assert "Nils" not in json.dumps(clear)  # by_whom is a personal field, sealed at rest
    assert all("Nils" not in e.actor for e in stored)
    assert "InformationAdded" in await stored_types(stack, handle)

    history = await handle.fetch_history()
    assert SIGNAL_FIELDS_CHECKED in _patches(history)
    await record_history(handle, "case-signal-fields-checked-batched-appends")
