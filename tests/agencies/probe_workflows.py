"""Test-only workflows: the smallest callers of the agency activities and updates.

They stand in for the consultation workflow (written elsewhere) so these tests exercise
real Temporal retries and real updates without depending on it.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.agencies import DeliverConsultationRequest, DeliveryReceipt
    from cases import (
        AcknowledgeConsultation,
        Agency,
        AnswerConsultation,
        DeclineConsultation,
    )


class DeliveryProbe(BaseModel):
    request: DeliverConsultationRequest
    max_attempts: int = 5
    initial_interval_ms: int = 50


@workflow.defn
class DeliverConsultationProbe:
    """Executes ``deliver_consultation`` once, with Temporal's retries."""

    @workflow.run
    async def run(self, probe: DeliveryProbe) -> DeliveryReceipt:
        return await workflow.execute_activity(
            "deliver_consultation",
            probe.request,
            result_type=DeliveryReceipt,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=probe.initial_interval_ms),
                backoff_coefficient=1.0,
                maximum_attempts=probe.max_attempts,
            ),
        )


class ReplyProbeResult(BaseModel):
    acknowledged_by: Agency | None = None
    answer: str | None = None
    declined_reason: str | None = None


@workflow.defn
class ConsultationReplyProbe:
    """Waits for an agency's ``acknowledge`` and then ``answer`` or ``decline`` update."""

    def __init__(self) -> None:
        self._result = ReplyProbeResult()
        self._done = False

    @workflow.run
    async def run(self) -> ReplyProbeResult:
        await workflow.wait_condition(lambda: self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result

    @workflow.update
    async def acknowledge(self, command: AcknowledgeConsultation) -> None:
        self._result = self._result.model_copy(update={"acknowledged_by": command.agency})

    @workflow.update
    async def answer(self, command: AnswerConsultation) -> None:
        self._result = self._result.model_copy(update={"answer": command.answer})
        self._done = True

    @workflow.update
    async def decline(self, command: DeclineConsultation) -> None:
        self._result = self._result.model_copy(update={"declined_reason": command.reason})
        self._done = True
