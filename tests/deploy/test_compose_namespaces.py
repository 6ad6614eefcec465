"""Compose's namespace job registers every municipality's namespace the workers serve, each
with Samverkan's search attributes: checked on the compose file, and by running the job's
script under a POSIX shell against a fake ``temporal`` that records its arguments."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import Settings
from workflows.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "compose" / "temporal-namespace.sh"

#: Records each call, one line of arguments; ``namespace describe`` of a namespace listed in
#: $EXISTING succeeds, of any other fails (so the script creates it).
FAKE_TEMPORAL = """#!/bin/sh
echo "$*" >> "$CALLS"
if [ "$2 $3" = "namespace describe" ]; then
  case ",$EXISTING," in *",$5,"*) exit 0 ;; *) exit 1 ;; esac
fi
"""


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services: dict[str, Any] = compose["services"]
    return services


def _run_script(tmp_path: Path, env: dict[str, str], existing: str = "") -> list[list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "temporal"
    fake.write_text(FAKE_TEMPORAL)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls"
    calls.unlink(missing_ok=True)
    subprocess.run(
        ["sh", str(SCRIPT)],
        env={
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "CALLS": str(calls),
            "EXISTING": existing,
            **env,
        },
        check=True,
        capture_output=True,
        timeout=30,
    )
    return [line.split() for line in calls.read_text().splitlines()]


def _created(calls: list[list[str]]) -> list[str]:
    return [c[c.index("-n") + 1] for c in calls if c[1:3] == ["namespace", "create"]]


def _with_attributes(calls: list[list[str]]) -> dict[str, set[tuple[str, str]]]:
    """The namespaces given search attributes, in call order; each got exactly Samverkan's."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "INT": "Int"}
    kinds["KEYWORD_LIST"] = "KeywordList"
    expected = {(k.name, kinds[k.indexed_value_type.name]) for k in SEARCH_ATTRIBUTES}
    found = {
        call[call.index("--namespace") + 1]: {
            (call[i + 1], call[i + 3]) for i, arg in enumerate(call) if arg == "--name"
        }
        for call in calls
        if call[1:3] == ["search-attribute", "create"]
    }
    assert all(attributes == expected for attributes in found.values()), found
    return found


def _job_env() -> dict[str, str]:
    env = _services()["temporal-namespace"]["environment"]
    return {name: str(value) for name, value in env.items()}


def test_the_namespace_job_and_the_workers_see_the_same_namespaces() -> None:
    services = _services()
    job, worker = services["temporal-namespace"]["environment"], services["worker"]["environment"]
    served = Settings(
        temporal_namespace=worker["TEMPORAL_NAMESPACE"],
        samverkan_namespaces=worker.get("SAMVERKAN_NAMESPACES", ""),
    ).namespaces()

    assert job["SAMVERKAN_NAMESPACES"] == worker["SAMVERKAN_NAMESPACES"]
    assert job["TEMPORAL_NAMESPACE"] == worker["TEMPORAL_NAMESPACE"]
    for name in ("gateway", "projector"):  # the agency API's and the projector's namespace
        assert services[name]["environment"]["TEMPORAL_NAMESPACE"] in served, name
    assert services["temporal-ui"]["environment"]["TEMPORAL_DEFAULT_NAMESPACE"] in served


def test_the_namespace_job_registers_each_namespace_the_worker_serves(tmp_path: Path) -> None:
    env = _job_env()
    served = Settings(
        temporal_namespace=env["TEMPORAL_NAMESPACE"],
        samverkan_namespaces=env["SAMVERKAN_NAMESPACES"],
    ).namespaces()

    calls = _run_script(tmp_path, env)

    assert calls[0][:3] == ["operator", "cluster", "health"]
    assert _created(calls) == served
    assert sorted(_with_attributes(calls)) == sorted(served)


def test_several_municipalities_are_each_registered_once_in_the_workers_order(
    tmp_path: Path,
) -> None:
    listed = " samverkan-malmo, samverkan-eskilstuna,,samverkan-malmo "
    env = {**_job_env(), "SAMVERKAN_NAMESPACES": listed}

    calls = _run_script(tmp_path, env, existing="samverkan-eskilstuna")

    served = Settings(samverkan_namespaces=listed).namespaces()
    assert served == ["samverkan-malmo", "samverkan-eskilstuna"]
    assert _created(calls) == ["samverkan-malmo"], "an existing namespace is kept"
    assert list(_with_attributes(calls)) == served
    assert all(c[c.index("--address") + 1] == env["TEMPORAL_ADDRESS"] for c in calls)
    [create] = [c for c in calls if c[1:3] == ["namespace", "create"]]
    assert create[create.index("--retention") + 1] == env["RETENTION"]


def test_without_a_list_the_job_registers_temporal_namespace_as_the_worker_serves(
    tmp_path: Path,
) -> None:
    calls = _run_script(tmp_path, {"TEMPORAL_NAMESPACE": "samverkan-solo"})

    assert _created(calls) == Settings(temporal_namespace="samverkan-solo").namespaces()
    assert list(_with_attributes(calls)) == ["samverkan-solo"]


def test_the_namespace_script_is_posix_sh() -> None:
    """The admin-tools image runs it with /bin/sh: dash parses it here, shellcheck when
    installed (apt-get install shellcheck) checks it as sh."""
    subprocess.run(["sh", "-n", str(SCRIPT)], check=True, timeout=30)
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed; sh -n passed")
    subprocess.run([shellcheck, "-s", "sh", str(SCRIPT)], check=True, timeout=30)
