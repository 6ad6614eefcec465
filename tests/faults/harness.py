"""The real stack as subprocesses, for the fault and scale-out tests.

`RealStack` starts, on free loopback ports inside one temporary folder:

- the Temporal dev server (``temporal server start-dev`` with ``--db-filename``, so a stop
  and a restart keep every workflow, and with Samverkan's search attributes registered);
- PostgreSQL from ``pgserver`` (its own ``pg_ctl``, so it can be stopped and started again
  with the same DSN), the event-store migrations, and gateway API keys for every agency;
  or the server named by ``DATABASE_URL`` (then it cannot be stopped: that test skips);
- agency simulators (``samverkan simulator``), gateways (``samverkan gateway``) and workers
  (``samverkan worker``), each a process of its own with its log under ``logs/``.

Every child runs in its own session and is killed (SIGTERM, then SIGKILL) at `close`;
every wait is bounded. Set ``SAMVERKAN_FAULTS_KEEP=1`` to keep the folder and its logs.

`audit` reads the event store and says, per case, what was lost or duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cases import Agency, OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from infra.attestation import AttestationKeys
from infra.converter import data_converter
from infra.keys import MasterKeys
from workflows.case import CaseWorkflow
from workflows.search_attributes import cli_flags

SCRIPTS = Path(sysconfig.get_path("scripts"))
HOST = "127.0.0.1"
GRACE_SECONDS = 8.0
T = TypeVar("T")


#: The cases the fault tests open were received 30 days ago and are assessed into an
#: investigation: ReportReceived, 2 DeadlineSet, 2 DeadlineBreached, 6 EscalationRaised;
#: ProtectionAssessed, DeadlineMet; InvestigationOpened, DeadlineMet, DeadlineSet (the
#: investigation), and, the reporter being a mandatory one, FeedbackDue and its DeadlineSet
#: (the feedback task, patch samverkan-feedback-task).
EVENTS_PER_CASE = 18
#: The rungs due at once for such a case: each must be raised exactly once.
DUE_RUNGS = {
    (key, rung) for key in ("protection_assessment", "pre_assessment") for rung in range(3)
}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def wait_for_port(port: int, what: str, *, timeout: float = 60, alive: Callable[[], bool]) -> None:
    """Wait until ``port`` accepts connections; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited during start-up")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not open port {port} within {timeout:.0f} s")


def wait_port_closed(port: int, *, timeout: float = 30) -> None:
    """Wait until nothing accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                pass
        except OSError:
            return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} still open after {timeout:.0f} s")


def wait_for_http(url: str, what: str, *, timeout: float = 60, alive: Callable[[], bool]) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited during start-up")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not answer at {url} within {timeout:.0f} s")


@dataclass
class Child:
    """One supervised subprocess."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Send ``signum`` to the child's whole process group and reap it if it was SIGKILL."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)
        if signum == signal.SIGKILL:
            assert self.process is not None
            self.process.wait(10)

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; always reaps."""
        if self.process is None:
            return
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(10)
        # Anything left in the group (a grandchild) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class EmbeddedPostgres:
    """pgserver's PostgreSQL, stoppable and restartable under the same DSN."""

    def __init__(self, folder: Path) -> None:
        import pgserver  # type: ignore[import-untyped]
        from pgserver._commands import pg_ctl  # type: ignore[import-untyped]

        self.folder = folder
        self._pg_ctl = pg_ctl
        self._server = pgserver.get_server(folder, cleanup_mode=None)
        info = self._server.get_postmaster_info()
        self.socket_dir = info.socket_dir
        self.dsn: str = self._server.get_uri()

    def stop(self) -> None:
        """Fast shutdown: every connection is cut, as when a database host goes away."""
        self._pg_ctl(
            ["-w", "-t", "30", "-m", "fast", "stop"],
            pgdata=self.folder,
            user=self._server.system_user,
            timeout=40,
        )

    def start(self) -> None:
        self._pg_ctl(
            [
                "-w",
                "-t",
                "30",
                "-o",
                '-h ""',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.folder / "log"),
                "start",
            ],
            pgdata=self.folder,
            user=self._server.system_user,
            timeout=40,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pg_ctl(
                ["-w", "-t", "20", "-m", "immediate", "stop"],
                pgdata=self.folder,
                user=self._server.system_user,
                timeout=30,
            )


