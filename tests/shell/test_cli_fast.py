"""``samverkan --help`` starts fast: it imports none of the heavy libraries (Temporal's SDK,
asyncpg, pydantic, the domain), and lists exactly the commands, with the help each has."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import typer

from samverkan.cli import COMMANDS, build_app

HEAVY = ("temporalio", "asyncpg", "pydantic", "pydantic_core", "cases", "eventstore", "infra")


def _modules_after(argv: list[str]) -> list[str]:
    """The heavy modules imported by running ``samverkan`` with ``argv`` in a fresh process."""
    probe = textwrap.dedent(
        f"""
        import json, sys
        sys.argv = ["samverkan", *{argv!r}]
        from samverkan.cli import main
        try:
            main()
        except SystemExit:
            pass
        heavy = {HEAVY!r}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        print("\\n" + json.dumps(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("argv", [["--help"], []])
def test_the_top_level_help_imports_nothing_heavy(argv: list[str]) -> None:
    assert _modules_after(argv) == []


@pytest.mark.parametrize("command", ["dev", "worker", "replay", "simulator", "deadline"])
def test_a_subcommands_help_imports_no_temporal_client_or_database_driver(command: str) -> None:
    loaded = _modules_after([command, "--help"])
    assert not [m for m in loaded if m.split(".")[0] in ("temporalio", "asyncpg")], loaded


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


def test_the_listing_names_every_command_with_its_own_help() -> None:
    group = typer.main.get_command(build_app())
    commands = group.commands  # type: ignore[attr-defined]

    assert list(COMMANDS) == list(commands)
    for name, (_, summary) in COMMANDS.items():
        assert summary == _first_paragraph(commands[name].help), name


def test_a_command_runs_with_only_its_own_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "samverkan.cli", "deadline", "nonsense", "--from", "2026-01-01"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "Unknown deadline kind" in result.stderr
