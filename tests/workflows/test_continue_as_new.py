"""A long-lived case continues as new with its folded state and loses nothing."""

from __future__ import annotations

from collections import Counter

from tests.waiting import eventually
from tests.workflows.conftest import CaseStack, assessed_into_investigation, record_history
from workflows.messages import CaseRunOptions


async def test_case_continues_as_new_and_carries_state_deadlines_and_raised_rungs(
    stack: CaseStack,
) -> None:
    handle = await stack.open(options=CaseRunOptions(history_length_limit=60))
    first_run = (await handle.describe()).run_id
    await assessed_into_investigation(handle)
    for n in range(12):
        await handle.signal("add_information", {"source": "school", "information": f"Note {n}."})

    async def continued() -> bool:
        latest = stack.client.get_workflow_handle(handle.id)
        return (await latest.describe()).run_id != first_run

    await eventually(continued)
    latest = stack.client.get_workflow_handle(handle.id)

    async def all_notes_recorded() -> bool:
        envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
        return sum(e.type == "InformationAdded" for e in envelopes) == 12

    await eventually(all_notes_recorded)
    await latest.execute_update(
        "record_child_views",
        {"reason_not_heard": "Not heard in this test.", "decided_by": "officer-1"},
    )
    summary = await latest.execute_update(
        "conclude_investigation", {"outcome": "no_intervention", "decided_by": "officer-1"}
    )
    assert summary["state"] == "decided"
    envelopes = await stack.store.read_case(handle.id.removeprefix("case-"))
    assert [e.version for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert summary["version"] == len(envelopes)
    assert len({e.event_id for e in envelopes}) == len(envelopes)
    timeline = await latest.query("timeline")
    assert len(timeline) == len(envelopes)
    deadline_sets = Counter(e.data["deadline"]["key"] for e in envelopes if e.type == "DeadlineSet")
    assert all(n == 1 for n in deadline_sets.values())
    first = stack.client.get_workflow_handle(handle.id, run_id=first_run)
    await record_history(first, "case-continued-as-new-batched-appends")
