"""The case's wait keeps its timer while its wake-up time stays (patch samverkan-steady-wait).

Before, every signal or update woke the run loop, which cancelled its timer and started the
same one again: two history events per wake. Now a timer is started only when the wake-up
time changes, and each says when it ends.
"""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType

from tests.workflows.conftest import CaseStack, record_history
from tests.workflows.test_replay import HISTORIES, _patches
from workflows.case import STEADY_WAIT

RECORDED = "case-steady-wait-batched-appends"
SIGNALS = 6


async def test_signals_that_move_no_deadline_start_no_timer(stack: CaseStack) -> None:
    handle = await stack.open()
    await handle.execute_update(
        "record_protection_assessment",
        {"acute": False, "reasoning": "No danger.", "decided_by": "officer-1"},
    )
    before = await handle.fetch_history()
    started_before = sum(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in before.events)

    for n in range(SIGNALS):
        await handle.signal("add_information", {"source": "school", "information": f"note {n}"})

    async def all_added() -> bool:
        timeline = await handle.query("timeline")
        return sum(e["type"] == "InformationAdded" for e in timeline) == SIGNALS

    from tests.waiting import eventually

    await eventually(all_added)
    history = await handle.fetch_history()
    kinds = Counter(e.event_type for e in history.events)

    assert kinds[EventType.EVENT_TYPE_TIMER_STARTED] == started_before
    assert kinds[EventType.EVENT_TYPE_TIMER_CANCELED] <= started_before
    timers = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert all(" — until 20" in e.user_metadata.summary.data.decode() for e in timers)
    await handle.execute_update(
        "decide_pre_assessment",
        {"open_investigation": False, "reasons": "Not serious.", "decided_by": "officer-1"},
    )
    await handle.execute_update("close_case", {"reason": "Done.", "decided_by": "officer-1"})
    await handle.result()
    await record_history(handle, RECORDED)


def test_the_corpus_holds_the_steady_wait() -> None:
    by_stem = {p.stem: p for p in HISTORIES}
    assert STEADY_WAIT in _patches(by_stem[RECORDED])
