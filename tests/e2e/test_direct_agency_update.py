"""An operator's ``temporal workflow update execute --name answer`` is refused on a dev server.

The operator has write access to the namespace but no attestation key, so whatever agency it
names, the worker refuses the update in one sentence and the history records nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import InMemoryEventStore
from simulator.app import running_simulator
from simulator.responder import NullResponder
from tests.agencies.support import directory_for
from tests.agency_attestation import TEST_ATTESTATION_KEYS
from tests.conftest import SCRIPTS
from worker import build_worker, compose
from workflows import CaseWorkflow

pytestmark = pytest.mark.e2e

POLICE_REQUEST = {
    "agency": "police",
    "legal_basis": "osl_10_18a",
    "statement": {
        "osl_10_18a": {
            "risk_of_criminal_activity": "Recruited by a violent group.",
            "may_help_prevent": "SSPF programme.",
            "not_inappropriate": "Support not hindered.",
        }
    },
    "questions": "Known in SSPF?",
    "requested_by": "officer-1",
}


def _temporal(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPTS / "temporal"), *args, "--address", address, "--namespace", "default"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_temporal_cli_cannot_answer_a_consultation_in_an_agencys_name(
    local_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = local_env.client
    address = client.service_client.config.target_host
    async with (
        running_simulator(responder=NullResponder()) as simulator_url,
        AsyncExitStack() as closing,
    ):
        activities = compose(
            closing,
            events=InMemoryEventStore(),
            agencies=directory_for(simulator_url),
            notify_url=f"{simulator_url}/notifications",
        )
        async with build_worker(
            client,
            task_queue=task_queue,
            activities=activities,
            attestation_keys=TEST_ATTESTATION_KEYS,
        ):
            case_number = f"CLI-{uuid.uuid4().hex[:8]}"
            data = dict(EXAMPLE_OPEN_CASE, case_number=case_number)
            data["received_at"] = datetime.now(UTC).isoformat()
            handle = await client.start_workflow(
                CaseWorkflow.run,
                OpenCase.model_validate(data),
                id=f"case-{case_number}",
                task_queue=task_queue,
            )
            await handle.execute_update(
                "record_protection_assessment",
                {"acute": False, "reasoning": "No danger.", "decided_by": "officer-1"},
            )
            await handle.execute_update(
                "decide_pre_assessment",
                {"open_investigation": True, "reasons": "Serious.", "decided_by": "officer-1"},
            )
            consultation_id = await handle.execute_update("request_consultation", POLICE_REQUEST)

            # In a thread: the worker runs on this event loop and must answer meanwhile.
            forged = await asyncio.to_thread(
                _temporal,
                address,
                "workflow",
                "update",
                "execute",
                "--workflow-id",
                consultation_id,
                "--name",
                "answer",
                "--input",
                json.dumps({"agency": "police", "answer": "Forged by an operator."}),
            )
            consultation = client.get_workflow_handle(consultation_id)
            status = await consultation.query("status")
            history = await consultation.fetch_history()
            # The gateway's path (the test client signs as the gateway does) still answers.
            await consultation.execute_update(
                "answer", {"agency": "police", "answer": "Known to SSPF."}
            )
            outcome = (await consultation.result())["outcome"]

    assert forged.returncode != 0, forged.stdout
    assert (
        "unauthenticated: no agency attestation; "
        "agency updates are accepted only through the agency gateway"
    ) in forged.stderr, forged.stderr
    assert status["outcome"] is None
    accepted = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    assert [e for e in history.events if e.event_type == accepted] == []
    assert outcome == "answered"
