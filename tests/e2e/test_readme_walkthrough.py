"""The README's walkthrough ("Open a case and move it"), run top to bottom against a dev stack.

Every ``temporal`` / ``samverkan`` / ``curl`` command of the section's fenced bash blocks runs
in order, in one shell, as a reader would type it (ports and the data folder are this test's
own: free ports and a temporary ``SAMVERKAN_DATA_DIR``, as in ``test_dev_stack``). Each must
succeed, except a command marked ``# refused: FIELD``, which must fail naming that field. The
stack is started with the environment the section's ``make dev`` line sets (the simulator
leaving the police to the reader).
"""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.test_dev_stack import _free_port, _start, _stop, _wait_until_up

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Open a case and move it"
SCRIPTS = Path(sysconfig.get_path("scripts"))
_ASSIGNMENT = re.compile(r"^(export\s+)?[A-Za-z_][A-Za-z0-9_]*=")
_ENV_PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)+")
_REFUSED = re.compile(r"#\s*refused:\s*(\S+)\s*$")
_RUNS = ("$T ", ".venv/bin/samverkan ", "curl ")


@dataclass(frozen=True)
class Step:
    """One logical line of a bash block: a shell assignment or a command to check."""

    text: str
    command: bool
    refused_field: str | None = None


def walkthrough_blocks(readme: str) -> list[list[str]]:
    """The fenced ``bash`` blocks of the walkthrough section, as logical lines."""
    start = readme.index(SECTION)
    end = readme.find("\n## ", start + len(SECTION))
    section = readme[start : end if end != -1 else None]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [_logical_lines(block) for block in blocks]


def _logical_lines(block: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def steps_of(blocks: list[list[str]]) -> tuple[dict[str, str], list[Step]]:
    """The stack's environment (from the block that runs ``make dev``) and the steps."""
    stack_env: dict[str, str] = {}
    steps: list[Step] = []
    for block in blocks:
        for line in block:
            if "make dev" in line:
                words = line.split("#")[0].split()
                stack_env.update(w.split("=", 1) for w in words[: words.index("make")])
            elif not _ENV_PREFIX.sub("", line).startswith(_RUNS) and _ASSIGNMENT.match(line):
                steps.append(Step(line, command=False))
            else:
                command = _ENV_PREFIX.sub("", line)
                assert command.startswith(_RUNS), f"the walkthrough runs something else: {line}"
                refused = _REFUSED.search(line)
                steps.append(Step(line, True, refused.group(1) if refused else None))
    return stack_env, steps


def test_the_walkthrough_parses_into_the_steps_a_reader_types() -> None:
    stack_env, steps = steps_of(walkthrough_blocks(README.read_text(encoding="utf-8")))
    assert stack_env == {"SAMVERKAN_DEV_MANUAL_AGENCIES": "police"}
    commands = [s.text for s in steps if s.command]
    names = [re.search(r"--name (\w+)", c).group(1) for c in commands if "--name" in c]  # type: ignore[union-attr]
    assert names[0] == "record_protection_assessment"
    assert names[-1] == "close_case", "closing must come last: nothing works on a closed case"
    assert [s.refused_field for s in steps if s.refused_field] == ["acute"]
    assert any("workflow start" in c for c in commands)
    assert any("/answer" in c for c in commands)


def _localised(text: str, endpoints: dict[str, str], codec_port: int, tmp: Path) -> str:
    gateway = endpoints["gateway_url"].removeprefix("http://")
    simulator = endpoints["simulator_url"].removeprefix("http://")
    return (
        text.replace("127.0.0.1:7233", endpoints["temporal_address"])
        .replace("127.0.0.1:8251", f"127.0.0.1:{codec_port}")
        .replace("127.0.0.1:8250", gateway)
        .replace("127.0.0.1:8240", simulator)
        .replace("/tmp/case.json", str(tmp / "case.json"))
        .replace(".venv/bin/", f"{SCRIPTS}/")
    )


def _script(steps: list[Step], localise: object, out: Path) -> str:
    lines = ["cd " + str(ROOT)]
    for i, step in enumerate(steps):
        text = localise(step.text)  # type: ignore[operator]
        if not step.command:
            lines.append(text)
            continue
        lines += ["{", text, f'}} >"{out}/out-{i}" 2>&1', f'echo $? >"{out}/rc-{i}"']
    return "\n".join(lines) + "\n"


def test_the_readme_walkthrough_runs_top_to_bottom_on_a_dev_stack(tmp_path: Path) -> None:
    stack_env, steps = steps_of(walkthrough_blocks(README.read_text(encoding="utf-8")))
    ports = {name: _free_port() for name in ("temporal", "ui", "simulator", "gateway", "codec")}
    data_dir = tmp_path / "stack"
    saved = {k: os.environ.get(k) for k in (*stack_env, "SAMVERKAN_CODEC_PORT")}
    os.environ.update(stack_env, SAMVERKAN_CODEC_PORT=str(ports["codec"]))
    try:
        process = _start(data_dir, ports)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    out = tmp_path / "out"
    out.mkdir()
    try:
        endpoints = _wait_until_up(process, data_dir)
        script = _script(steps, lambda t: _localised(t, endpoints, ports["codec"], tmp_path), out)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TEMPORAL_", "SAMVERKAN_")) and k != "DATABASE_URL"
        }
        env["SAMVERKAN_DATA_DIR"] = str(data_dir)
        subprocess.run(["bash", "-c", script], env=env, timeout=600, check=False)
    finally:
        code, survivors = _stop(process)
    assert code == 0 and survivors == []

    for i, step in enumerate(steps):
        if not step.command:
            continue
        rc = int((out / f"rc-{i}").read_text())
        output = (out / f"out-{i}").read_text()
        if step.refused_field is None:
            assert rc == 0, f"step {i} failed ({rc}): {step.text[:120]}\n{output[-2000:]}"
        else:
            assert rc != 0, f"step {i} should have been refused: {step.text[:120]}"
            assert step.refused_field in output, output[-2000:]
        if "CaseState='investigation'" in step.text:
            assert "case-MAL-2026-0042" in output, "the investigation list is empty"
        if step.text.rstrip().endswith("/answer"):
            assert '"result":"answered"' in output.replace(" ", ""), output
        if "samverkan replay" in step.text:
            assert "1 replayed clean" in output, output
            assert "OK    case-MAL-2026-0042" in output, "named by the id in the history"
