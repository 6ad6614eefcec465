"""A test-only workflow that uses every kind of call a Samverkan worker makes: its start, a
workflow task, an activity task and a signal each go through the client's connection."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="count_round")
async def count_round(round_: int) -> int:
    """The activity poll and completion."""
    return round_ + 1


@workflow.defn(name="TokenRenewalProbe")
class TokenRenewalProbe:
    """Runs one activity, then waits for a signal."""

    def __init__(self) -> None:
        self._go = False

    @workflow.run
    async def run(self, round_: int) -> int:
        counted = await workflow.execute_activity(
            count_round, round_, start_to_close_timeout=timedelta(seconds=10)
        )
        await workflow.wait_condition(lambda: self._go)
        return counted

    @workflow.signal
    def proceed(self) -> None:
        self._go = True
