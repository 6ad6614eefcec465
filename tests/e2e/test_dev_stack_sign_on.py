"""Two municipalities on ``samverkan dev --auth``, tried the way an operator does it: the
README's section "Two municipalities with sign-on" run line by line in one bash (a token
from ``samverkan dev-token`` and the ``temporal`` CLI; this test's own free ports and data
folder), then the codec endpoint over HTTP. A Malmö operator's token starts, lists and
decodes Malmö's cases and is refused for Eskilstuna's, both by the front door (Temporal with
authorization) and by the codec endpoint."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from cases import STOCKHOLM
from tests.e2e.test_dev_stack import SAMVERKAN, TEMPORAL, _free_port, _stop
from tests.e2e.test_readme_walkthrough import README, SCRIPTS, _logical_lines

pytestmark = pytest.mark.e2e

MALMO, ESKILSTUNA = "samverkan-malmo", "samverkan-eskilstuna"
PORTS = ("temporal", "ui", "simulator", "gateway", "codec", "frontdoor", "board")
SECTION = "## Two municipalities with sign-on"


def readme_blocks() -> list[list[str]]:
    """The section's fenced bash blocks, as logical lines."""
    readme = README.read_text(encoding="utf-8")
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start:end]
    return [_logical_lines(b) for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def run_readme_block(
    lines: list[str], endpoints: dict[str, str], data_dir: Path
) -> list[tuple[str, int, str]]:
    """Run the operator's block in one bash, as typed, with this stack's addresses; returns
    each ``$T`` command with its exit status and output."""
    script = ["set -u"]
    commands: list[str] = []
    for line in lines:
        line = (
            line.replace(".venv/bin/", f"{SCRIPTS}/")
            .replace("127.0.0.1:7243", endpoints["frontdoor_address"])
            .replace("http://127.0.0.1:8251/codec", endpoints["codec_url"])
        )
        if line.startswith("$T "):
            line = re.sub(r"\s+#\s.*$", "", line)  # the reader's note, not the shell's
            index = len(commands)
            commands.append(line)
            script += [
                f"echo '::begin {index}'",
                f"{line} 2>&1",
                f'echo "::end {index} $?"',
            ]
        else:
            script.append(line)
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env={**os.environ, "SAMVERKAN_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    results = []
    for index, command in enumerate(commands):
        found = re.search(rf"::begin {index}\n(.*?)::end {index} (\d+)\n", done.stdout, flags=re.S)
        assert found, f"{command!r} did not run: {done.stdout}{done.stderr}"
        results.append((command, int(found.group(2)), found.group(1)))
    return results


def _start(data_dir: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SAMVERKAN_MASTER_KEYS"}
    }
    env.update(
        SAMVERKAN_DATA_DIR=str(data_dir),
        SAMVERKAN_NAMESPACES=f"{MALMO},{ESKILSTUNA}",
        SAMVERKAN_TEMPORAL_PORT=str(ports["temporal"]),
        SAMVERKAN_UI_PORT=str(ports["ui"]),
        SAMVERKAN_SIMULATOR_PORT=str(ports["simulator"]),
        SAMVERKAN_GATEWAY_PORT=str(ports["gateway"]),
        SAMVERKAN_CODEC_PORT=str(ports["codec"]),
        SAMVERKAN_FRONTDOOR_PORT=str(ports["frontdoor"]),
        SAMVERKAN_BOARD_PORT=str(ports["board"]),
    )
    return subprocess.Popen(
        [str(SAMVERKAN), "dev", "--auth"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_until_up(process: subprocess.Popen[str], data_dir: Path) -> dict[str, str]:
    from tests.e2e.test_dev_stack import _wait_until_up as wait

    return wait(process, data_dir)


def _token(data_dir: Path, *grants: str) -> str:
    result = subprocess.run(
        [str(SAMVERKAN), "dev-token", *grants, "--subject", "operator-malmo"],
        env={**os.environ, "SAMVERKAN_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def _temporal(
    address: str, namespace: str, token: str | None, codec_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    auth = ["--api-key", token, "--codec-auth", f"Bearer {token}"] if token else []
    return subprocess.run(
        [
            str(TEMPORAL),
            *args,
            "--address",
            address,
            "--tls=false",
            "--namespace",
            namespace,
            "--codec-endpoint",
            codec_url,
            *auth,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _case(number: str, municipality: str) -> str:
    return json.dumps(
        {
            "case_number": number,
            "municipality": municipality,
            "received_at": datetime.now(STOCKHOLM).replace(microsecond=0).isoformat(),
            "reporter_kind": "school",
            "mandatory_reporter": True,
            "subject": {
                "personal_identity_number": "20120315-0004",
                "name": "Testperson Exempelsson",
                "birth_date": "2012-03-15",
            },
            "concern_category": "violent_extremist_environment",
            "summary": "Shares violent propaganda.",
        }
    )


def _start_case(endpoints: dict[str, str], namespace: str, token: str, number: str) -> None:
    started = _temporal(
        endpoints["frontdoor_address"],
        namespace,
        token,
        endpoints["codec_url"],
        "workflow",
        "start",
        "--type",
        "CaseWorkflow",
        "--task-queue",
        "samverkan-cases",
        "--workflow-id",
        f"case-{number}",
        "--input",
        _case(number, "Malmö" if namespace == MALMO else "Eskilstuna"),
    )
    assert started.returncode == 0, started.stderr


def test_malmo_token_lists_and_decodes_malmo_and_is_refused_for_eskilstuna(
    tmp_path: Path,
) -> None:
    start_block, operator_block = readme_blocks()
    assert start_block == [
        f"SAMVERKAN_NAMESPACES={MALMO},{ESKILSTUNA} .venv/bin/samverkan dev --auth"
    ]
    ports = {name: _free_port() for name in PORTS}
    data_dir = tmp_path / "stack"
    process = _start(data_dir, ports)
    try:
        endpoints = _wait_until_up(process, data_dir)
        assert endpoints["namespaces"] == [MALMO, ESKILSTUNA]
        codec = endpoints["codec_url"]
        readme = run_readme_block(operator_block, endpoints, data_dir)

        malmo = _token(data_dir, f"{MALMO}:write")
        eskilstuna = _token(data_dir, f"{ESKILSTUNA}:write")
        _start_case(endpoints, ESKILSTUNA, eskilstuna, "ESK-2026-0001")
        anonymous = _temporal(
            endpoints["frontdoor_address"], MALMO, None, codec, "workflow", "list"
        )
        # The dev server's own port has no authorizer: there the codec alone stands between a
        # Malmö token and Eskilstuna's payloads.
        foreign = _temporal(
            endpoints["temporal_address"],
            ESKILSTUNA,
            malmo,
            codec,
            "workflow",
            "show",
            "-w",
            "case-ESK-2026-0001",
            "-o",
            "json",
        )
        # An Eskilstuna operator's shortcut for a case number Malmö already holds.
        clash = subprocess.run(
            [
                str(SAMVERKAN),
                "cases",
                "open",
                _case("MAL-2026-0100", "Eskilstuna"),
            ],
            env={
                **os.environ,
                "SAMVERKAN_DATA_DIR": str(data_dir),
                "TEMPORAL_NAMESPACE": ESKILSTUNA,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        raw_input = _first_input(endpoints["temporal_address"], ESKILSTUNA, "case-ESK-2026-0001")
        with httpx.Client(timeout=10) as http:
            refused = http.post(
                f"{codec}/decode",
                json={"payloads": [raw_input]},
                headers={"X-Namespace": ESKILSTUNA, "Authorization": f"Bearer {malmo}"},
            )
            decoded = http.post(
                f"{codec}/decode",
                json={"payloads": [raw_input]},
                headers={"X-Namespace": ESKILSTUNA, "Authorization": f"Bearer {eskilstuna}"},
            )
    finally:
        code, survivors = _stop(process)
    assert code == 0 and survivors == []

    (start, started, _), (lst, listed, own), (show, shown, case), (other, denied, err) = readme
    assert "workflow start" in start and started == 0
    assert "list" in lst and MALMO in lst and listed == 0
    assert "case-MAL-2026-0100" in own and "case-ESK-2026-0001" not in own
    assert "show" in show and shown == 0
    assert "Teacher reports that the pupil shares violent propaganda" in case  # decoded
    assert ESKILSTUNA in other and denied != 0
    assert "Request unauthorized" in err and "case-ESK" not in err
    assert anonymous.returncode != 0 and "case-MAL-2026-0100" not in anonymous.stdout
    assert clash.returncode == 2
    assert clash.stderr.strip() == (
        "cases open: case MAL-2026-0100 belongs to another municipality's namespace (its data "
        "key is bound there); check TEMPORAL_NAMESPACE: nothing started"
    )

    assert "Shares violent propaganda." not in _start_input(foreign.stdout)
    assert "Shares violent propaganda." not in foreign.stdout + foreign.stderr
    assert refused.status_code == 403
    assert decoded.status_code == 200
    text = base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
    assert "Eskilstuna" in text and "Shares violent propaganda." in text


def _start_input(shown: str) -> str:
    """The start input of ``temporal workflow show -o json`` as text, if the CLI decoded it
    to plain JSON; empty otherwise (still encrypted, or no history printed)."""
    try:
        first = json.loads(shown)["events"][0]["workflowExecutionStartedEventAttributes"]
    except (ValueError, KeyError, IndexError):
        return ""
    payload = first["input"]["payloads"][0]
    encoding = base64.b64decode(payload.get("metadata", {}).get("encoding", "")).decode()
    if encoding != "json/plain":
        return ""
    return base64.b64decode(payload["data"]).decode()


def _first_input(address: str, namespace: str, workflow_id: str) -> dict[str, object]:
    """The case's start input as Temporal stores it (encrypted), read without any codec."""
    result = subprocess.run(
        [
            str(TEMPORAL),
            "workflow",
            "show",
            "-w",
            workflow_id,
            "--address",
            address,
            "--namespace",
            namespace,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    history = json.loads(result.stdout)
    first = history["events"][0]["workflowExecutionStartedEventAttributes"]
    payload: dict[str, object] = first["input"]["payloads"][0]
    return payload
