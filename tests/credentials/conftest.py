"""Fixtures for the token source tests: a clean Temporal environment, a token endpoint with
two service accounts, settings that point at both, and no refresher left running."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from infra.temporal_client import close_token_sources
from tests.credentials.token_endpoint import TokenEndpoint, token_endpoint

WORKER_ID = "samverkan-worker"
#: Characters that form-urlencoding must carry through Basic auth (RFC 6749 §2.3.1).
WORKER_SECRET = "s3cret:with+plus&amp %20space"
GATEWAY_ID = "samverkan-gateway"
GATEWAY_SECRET = "gateway-secret-7c1e"


@pytest.fixture
def temporal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``TEMPORAL_*`` or ``SAMVERKAN_TEMPORAL_*`` variables and an empty home, so the
    developer's own configuration stays out of the tests."""
    for name in list(os.environ):
        if name.startswith(("TEMPORAL_", "SAMVERKAN_TEMPORAL_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return monkeypatch


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    """The issuer's token endpoint: the worker may write in two municipalities' namespaces."""
    with token_endpoint(
        {
            WORKER_ID: (WORKER_SECRET, ["default:write", "samverkan-eskilstuna:write"]),
            GATEWAY_ID: (GATEWAY_SECRET, ["default:write"]),
        }
    ) as running:
        yield running


def target(env: WorkflowEnvironment) -> str:
    host: str = env.client.service_client.config.target_host
    return host


def settings_for(
    endpoint: TokenEndpoint,
    env: WorkflowEnvironment | None = None,
    *,
    secret: str = WORKER_SECRET,
    **more: object,
) -> Settings:
    """Settings that connect to ``env`` (plain gRPC: the dev server has no TLS) as the
    worker's service account."""
    given: dict[str, object] = {
        "samverkan_temporal_token_url": endpoint.url,
        "samverkan_temporal_client_id": WORKER_ID,
        "samverkan_temporal_client_secret": secret,
        "temporal_tls": False,
    }
    if env is not None:
        given |= {"temporal_address": target(env), "temporal_namespace": env.client.namespace}
    return Settings(**(given | more))  # type: ignore[arg-type]


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def no_refresher_left_running(temporal_env: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Each test's shared token sources stop with it."""
    yield
    await close_token_sources()
