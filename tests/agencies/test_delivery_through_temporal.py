"""Agency delivery and answers through a real Temporal server (the dev server, `local_env`)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.agencies import AgencyActivities, DeliverConsultationRequest, DeliveryReceipt
from cases import Agency, LegalBasis
from simulator.app import running_simulator
from simulator.responder import TemporalUpdateResponder

from .probe_workflows import (
    ConsultationReplyProbe,
    DeliverConsultationProbe,
    DeliveryProbe,
    ReplyProbeResult,
)
from .support import SimulatorAdmin, directory_for


def consultation_id() -> str:
    return f"case-T{uuid.uuid4().hex[:8]}:consultation-1"


def request_for(agency: Agency, cid: str) -> DeliverConsultationRequest:
    return DeliverConsultationRequest(
        consultation_id=cid,
        case_number=cid.split(":")[0].removeprefix("case-"),
        agency=agency,
        legal_basis=LegalBasis.OSL_10_18A if agency is Agency.POLICE else LegalBasis.CONSENT,
        payload={"questions": "Is there a current risk assessment?"},
        contains_personal_data=True,
    )


@pytest_asyncio.fixture
async def answering_simulator(local_env: WorkflowEnvironment) -> AsyncIterator[SimulatorAdmin]:
    """A simulator whose agencies answer with Temporal updates on the dev server."""
    async with running_simulator(responder=TemporalUpdateResponder(client=local_env.client)) as url:
        admin = SimulatorAdmin(url)
        yield admin
        await admin.aclose()


@pytest_asyncio.fixture
async def worker(
    local_env: WorkflowEnvironment, answering_simulator: SimulatorAdmin, task_queue: str
) -> AsyncIterator[Worker]:
    agencies = AgencyActivities(directory_for(answering_simulator.url))
    async with Worker(
        local_env.client,
        task_queue=task_queue,
        workflows=[DeliverConsultationProbe, ConsultationReplyProbe],
        activities=agencies.activities(),
    ) as running:
        yield running
    await agencies.aclose()


async def deliver(
    env: WorkflowEnvironment, task_queue: str, probe: DeliveryProbe
) -> DeliveryReceipt:
    return await env.client.execute_workflow(
        DeliverConsultationProbe.run,
        probe,
        id=f"deliver-{probe.request.consultation_id}",
        task_queue=task_queue,
        result_type=DeliveryReceipt,
    )


async def poll(check: Any, *, attempts: int = 100) -> Any:
    """``await check()`` every 50 ms until it returns something truthy (the simulator
    answers back in the background, so there is no event to wait on from here)."""
    for _ in range(attempts):
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_police_failing_three_times_gets_the_consultation_exactly_once(
    local_env: WorkflowEnvironment,
    answering_simulator: SimulatorAdmin,
    worker: Worker,
    task_queue: str,
) -> None:
    await answering_simulator.set_behaviour("police", fail_times=3, never_answer=True)
    cid = consultation_id()

    receipt = await deliver(
        local_env, task_queue, DeliveryProbe(request=request_for(Agency.POLICE, cid))
    )

    received = await answering_simulator.received("police")
    created = await answering_simulator.created("police")
    assert receipt.attempts == 4
    assert [r["headers"]["idempotency-key"] for r in received] == [cid] * 4
    assert len(created) == 1
    assert receipt.agency_reference == created[0]["reference"]


async def test_rejected_delivery_fails_at_once_without_a_retry_loop(
    local_env: WorkflowEnvironment,
    answering_simulator: SimulatorAdmin,
    worker: Worker,
    task_queue: str,
) -> None:
    await answering_simulator.set_behaviour("police", reject=422)
    cid = consultation_id()

    with pytest.raises(WorkflowFailureError) as caught:
        await deliver(local_env, task_queue, DeliveryProbe(request=request_for(Agency.POLICE, cid)))

    activity_error = caught.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "AgencyRejected"
    assert len(await answering_simulator.received("police")) == 1


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (
            {"answer_after": 0.1, "answer": "No police record of concern."},
            ReplyProbeResult(acknowledged_by=Agency.SCHOOL, answer="No police record of concern."),
        ),
        (
            {"decline": True, "decline_reason": "No consent on file."},
            ReplyProbeResult(acknowledged_by=Agency.SCHOOL, declined_reason="No consent on file."),
        ),
    ],
)
async def test_simulated_agency_answers_through_temporal_updates(
    local_env: WorkflowEnvironment,
    answering_simulator: SimulatorAdmin,
    worker: Worker,
    task_queue: str,
    behaviour: dict[str, Any],
    expected: ReplyProbeResult,
) -> None:
    await answering_simulator.set_behaviour("school", **behaviour)
    cid = consultation_id()
    consultation = await local_env.client.start_workflow(
        ConsultationReplyProbe.run, id=cid, task_queue=task_queue, result_type=ReplyProbeResult
    )

    await deliver(local_env, task_queue, DeliveryProbe(request=request_for(Agency.SCHOOL, cid)))
    result = await asyncio.wait_for(consultation.result(), timeout=10)

    assert result == expected

    async def both_recorded() -> list[dict[str, Any]]:
        # The workflow may finish before the simulator's update call returns.
        replies = await answering_simulator.replies("school")
        return replies if len(replies) == 2 else []

    assert [r["outcome"] for r in await poll(both_recorded)] == ["delivered", "delivered"]


async def test_failed_answer_back_is_recorded_without_personal_data(
    local_env: WorkflowEnvironment,
    answering_simulator: SimulatorAdmin,
    worker: Worker,
    task_queue: str,
) -> None:
    cid = consultation_id()  # no workflow runs under this id: the update must fail

    await deliver(local_env, task_queue, DeliveryProbe(request=request_for(Agency.BUP, cid)))

    async def failed() -> list[dict[str, Any]]:
        return [r for r in await answering_simulator.replies("bup") if r["outcome"] == "failed"]

    [failure] = await poll(failed)
    assert failure["consultation_id"] == cid
    assert failure["action"] == "acknowledge"
    assert failure["error_type"]
    created = await answering_simulator.created("bup")
    assert created[0]["state"] == "received"
