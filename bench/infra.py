"""The stack the benchmarks run on: embedded PostgreSQL, the Temporal dev server, worker
processes (Samverkan's own ``worker.py`` and the baseline's `bench.bare_worker`), nothing
downloaded (the same binaries as tests/conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cases import Agency
from eventstore import migrate
from infra.attestation import AttestationKeys
from infra.converter import data_converter
from samverkan.devstack import PROCESS_ENV
from workflows.search_attributes import SEARCH_ATTRIBUTES

SCRIPTS = Path(sysconfig.get_path("scripts"))
ROOT = Path(__file__).resolve().parent.parent
#: Both sides' workers run with the environment the stack gives its processes (the malloc
#: arena limit): the same worker settings for Samverkan and the baselines.
WORKER_ENV = dict(PROCESS_ENV)


def dsn_for(server_dsn: str, database: str) -> str:
    """The same server as ``server_dsn`` with another database name."""
    return urlunsplit(urlsplit(server_dsn)._replace(path="/" + database))


@contextlib.contextmanager
def postgres_server() -> Any:
    """DSN of a PostgreSQL server: ``DATABASE_URL`` if set, else an embedded pgserver."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    import pgserver  # type: ignore[import-untyped]

    server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="bench-pg-")), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


async def fresh_database(server_dsn: str, *, migrated: bool = True) -> str:
    """A new empty database on the server (migrated unless told otherwise); its DSN."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = dsn_for(server_dsn, name)
    if migrated:
        await migrate(dsn)
    return dsn


@contextlib.asynccontextmanager
async def temporal_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (in-memory SQLite) with Samverkan's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(SCRIPTS / "temporal"),
        data_converter=data_converter(),
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def agencies_file(folder: Path, simulator_url: str) -> Path:
    """An agencies TOML file pointing every agency at the simulator (as ``samverkan dev``)."""
    lines: list[str] = []
    for agency in Agency:
        lines += [
            f"[agencies.{agency.value}]",
            f'base_url = "{simulator_url}/agencies/{agency.value}"',
            "",
        ]
    path = folder / "agencies.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class WorkerProcess:
    """A worker in its own process; its RSS is what benchmark 5 measures."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    _ps: psutil.Process | None = field(default=None, repr=False)

    def rss_mib(self) -> float:
        """Resident set size of the worker process, MiB."""
        if self._ps is None:
            self._ps = psutil.Process(self.process.pid)
        return float(self._ps.memory_info().rss) / 2**20

    def cpu_seconds(self) -> float:
        """User + system CPU the worker process used so far."""
        if self._ps is None:
            self._ps = psutil.Process(self.process.pid)
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _wait_ready(worker: WorkerProcess, marker: str, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"{worker.name} worker exited: {worker.log.read_text(errors='replace')[-2000:]}"
            )
        if marker in worker.log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{worker.name} worker not ready after {limit} s")


#: The agency attestation key of the bench's workers; the bench's client signs with it.
ATTESTATION_ENTRY = AttestationKeys.generate_entry("bench1")


async def start_samverkan_worker(
    *,
    folder: Path,
    address: str,
    task_queue: str,
    database_url: str,
    master_keys: str,
    simulator_url: str,
    command: list[str] | None = None,
) -> WorkerProcess:
    """The production worker (``python worker.py``) configured by environment, as in dev.

    ``command`` replaces ``worker.py`` with another entry point (`bench.worker_probe`).
    """
    log = folder / f"worker-{task_queue}.log"
    env = {
        **os.environ,
        **WORKER_ENV,
        "TEMPORAL_ADDRESS": address,
        "SAMVERKAN_TASK_QUEUE": task_queue,
        "DATABASE_URL": database_url,
        "SAMVERKAN_MASTER_KEYS": master_keys,
        "SAMVERKAN_AGENCY_ATTESTATION_KEYS": ATTESTATION_ENTRY,
        "SAMVERKAN_AGENCIES_FILE": str(agencies_file(folder, simulator_url)),
        "SAMVERKAN_NOTIFY_URL": f"{simulator_url}/notifications",
        "SAMVERKAN_LOG_FORMAT": "json",
        "SAMVERKAN_LOG_LEVEL": "INFO",
        "SAMVERKAN_DATA_DIR": str(folder),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; the worker lives on
            [sys.executable, *(command or [str(ROOT / "worker.py")])],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        )
    worker = WorkerProcess("samverkan", process, log)
    await _wait_ready(worker, "worker started")
    return worker


async def start_bare_worker(
    *, folder: Path, address: str, task_queue: str, extra: list[str] | None = None
) -> WorkerProcess:
    """The baseline's worker process (`bench.bare_worker`, ``extra`` arguments after its own)."""
    log = folder / f"worker-{task_queue}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 - returns at once; the worker lives on
            [sys.executable, "-m", "bench.bare_worker", address, task_queue, *(extra or [])],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **WORKER_ENV},
            cwd=ROOT,
        )
    worker = WorkerProcess("bare", process, log)
    await _wait_ready(worker, "ready")
    return worker


async def connect(address: str, codec: object | None = None) -> Client:
    """A client with Samverkan's data converter (and ``codec`` when given)."""
    return await Client.connect(address, data_converter=data_converter(codec))  # type: ignore[arg-type]
