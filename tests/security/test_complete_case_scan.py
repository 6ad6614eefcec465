"""A complete case on the real dev server, scanned for personal data; then shredded.

The worker is the production composition (`worker.production_activities` + `build_worker`:
the encrypting PostgreSQL event store, the payload codec, agencies from an agencies file);
the agency gateway serves over real HTTP; the simulator plays the police and answers
through the gateway with its own API key. Every log record of the run is captured raw
(before the redaction processor: the first guard is never to log personal data).

Then the subject's name, personal identity number and the free texts are looked for in the
captured logs, the search attributes, the raw history as ``temporal workflow show --output
json`` prints it without the codec, and every table of the database. After shredding the
case key, nothing decodes any more while the non-personal audit trail still reads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import structlog
import typer
import uvicorn
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

import cases
from cases import Agency, OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from eventstore import PostgresEventStore, Projector, migrate
from eventstore.encrypted import REDACTED, EncryptingEventStore, PostgresPersonalDataVault
from gateway import (
    AgencyCredentials,
    Consultations,
    GatewayDeps,
    GatewayRecords,
    GatewaySettings,
    create_app,
)
from gateway.codec_routes import SHREDDED_MARKER
from infra.attestation_interceptors import attesting
from infra.codec import PayloadKeyShredded, build_codec, is_encrypted
from infra.keys import MasterKeys
from infra.settings import get_settings
from infra.temporal_client import with_codec
from samverkan.commands.gateway import register
from simulator.app import running_simulator
from simulator.responder import GatewayResponder
from simulator.state import AgencyBehaviour, SimulatorConfig
from tests.agency_attestation import TEST_ATTESTATION_KEYS, unsigned
from tests.conftest import SCRIPTS
from tests.oidc_issuer import ISSUER
from tests.waiting import eventually
from worker import build_worker, production_activities
from workflows import CaseWorkflow

pytestmark = pytest.mark.e2e

NAME = "Hemlig Scannarsdotter"
PIN = "20130612-2383"
BIRTH_DATE = "2013-06-12"
SUMMARY = "Läraren ser att eleven delar våldsbejakande material i klasschatten Qz7 hemlig."
QUESTIONS = "Är Hemlig känd i SSPF-gruppen sedan hösten Qz8 hemlig?"
ANSWER = f"{NAME} ({PIN}) är känd sedan 2024, Qz9 hemlig."
REASONING = "Ingen akut fara, bedömning Qz6 hemlig."
#: Every string that must never be in clear outside the workers' memory and the codec.
PERSONAL = (
    NAME,
    "Scannarsdotter",
    PIN,
    PIN.replace("-", ""),
    PIN[2:],  # the ten-digit form
    SUMMARY,
    "klasschatten Qz7 hemlig",
    "Qz8 hemlig",
    "Qz9 hemlig",
    "Qz6 hemlig",
)
#: An operator's access token from the local issuer, allowed to read namespace default.
CODEC_TOKEN = ISSUER.token(["default:read"])
MASTER = MasterKeys.generate_entry("scan1")


class _Records(logging.Handler):
    """Keeps every record raw: message, arguments, extras, exception text."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = [record.name, record.getMessage(), repr(record.__dict__)]
        if record.exc_info and record.exc_info[1] is not None:
            text.append(logging.Formatter().formatException(record.exc_info))
        self.lines.append(" ".join(text))