@dataclass
class RealStack:
    """The stack's processes in one temporary folder; see the module docstring."""

    root: Path
    master_keys: str = field(default_factory=lambda: MasterKeys.generate_entry("faults1"))
    #: The gateways sign agency updates with it, the workers check (docs/security.md).
    attestation_keys: str = field(default_factory=lambda: AttestationKeys.generate_entry("faults1"))
    children: list[Child] = field(default_factory=list)
    temporal: Child | None = None
    temporal_port: int = 0
    postgres: EmbeddedPostgres | None = None
    database_url: str = ""
    keys_file: Path | None = None
    agencies_file: Path | None = None
    notify_url: str = ""
    workers: list[Child] = field(default_factory=list)
    simulators: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0
    _client: Client | None = None
    _pool: asyncpg.Pool | None = None

    @classmethod
    def create(cls, label: str) -> RealStack:
        root = Path(tempfile.mkdtemp(prefix=f"samverkan-{label}-"))
        (root / "logs").mkdir()
        return cls(root=root)

    # -- processes ------------------------------------------------------------------------

    def _child(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(
            name,
            argv,
            {**os.environ, **(env or {}), "SAMVERKAN_LOG_FORMAT": "json"},
            self.root / "logs" / f"{name}.log",
        )
        self.children.append(child)
        return child.start()

    def start_temporal(self) -> None:
        """The dev server on a free port, its state in ``temporal.db``."""
        if not self.temporal_port:
            self.temporal_port = free_port()
        self.temporal = self._child(
            "temporal",
            [
                str(SCRIPTS / "temporal"),
                "server",
                "start-dev",
                "--db-filename",
                str(self.root / "temporal.db"),
                "--ip",
                HOST,
                "--port",
                str(self.temporal_port),
                "--headless",
                "--log-level",
                "error",
                *cli_flags(),
            ],
        )
        wait_for_port(self.temporal_port, "Temporal dev server", alive=self.temporal.alive)

    def stop_temporal(self) -> None:
        assert self.temporal is not None
        self.temporal.stop(grace=20)
        wait_port_closed(self.temporal_port)

    @property
    def temporal_address(self) -> str:
        return f"{HOST}:{self.temporal_port}"

    async def start_postgres(self) -> None:
        """Embedded PostgreSQL (or ``DATABASE_URL``), migrated, with gateway keys issued."""
        from eventstore import migrate
        from gateway import AgencyCredentials

        configured = os.environ.get("DATABASE_URL")
        if configured:
            admin = await asyncpg.connect(configured)
            name = f"faults_{uuid.uuid4().hex[:10]}"
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            from urllib.parse import urlsplit, urlunsplit

            self.database_url = urlunsplit(urlsplit(configured)._replace(path="/" + name))
        else:
            self.postgres = await asyncio.to_thread(EmbeddedPostgres, self.root / "pg")
            self.database_url = self.postgres.dsn
        await migrate(self.database_url)
        self._pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=4)
        credentials = AgencyCredentials(self._pool)
        keys = {agency.value: await credentials.issue(agency) for agency in Agency}
        self.keys_file = self.root / "agency-keys.json"
        self.keys_file.write_text(json.dumps(keys))
        self.keys_file.chmod(0o600)

    def _env(self) -> dict[str, str]:
        env = {
            "TEMPORAL_ADDRESS": self.temporal_address,
            "DATABASE_URL": self.database_url,
            "SAMVERKAN_MASTER_KEYS": self.master_keys,
            "SAMVERKAN_AGENCY_ATTESTATION_KEYS": self.attestation_keys,
            "SAMVERKAN_DATA_DIR": str(self.root),
            # The simulator answers in bursts; the per-agency rate limit is not under test.
            "SAMVERKAN_GATEWAY_RATE_PER_MINUTE": "100000",
            "SAMVERKAN_GATEWAY_BURST": "10000",
        }
        if self.agencies_file is not None:
            env["SAMVERKAN_AGENCIES_FILE"] = str(self.agencies_file)
        if self.notify_url:
            env["SAMVERKAN_NOTIFY_URL"] = self.notify_url
        return env

    def start_gateway(self, name: str = "gateway") -> str:
        port = free_port()
        child = self._child(
            # The agency API only: the fault tests use no codec endpoint (it needs OIDC).
            name,
            [str(SCRIPTS / "samverkan"), "gateway", "--port", str(port), "--no-codec"],
            self._env(),
        )
        wait_for_port(port, name, alive=child.alive)
        return f"http://{HOST}:{port}"

    def start_simulator(self, name: str = "simulator", *, gateway_url: str | None = None) -> str:
        """A simulator answering through ``gateway_url`` (else with Temporal updates)."""
        port = free_port()
        argv = [str(SCRIPTS / "samverkan"), "simulator", "--host", HOST, "--port", str(port)]
        if gateway_url:
            assert self.keys_file is not None
            argv += ["--gateway-url", gateway_url, "--agency-keys", str(self.keys_file)]
        else:
            argv += ["--temporal-address", self.temporal_address]
        child = self._child(name, argv, self._env())
        url = f"http://{HOST}:{port}"
        wait_for_http(f"{url}/_admin/health", name, alive=child.alive)
        return url

    def route_agencies(self, simulator_for: dict[Agency, str]) -> None:
        """Write the agencies file the workers read: each agency at its simulator's URL."""
        lines = ["# Written by tests/faults/harness.py", ""]
        for agency, url in simulator_for.items():
            lines += [
                f"[agencies.{agency.value}]",
                f'base_url = "{url}/agencies/{agency.value}"',
                "",
            ]
        self.agencies_file = self.root / "agencies.toml"
        self.agencies_file.write_text("\n".join(lines))
        self.notify_url = f"{next(iter(simulator_for.values()))}/notifications"

    def start_worker(self, name: str | None = None) -> Child:
        name = name or f"worker-{len(self.workers) + 1}"
        child = self._child(name, [str(SCRIPTS / "samverkan"), "worker"], self._env())
        self.workers.append(child)
        return child

    # -- clients --------------------------------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None
        return self._pool

    async def client(self) -> Client:
        """A client with the encrypting data converter (workers encrypt every payload)."""
        if self._client is None:
            from infra.codec import build_codec

            codec = build_codec(
                self.pool, namespace="default", master_keys=MasterKeys.parse(self.master_keys)
            )
            self._client = await Client.connect(
                self.temporal_address, data_converter=data_converter(codec)
            )
        return self._client

    def forget_client(self) -> None:
        """Drop the cached client (after a server restart a fresh connection is cleaner)."""
        self._client = None

    async def wait_workers_polling(self, count: int, within: float = 60) -> None:
        """Until ``count`` distinct workers poll the case task queue."""
        from temporalio.api.enums.v1 import TaskQueueType
        from temporalio.api.taskqueue.v1 import TaskQueue
        from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

        client = await self.client()
        deadline = time.monotonic() + within
        pollers: set[str] = set()
        while time.monotonic() < deadline:
            for worker in self.workers:
                if not worker.alive():
                    raise RuntimeError(f"{worker.name} died:\n{worker.log_tail()}")
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace="default",
                    task_queue=TaskQueue(name="samverkan-cases"),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                )
            )
            pollers = {p.identity for p in response.pollers}
            if len(pollers) >= count:
                return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"only {len(pollers)} of {count} workers poll after {within:.0f} s")

    # -- teardown -------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 10)
        for child in reversed(self.children):
            child.stop(grace=5)
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.close)
        leftovers = [c.name for c in self.children if c.alive()]
        assert not leftovers, f"processes left running: {leftovers}"
        if not os.environ.get("SAMVERKAN_FAULTS_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)


# -- driving cases ------------------------------------------------------------------------


def open_case_input(case_number: str, received_at: datetime) -> OpenCase:
    data = dict(EXAMPLE_OPEN_CASE)
    data["case_number"] = case_number
    data["received_at"] = received_at.isoformat()
    return OpenCase.model_validate(data)


async def start_case(
    client: Client, case_number: str, received_at: datetime
) -> WorkflowHandle[Any, Any]:
    """Start a case; a retry after a lost response finds it started and is content."""

    async def start() -> WorkflowHandle[Any, Any]:
        try:
            return await client.start_workflow(
                CaseWorkflow.run,
                open_case_input(case_number, received_at),
                id=f"case-{case_number}",
                task_queue="samverkan-cases",
            )
        except WorkflowAlreadyStartedError:
            return client.get_workflow_handle(f"case-{case_number}")

    return await retrying(start, what=f"start {case_number}")


PROTECT = {"acute": False, "reasoning": "No immediate danger.", "decided_by": "officer-1"}
OPEN_INVESTIGATION = {
    "open_investigation": True,
    "reasons": "Concern is serious and specific.",
    "decided_by": "officer-1",
}
CONCLUDE = {"outcome": "intervention", "decided_by": "officer-1"}
CHILD_VIEWS = {"views": "Wants to stay at school.", "decided_by": "officer-1"}
CLOSE = {"reason": "Intervention decided and started.", "decided_by": "officer-1"}
LEGAL_BASIS = {Agency.POLICE: "osl_10_18a", Agency.SCHOOL: "osl_10_2"}
STATEMENT: dict[Agency, dict[str, Any]] = {
    Agency.POLICE: {
        "osl_10_18a": {
            "risk_of_criminal_activity": "Recruited by a violent group.",
            "may_help_prevent": "SSPF programme.",
            "not_inappropriate": "Support not hindered.",
        }
    },
    Agency.SCHOOL: {"necessity": "The investigation needs the school's view of attendance."},
}


def consultation_request(agency: Agency) -> dict[str, Any]:
    return {
        "agency": agency.value,
        "legal_basis": LEGAL_BASIS[agency],
        "questions": "Is the youth known to you?",
        "statement": STATEMENT[agency],
        "requested_by": "officer-1",
    }


async def update(
    client: Client, case_number: str, name: str, arg: dict[str, Any], *, within: float = 240
) -> Any:
    """Execute an update with a fixed update id, retried through transient RPC failures.

    The id makes a retry after a lost response harmless: the server answers with the
    first outcome instead of running the update twice.
    """
    handle = client.get_workflow_handle(f"case-{case_number}")
    return await retrying(
        lambda: handle.execute_update(name, arg, id=f"{case_number}:{name}"),
        what=f"{name} on {case_number}",
        within=within,
    )


async def retrying(
    call: Callable[[], Awaitable[T]], *, what: str, within: float = 240, pause: float = 1.0
) -> T:
    """``call()`` again after RPC errors (server restarting, update not yet accepted)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await asyncio.wait_for(call(), max(1.0, deadline - time.monotonic()))
        except WorkflowUpdateFailedError:
            raise
        except (RPCError, TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what}: still failing after {within:.0f} s ({exc})") from exc
            await asyncio.sleep(pause)


async def gather_limited(calls: Iterable[Callable[[], Awaitable[T]]], limit: int = 20) -> list[T]:
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, what: str, within: float, interval: float = 1.0
) -> float:
    """Poll ``check`` until true; returns the seconds it took. Bounded by ``within``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise TimeoutError(f"{what}: not reached within {within:.0f} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


# -- auditing the event store -------------------------------------------------------------

#: Event types a case may hold at most once per key (what a duplicate would look like).
_ONCE_PER_CONSULTATION = (
    "ConsultationRequested",
    "ConsultationDelivered",
    "ConsultationAcknowledged",
    "ConsultationAnswered",
    "ConsultationDeclined",
    "ConsultationExpired",
)


@dataclass
class Audit:
    """What the event store holds for a set of cases, and what is wrong with it."""

    cases: int
    events: int
    by_case: dict[str, list[asyncpg.Record]]
    lost: list[str]
    duplicated: list[str]

    def types(self, case_number: str) -> list[str]:
        return [r["type"] for r in self.by_case.get(case_number, [])]

    def escalations(self, case_number: str) -> Counter[tuple[str, int]]:
        return Counter(
            (r["deadline_key"], int(r["rung_index"]))
            for r in self.by_case.get(case_number, [])
            if r["type"] == "EscalationRaised"
        )

    def deadline_keys(self, case_number: str, kinds: Iterable[str]) -> set[str]:
        wanted = set(kinds)
        return {
            r["deadline_key_set"]
            for r in self.by_case.get(case_number, [])
            if r["type"] == "DeadlineSet" and r["deadline_kind"] in wanted
        }


async def audit(
    pool: asyncpg.Pool, case_numbers: list[str], workflow_versions: dict[str, int] | None = None
) -> Audit:
    """Per case: versions 1..n with no hole (else lost), the workflow's own ``version`` equal
    to the stored count (else lost), and no domain fact recorded twice (else duplicated):
    one ``ReportReceived``, one ``EscalationRaised`` per (deadline, rung), one of each
    consultation event per consultation, and no event id twice."""
    rows = await pool.fetch(
        """
        SELECT case_id, version, event_id, type,
               data->>'deadline_key' AS deadline_key, data->>'rung_index' AS rung_index,
               data->>'consultation_id' AS consultation_id,
               data->'deadline'->>'key' AS deadline_key_set,
               data->'deadline'->>'kind' AS deadline_kind
        FROM events WHERE case_id = ANY($1::text[]) ORDER BY case_id, version
        """,
        case_numbers,
    )
    by_case: dict[str, list[asyncpg.Record]] = {c: [] for c in case_numbers}
    for row in rows:
        by_case[row["case_id"]].append(row)
    lost: list[str] = []
    duplicated: list[str] = []
    ids = Counter(r["event_id"] for r in rows)
    duplicated += [f"event id {i} x{n}" for i, n in ids.items() if n > 1]
    for case, events in by_case.items():
        versions = [r["version"] for r in events]
        if versions != list(range(1, len(versions) + 1)):
            lost.append(f"{case}: versions not contiguous ({len(versions)} rows)")
        if not events or events[0]["type"] != "ReportReceived":
            lost.append(f"{case}: no ReportReceived first")
        if workflow_versions is not None and workflow_versions.get(case) != len(versions):
            lost.append(
                f"{case}: workflow version {workflow_versions.get(case)} != {len(versions)} stored"
            )
        facts: Counter[tuple[str, ...]] = Counter()
        for r in events:
            if r["type"] == "ReportReceived":
                facts[("ReportReceived",)] += 1
            elif r["type"] == "EscalationRaised":
                facts[("EscalationRaised", r["deadline_key"], r["rung_index"])] += 1
            elif r["type"] in _ONCE_PER_CONSULTATION:
                facts[(r["type"], r["consultation_id"])] += 1
        duplicated += [f"{case}: {' '.join(map(str, f))} x{n}" for f, n in facts.items() if n > 1]
    return Audit(len(case_numbers), len(rows), by_case, lost, duplicated)


async def workflow_versions(client: Client, case_numbers: list[str]) -> dict[str, int]:
    """Each case workflow's own count of events (``summary`` query's ``version``)."""

    async def one(case: str) -> tuple[str, int]:
        summary = await retrying(
            lambda: client.get_workflow_handle(f"case-{case}").query("summary"),
            what=f"summary of {case}",
            within=60,
        )
        return case, int(summary["version"])

    pairs = await gather_limited([lambda c=c: one(c) for c in case_numbers], limit=20)
    return dict(pairs)


async def worker_identities(client: Client, case_numbers: list[str]) -> Counter[str]:
    """How many workflow and activity tasks each worker identity completed or started."""
    from temporalio.api.enums.v1 import EventType

    counted = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow_task_completed_event_attributes",
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: "activity_task_started_event_attributes",
    }
    identities: Counter[str] = Counter()

    async def one(case: str) -> None:
        history = await client.get_workflow_handle(f"case-{case}").fetch_history()
        for event in history.events:
            if event.event_type in counted:
                identities[getattr(event, counted[event.event_type]).identity] += 1

    await gather_limited([lambda c=c: one(c) for c in case_numbers], limit=10)
    return identities


def figures(name: str, **values: Any) -> str:
    """One line of figures, as the issue asks each test to print."""
    parts = " ".join(
        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    return f"[{name}] {parts}"


@contextlib.asynccontextmanager
async def running_stack(
    label: str,
    *,
    workers: int,
    gateways: int = 1,
    routes: Callable[[list[str]], dict[Agency, str]] | None = None,
) -> Any:
    """A started `RealStack`: dev server, PostgreSQL, ``gateways`` gateways each with its
    own simulator answering through it, and ``workers`` workers all polling.

    ``routes(simulator_urls)`` says which simulator plays which agency (default: the first
    plays every agency). Notifications go to the first simulator.
    """
    stack = RealStack.create(label)
    try:
        started = time.monotonic()
        await asyncio.to_thread(stack.start_temporal)
        await stack.start_postgres()
        simulators = []
        for n in range(1, gateways + 1):
            gateway = await asyncio.to_thread(stack.start_gateway, f"gateway-{n}")
            simulators.append(
                await asyncio.to_thread(
                    stack.start_simulator, f"simulator-{n}", gateway_url=gateway
                )
            )
        stack.route_agencies(
            routes(simulators) if routes else {agency: simulators[0] for agency in Agency}
        )
        stack.simulators = simulators
        for _ in range(workers):
            stack.start_worker()
        await stack.wait_workers_polling(workers)
        stack.startup_seconds = time.monotonic() - started
        yield stack
    finally:
        await stack.aclose()


def env_number(name: str, default: float) -> float:
    """A tunable of the fault tests from the environment (shorter outages for local runs)."""
    return float(os.environ.get(name, default))


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print one line of figures to the terminal even under ``pytest -q``."""

    def write(line: str) -> None:
        with capsys.disabled():
            print("\n" + line, flush=True)

    return write


async def at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    """Whether ``await count()`` has reached ``wanted`` (for `wait_until`)."""
    return await count() >= wanted
