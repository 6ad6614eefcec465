"""The operator's path: the real ``temporal`` CLI with an API key, through the front door —
in-process, and as ``samverkan frontdoor`` started the way an operator starts it."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samverkan.cli import build_app
from tests.frontdoor.conftest import ESKILSTUNA, MALMO, SCRIPTS, Door
from tests.oidc_issuer import ISSUER
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

TEMPORAL = SCRIPTS / "temporal"
SAMVERKAN = SCRIPTS / "samverkan"


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Temporal client or sign-on setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "SAMVERKAN_CODEC_", "SAMVERKAN_FRONTDOOR_"))
    }
    return {**env, **extra}


async def _temporal(*args: str) -> tuple[int, str]:
    """Run the ``temporal`` CLI without blocking the loop the in-process door serves on."""
    process = await asyncio.create_subprocess_exec(
        str(TEMPORAL),
        *args,
        "--disable-config-file",
        "--disable-config-env",
        "--command-timeout",
        "20s",
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def _workflow_list(address: str, namespace: str, token: str) -> tuple[int, str]:
    return await _temporal(
        "workflow", "list", "--address", address, "--namespace", namespace,
        "--api-key", token, "--tls=false",
    )  # fmt: skip


async def _case_in(door: Door, namespace: str) -> str:
    client = await door.direct(namespace)
    workflow_id = f"case-{uuid.uuid4().hex[:10]}"
    await client.start_workflow("CaseWorkflow", id=workflow_id, task_queue="frontdoor-test")
    return workflow_id


async def test_the_temporal_cli_lists_malmo_with_a_malmo_token_and_is_refused_eskilstuna(
    door: Door,
) -> None:
    malmo_case = await _case_in(door, MALMO)
    eskilstuna_case = await _case_in(door, ESKILSTUNA)
    token = ISSUER.token([f"{MALMO}:read"], subject="malmo-handlaggare")
    shown: list[str] = []

    async def listed() -> bool:
        code, out = await _workflow_list(door.address, MALMO, token)
        shown[:] = [out]
        return code == 0 and malmo_case in out

    await eventually(listed, seconds=20)
    code, refused = await _workflow_list(door.address, ESKILSTUNA, token)

    assert eskilstuna_case not in shown[0]
    assert code != 0
    assert "Request unauthorized." in refused and eskilstuna_case not in refused


async def test_the_temporal_cli_without_a_valid_token_is_unauthenticated(door: Door) -> None:
    expired = ISSUER.token([f"{MALMO}:read"], expires_in=-3600)

    code, out = await _workflow_list(door.address, MALMO, expired)

    assert code != 0
    assert "unauthenticated" in out and expired not in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@asynccontextmanager
async def _samverkan_frontdoor(upstream: str, tmp_dir: str) -> AsyncIterator[str]:
    """``samverkan frontdoor`` as an operator starts it, trusting the test issuer."""
    port = _free_port()
    settings = {k.upper(): v for k, v in ISSUER.settings().items()}
    process = await asyncio.create_subprocess_exec(
        str(SAMVERKAN), "frontdoor", "--upstream", upstream, "--port", str(port),
        env=_clean_env(SAMVERKAN_DATA_DIR=tmp_dir, **settings),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip

    async def listening() -> bool:
        assert process.returncode is None, "samverkan frontdoor ended"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    try:
        await eventually(listening, seconds=30)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


async def test_samverkan_frontdoor_serves_the_temporal_cli_as_the_in_process_door_does(
    door: Door, tmp_path: Path
) -> None:
    malmo_case = await _case_in(door, MALMO)
    token = ISSUER.token([f"{MALMO}:read"])

    async with _samverkan_frontdoor(door.upstream_address, str(tmp_path)) as address:

        async def listed() -> bool:
            code, out = await _workflow_list(address, MALMO, token)
            return code == 0 and malmo_case in out

        await eventually(listed, seconds=20)
        code, refused = await _workflow_list(address, ESKILSTUNA, token)

    assert code != 0 and "Request unauthorized." in refused


def test_the_command_refuses_a_non_loopback_address_without_allow_remote() -> None:
    result = CliRunner().invoke(
        build_app(("frontdoor",)),
        ["frontdoor", "--upstream", "127.0.0.1:7233", "--host", "0.0.0.0", "--port", "7299"],
        env={k.upper(): v for k, v in ISSUER.settings().items()},
    )

    assert result.exit_code == 2
    assert "loopback only" in result.output and "--allow-remote" in result.output


def test_the_command_refuses_to_start_without_the_sign_on_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ISSUER", "AUDIENCE", "JWKS_URL"):
        monkeypatch.delenv(f"SAMVERKAN_CODEC_OIDC_{name}", raising=False)

    result = CliRunner().invoke(
        build_app(("frontdoor",)), ["frontdoor", "--upstream", "127.0.0.1:7233"]
    )

    assert result.exit_code == 2
    assert "SAMVERKAN_CODEC_OIDC_ISSUER" in result.output