@contextlib.contextmanager
def _capturing_every_log() -> Iterator[_Records]:
    """Every stdlib record, and every structlog event rendered whole (no redaction) into one."""
    records = _Records()
    root = logging.getLogger()
    level = root.level
    structlog_config = structlog.get_config()
    structlog.configure(
        processors=[
            structlog.processors.format_exc_info,
            structlog.processors.KeyValueRenderer(),  # repr of values: non-ASCII kept as is
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    root.addHandler(records)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        root.setLevel(level)
        structlog.configure(**structlog_config)


@dataclass
class Run:
    """What the complete case left behind."""

    case_number: str
    target: str
    gateway_url: str
    pool: asyncpg.Pool
    logs: list[str]
    search_attributes: dict[str, str]
    event_types: list[str] = field(default_factory=list)
    disclosures: list[tuple[Any, ...]] = field(default_factory=list)
    deadlines: list[tuple[Any, ...]] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def workflow_ids(self) -> list[str]:
        return [f"case-{self.case_number}", f"case-{self.case_number}:consultation-1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agencies_file(folder: Path, simulator_url: str) -> Path:
    lines = [
        "[defaults]",
        "request_timeout_seconds = 2.0",
        "connect_timeout_seconds = 1.0",
        "heartbeat_interval_seconds = 0.1",
        "[defaults.retry]",
        "max_attempts = 5",
        "initial_interval_seconds = 0.05",
    ]
    for agency in Agency:
        lines += [
            f"[agencies.{agency.value}]",
            f'base_url = "{simulator_url}/agencies/{agency.value}"',
        ]
    path = folder / "agencies.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def _show(target: str, workflow_id: str, *extra: str) -> str:
    """``temporal workflow show --output json`` by the real CLI binary."""
    process = await asyncio.create_subprocess_exec(
        str(SCRIPTS / "temporal"),
        "workflow",
        "show",
        "--address",
        target,
        "--namespace",
        "default",
        "--workflow-id",
        workflow_id,
        "--output",
        "json",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()


def _payloads(history: Any) -> Iterator[dict[str, Any]]:
    """Every payload object (``{"metadata": …, "data": …}``) in a JSON history."""
    if isinstance(history, dict):
        if "metadata" in history and "data" in history and isinstance(history["metadata"], dict):
            yield history
        for value in history.values():
            yield from _payloads(value)
    elif isinstance(history, list):
        for value in history:
            yield from _payloads(value)


def _readable(raw: str) -> str:
    """The history JSON plus every payload's data and metadata base64-decoded: payload bytes
    are base64 in the JSON, so plain text in a json/plain payload hides from a text search."""
    parts = [raw]
    for payload in _payloads(json.loads(raw)):
        for value in [payload["data"], *payload["metadata"].values()]:
            with contextlib.suppress(ValueError, TypeError):
                parts.append(base64.b64decode(value).decode("utf-8", errors="replace"))
    return "\n".join(parts)


@contextlib.asynccontextmanager
async def _serving(app: Any, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, lifespan="off", access_log=False
        )
    )
    server.capture_signals = contextlib.nullcontext  # type: ignore[assignment, method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _gateway_app(client: Client, pool: asyncpg.Pool, master: MasterKeys) -> Any:
    """The gateway as `gateway.serve` builds it (fresh data-key cache)."""
    settings = GatewaySettings(temporal_namespace="default", **ISSUER.settings())
    codec = build_codec(pool, namespace="default", master_keys=master)
    return create_app(
        GatewayDeps(
            consultations=Consultations(
                client=with_codec(attesting(unsigned(client), TEST_ATTESTATION_KEYS), codec),
                pool=pool,
            ),
            credentials=AgencyCredentials(pool),
            records=GatewayRecords(pool),
            settings=settings,
            codec=codec,
        )
    )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def run(
    local_env: WorkflowEnvironment, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Run]:
    await migrate(database_url)
    master = MasterKeys.parse(MASTER)
    target = local_env.client.service_client.config.target_host
    case_number = f"SCAN-{uuid.uuid4().hex[:8]}"
    task_queue = f"scan-{uuid.uuid4().hex[:8]}"
    async with AsyncExitStack() as stack:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
        stack.push_async_callback(pool.close)
        records = stack.enter_context(_capturing_every_log())
        police_key = await AgencyCredentials(pool).issue(Agency.POLICE)
        gateway_port = _free_port()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        responder = GatewayResponder(gateway_url, {Agency.POLICE.value: police_key})
        stack.push_async_callback(responder.aclose)
        config = SimulatorConfig(agencies={Agency.POLICE: AgencyBehaviour(answer=ANSWER)})
        simulator_url = await stack.enter_async_context(
            running_simulator(config=config, responder=responder)
        )
        env = stack.enter_context(pytest.MonkeyPatch.context())
        env.setenv(
            "SAMVERKAN_AGENCIES_FILE",
            str(_agencies_file(tmp_path_factory.mktemp("scan"), simulator_url)),
        )
        env.setenv("SAMVERKAN_NOTIFY_URL", f"{simulator_url}/notifications")
        env.delenv("SAMVERKAN_POLICY_FILE", raising=False)
        get_settings.cache_clear()
        stack.callback(get_settings.cache_clear)

        # The worker exactly as run_worker composes it (its client on the shared converter).
        codec = build_codec(pool, namespace="default", master_keys=master)
        client = with_codec(local_env.client, codec)
        activities = await production_activities(stack, pool, codec.keys)
        await stack.enter_async_context(_serving(_gateway_app(client, pool, master), gateway_port))
        await stack.enter_async_context(
            build_worker(
                client,
                task_queue=task_queue,
                activities=activities,
                attestation_keys=TEST_ATTESTATION_KEYS,
            )
        )

        data = dict(
            EXAMPLE_OPEN_CASE,
            case_number=case_number,
            received_at=datetime.now(UTC).isoformat(),
            subject={"personal_identity_number": PIN, "name": NAME, "birth_date": BIRTH_DATE},
            summary=SUMMARY,
        )
        handle = await client.start_workflow(
            CaseWorkflow.run,
            OpenCase.model_validate(data),
            id=f"case-{case_number}",
            task_queue=task_queue,
        )
        officer = {"decided_by": "officer-1"}
        await handle.execute_update(
            "record_protection_assessment", {"acute": False, "reasoning": REASONING, **officer}
        )
        await handle.execute_update(
            "decide_pre_assessment", {"open_investigation": True, "reasons": REASONING, **officer}
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
                "questions": QUESTIONS,
                "requested_by": "officer-1",
            },
        )

        async def answered() -> bool:
            rows = await pool.fetch("SELECT type FROM events WHERE case_id = $1", case_number)
            return any(r["type"] == "ConsultationAnswered" for r in rows)

        await eventually(answered, seconds=60)
        await handle.execute_update(
            "record_child_views", {"views": "Vill gå kvar i skolan.", **officer}
        )
        await handle.execute_update(
            "conclude_investigation", {"outcome": "no_intervention", **officer}
        )
        await handle.execute_update("close_case", {"reason": "Avslutat.", **officer})
        result = await asyncio.wait_for(handle.result(), timeout=60)
        assert result.state == "closed"
        description = await handle.describe()
        consultation = await client.get_workflow_handle(
            f"case-{case_number}:consultation-1"
        ).describe()
        search_attributes = {
            f"case:{pair.key.name}": repr(pair.value)
            for pair in description.typed_search_attributes
        } | {
            f"consultation:{pair.key.name}": repr(pair.value)
            for pair in consultation.typed_search_attributes
        }
        await Projector(pool).catch_up()
        yield Run(
            case_number=case_number,
            target=target,
            gateway_url=gateway_url,
            pool=pool,
            logs=records.lines,
            search_attributes=search_attributes,
        )


def _assert_clean(where: str, text: str) -> None:
    for personal in PERSONAL:
        assert personal not in text, f"{personal!r} in plain text in {where}"


async def test_the_case_ran_completely_through_the_gateway(run: Run) -> None:
    types = [
        r["type"]
        for r in await run.pool.fetch(
            "SELECT type FROM events WHERE case_id = $1 ORDER BY version", run.case_number
        )
    ]
    audit = await run.pool.fetch("SELECT agency, route, status FROM gateway_audit")

    assert {"ReportReceived", "DisclosureRecorded", "ConsultationAnswered", "CaseClosed"} <= set(
        types
    )
    assert ("police", "answer", 200) in [tuple(r) for r in audit], "answered through the gateway"


async def test_no_log_record_of_the_run_holds_personal_data(run: Run) -> None:
    assert run.logs, "the run logged something"
    sources = {line.split(" ", 1)[0] for line in run.logs}
    assert {"samverkan.gateway", "simulator.app", "temporalio.activity"} <= sources
    _assert_clean("the logs", "\n".join(run.logs))


async def test_search_attributes_hold_no_personal_data(run: Run) -> None:
    assert "case:CaseState" in run.search_attributes
    _assert_clean("the search attributes", json.dumps(run.search_attributes))


async def test_the_raw_history_shown_without_the_codec_holds_only_ciphertext(run: Run) -> None:
    for workflow_id in run.workflow_ids:
        raw = await _show(run.target, workflow_id)
        _assert_clean(f"the raw history of {workflow_id}", _readable(raw))
        payloads = list(_payloads(json.loads(raw)))
        assert payloads, "the history has payloads"
        encodings = {p["metadata"].get("encoding") for p in payloads}
        # base64 of b"binary/encrypted"; search attributes are json/plain and not personal
        assert "YmluYXJ5L2VuY3J5cHRlZA==" in encodings


async def test_every_table_of_the_database_holds_no_personal_data_in_clear(run: Run) -> None:
    tables = [
        r["tablename"]
        for r in await run.pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    # The tables the run must have written: the events, their sealed personal fields, and the
    # projections (caught up at the end of the run), so the scan never passes on empty tables.
    written = ("events", "event_personal_data", "case_summary", "deadlines", "disclosures")
    assert set(written) <= set(tables)
    for table in written:
        found = await run.pool.fetchval(
            f'SELECT count(*) FROM "{table}" WHERE case_id = $1', run.case_number
        )
        assert found > 0, f"the run left no row of its case in {table}"
    for table in tables:
        rows = await run.pool.fetch(f'SELECT t::text AS row FROM "{table}" t')
        _assert_clean(f"table {table}", "\n".join(r["row"] for r in rows))


async def test_the_codec_endpoint_decodes_the_history_for_an_operator(run: Run) -> None:
    shown = await _show(
        run.target,
        run.workflow_ids[0],
        "--codec-endpoint",
        f"{run.gateway_url}/codec",
        "--codec-auth",
        f"Bearer {CODEC_TOKEN}",
    )

    readable = _readable(shown)
    assert NAME in readable and SUMMARY in readable and "Qz9 hemlig" in readable


def _cli_shred(database_url: str, case_number: str) -> str:
    app = typer.Typer()
    register(app)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", database_url)
        env.setenv("SAMVERKAN_MASTER_KEYS", MASTER)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["keys", "shred", case_number, "--yes"])
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_after_shredding_nothing_decodes_and_the_audit_trail_still_reads(
    run: Run, database_url: str, local_env: WorkflowEnvironment
) -> None:
    before_rows = await run.pool.fetch(
        "SELECT version, type, occurred_at FROM events WHERE case_id = $1 ORDER BY version",
        run.case_number,
    )
    disclosures_before = await run.pool.fetch(
        "SELECT consultation_id, recipient, legal_basis, harm_result, fields, decided_by "
        "FROM disclosures WHERE case_id = $1",
        run.case_number,
    )
    deadlines_before = await run.pool.fetch(
        "SELECT * FROM deadlines WHERE case_id = $1 ORDER BY 1, 2", run.case_number
    )

    printed = await asyncio.to_thread(_cli_shred, database_url, run.case_number)
    assert f"case {run.case_number}" in printed

    # A process with a fresh key cache (every process, once the 60 s cache has expired).
    master = MasterKeys.parse(MASTER)
    codec = build_codec(run.pool, namespace="default", master_keys=master)
    history = (
        await with_codec(local_env.client, codec)
        .get_workflow_handle(run.workflow_ids[0])
        .fetch_history()
    )
    encrypted = [
        p
        for event in history.events
        if event.HasField("workflow_execution_started_event_attributes")
        for p in event.workflow_execution_started_event_attributes.input.payloads
    ]
    assert encrypted and all(is_encrypted(p) for p in encrypted)
    with pytest.raises(PayloadKeyShredded, match=f"case-{run.case_number}"):
        await codec.decode(encrypted)

    # The codec endpoint of a gateway with a fresh cache (the running one may hold the key
    # for up to its 60 s TTL, docs/security.md).
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_gateway_app(local_env.client, run.pool, master)),
        base_url="http://127.0.0.1",  # a loopback name: the gateway's trusted-host check
    ) as fresh:
        body = json_format.MessageToJson(Payloads(payloads=encrypted))
        decoded = await fresh.post(
            "/codec/decode",
            content=body,
            headers={
                "Authorization": f"Bearer {CODEC_TOKEN}",
                "X-Namespace": "default",
                "Content-Type": "application/json",
            },
        )
    assert decoded.status_code == 200
    [marker] = json_format.Parse(decoded.content, Payloads()).payloads
    assert json.loads(marker.data) == SHREDDED_MARKER
    _assert_clean("the decoded response after shredding", decoded.text)

    store = EncryptingEventStore(
        PostgresEventStore(run.pool), keys=codec.keys, vault=PostgresPersonalDataVault(run.pool)
    )
    read = await store.read_case(run.case_number)
    _assert_clean("the store's reading after shredding", json.dumps([e.data for e in read]))
    opened = read[0].data
    assert opened["subject"]["name"] == REDACTED and opened["summary"] == REDACTED
    answered = next(e for e in read if e.type == "ConsultationAnswered")
    assert answered.data["answer"] == REDACTED

    # The non-personal audit trail: types, versions, times, deadlines, disclosures.
    assert [(e.version, e.type, e.occurred_at) for e in read] == [tuple(r) for r in before_rows]
    state = cases.fold(cases.open_envelope(e) for e in read)
    assert state.state is cases.CaseStateName.CLOSED and state.closed_at is not None
    assert state.deadlines and state.disclosure_count >= 1
    projector = Projector(run.pool)
    for name in ("disclosures", "deadlines", "case_summary"):
        await projector.rebuild(name)
    disclosures_after = await run.pool.fetch(
        "SELECT consultation_id, recipient, legal_basis, harm_result, fields, decided_by "
        "FROM disclosures WHERE case_id = $1",
        run.case_number,
    )
    deadlines_after = await run.pool.fetch(
        "SELECT * FROM deadlines WHERE case_id = $1 ORDER BY 1, 2", run.case_number
    )
    assert disclosures_before and [tuple(r) for r in disclosures_after] == [
        tuple(r) for r in disclosures_before
    ]
    assert deadlines_before and [tuple(r) for r in deadlines_after] == [
        tuple(r) for r in deadlines_before
    ]
    summary = await run.pool.fetchrow(
        "SELECT state FROM case_summary WHERE case_id = $1", run.case_number
    )
    assert summary is not None and summary["state"] == "closed"
