"""End to end on the real Temporal dev server: PostgreSQL, encryption, the simulator answering.

The worker is the production composition (`compose` and `build_worker`) with the
encrypting PostgreSQL event store and the payload codec; the simulator plays the police and
answers with a Temporal update signed as the gateway signs one (the worker accepts agency
updates only so).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import asyncpg
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cases import OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import PostgresEventStore, create_pool, migrate
from eventstore.encrypted import EncryptingEventStore, PostgresPersonalDataVault
from infra.codec import build_codec
from infra.converter import data_converter
from infra.keys import MasterKeys
from samverkan.replay import replay_histories
from simulator.app import running_simulator
from simulator.responder import TemporalUpdateResponder
from tests.agencies.support import directory_for
from tests.agency_attestation import TEST_ATTESTATION_KEYS, unsigned
from tests.waiting import eventually
from worker import build_worker, compose
from workflows import CaseWorkflow

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url)
    created = await create_pool(database_url)
    yield created
    await created.close()


async def test_case_runs_end_to_end_encrypted_and_replays(
    local_env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> None:
    codec = build_codec(
        pool, namespace="default", master_keys=MasterKeys.parse(MasterKeys.generate_entry("t1"))
    )
    config = local_env.client.config()
    config["data_converter"] = data_converter(codec)
    client = Client(**config)
    store = EncryptingEventStore(
        PostgresEventStore(pool), keys=codec.keys, vault=PostgresPersonalDataVault(pool)
    )
    # Standing in for the gateway: it signs its agency updates as the gateway does.
    responder = TemporalUpdateResponder(
        client=unsigned(client), attestation_keys=TEST_ATTESTATION_KEYS
    )
    async with (
        running_simulator(responder=responder) as simulator_url,
        AsyncExitStack() as closing,
    ):
        activities = compose(
            closing,
            events=store,
            agencies=directory_for(simulator_url),
            notify_url=f"{simulator_url}/notifications",
        )
        worker = build_worker(
            client,
            task_queue=task_queue,
            activities=activities,
            attestation_keys=TEST_ATTESTATION_KEYS,
        )
        async with worker:
            case_number = f"E2E-{uuid.uuid4().hex[:8]}"
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
            await handle.execute_update(
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
                    "questions": "Known in SSPF?",
                    "requested_by": "officer-1",
                },
            )

            async def answered() -> bool:
                rows = await pool.fetch("SELECT type FROM events WHERE case_id = $1", case_number)
                return any(r["type"] == "ConsultationAnswered" for r in rows)

            await eventually(answered, seconds=30)

            async def listed() -> bool:
                found = [
                    w.id
                    async for w in client.list_workflows(
                        f"CaseState='investigation' AND WorkflowId='case-{case_number}'"
                    )
                ]
                return found == [f"case-{case_number}"]

            await eventually(listed, seconds=30)
            summary = await handle.query("summary")
            rows = await pool.fetch(
                "SELECT version, type, data::text AS data FROM events WHERE case_id = $1 "
                "ORDER BY version",
                case_number,
            )
            history = await handle.fetch_history()

    assert summary["state"] == "investigation"
    assert summary["version"] == len(rows)
    assert [r["version"] for r in rows] == list(range(1, len(rows) + 1))
    stored = " ".join(r["data"] for r in rows)
    raw_history = history.to_json()
    for personal in ("Testperson", "20120315-0004", "propaganda"):
        assert personal not in stored, "personal data in plain text in PostgreSQL"
        assert personal not in raw_history, "personal data in plain text in Temporal history"
    [outcome] = await replay_histories([("server", history)], codec=codec)
    assert outcome.ok, outcome.error
    decrypted = [e.type for e in await store.read_case(case_number)]
    assert decrypted[0] == "ReportReceived"
    first = (await store.read_case(case_number))[0]
    assert first.data["subject"]["name"] == "Testperson Exempelsson"
    assert json.dumps(first.data)  # decrypts back to plain JSON for those entitled to it
