"""`cases/` reads no clock and no randomness, and ``samverkan deadline`` answers operators.

What `cases/` may import is import-linter's job (pyproject.toml, `make lint`)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from samverkan.commands.deadline import register

CASES = Path(__file__).resolve().parents[2] / "cases"
FORBIDDEN_CALLS = {
    "now",
    "today",
    "utcnow",
    "open",
    "uuid4",
    "uuid1",
    "getenv",
    "time_ns",
    "perf_counter",
    "monotonic",
    "urandom",
    "random",
    "read_text",
    "sleep",
}


def sources() -> list[Path]:
    return sorted(CASES.rglob("*.py"))


@pytest.mark.parametrize("path", sources(), ids=lambda p: p.name)
def test_cases_reads_no_clock_and_no_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name} calls {name}()"


def cli(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """Test app."""

    result = CliRunner().invoke(app, ["deadline", *args])
    return result.exit_code, result.stdout, result.stderr


def test_deadline_prints_target_and_legal_latest_as_json() -> None:
    code, out, _ = cli("pre_assessment", "--from", "2026-12-17")
    assert code == 0
    printed = json.loads(out)
    assert printed.pop("legal_reference")["cite"] == "SoL (2025:400) 20 kap. 2 § (unverified)"
    assert printed.pop("at") == "00:00"
    assert "00:00" in printed.pop("assumed")
    assert printed == {
        "kind": "pre_assessment",
        "from": "2026-12-17",
        "target": "2026-12-31",
        "legal_latest": "2027-01-04",
        "moved_because": [
            "2026-12-31 Nyårsafton",
            "2027-01-01 Nyårsdagen",
            "2027-01-02 Saturday",
            "2027-01-03 Sunday",
        ],
        "calendar": json.loads(out)["calendar"],
    }
    assert json.loads(out)["calendar"].startswith("holidays-")


def test_deadline_for_a_late_report_uses_the_time_of_day() -> None:
    _, out, _ = cli("protection_assessment", "--from", "2026-03-06", "--at", "16:00")
    assert (json.loads(out)["target"], json.loads(out)["legal_latest"]) == (
        "2026-03-07",
        "2026-03-07",  # "genast": not moved to Monday by lag 1930:173
    )


def test_deadline_for_a_consultation_names_the_agency() -> None:
    _, out, _ = cli("consultation:police", "--from", "2026-04-02")
    assert json.loads(out)["target"] == "2026-04-13"  # five working days over Easter


def test_deadline_reads_a_policy_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[time_limits]\npre_assessment_days = 7\n", encoding="utf-8")
    _, out, _ = cli("pre_assessment", "--from", "2026-03-02", "--policy", str(policy))
    assert json.loads(out)["target"] == "2026-03-09"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["bogus", "--from", "2026-01-01"], "Unknown deadline kind"),
        (["consultation:mayor", "--from", "2026-01-01"], "needs its agency"),
        (["consultation", "--from", "2026-01-01"], "needs its agency"),
        (["investigation:police", "--from", "2026-01-01"], "Only a consultation"),
        (["pre_assessment", "--from", "2026-02-30"], "is not a date"),
        (["pre_assessment", "--from", "2026-02-01", "--at", "7pm"], "not a time of day"),
        (["pre_assessment", "--from", "2026-02-01", "--policy", "/no/such/file"], "cannot be read"),
    ],
)
def test_bad_input_gives_one_sentence_and_exit_2(args: list[str], words: str) -> None:
    code, out, err = cli(*args)
    assert code == 2
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_an_invalid_policy_file_gives_one_sentence_and_exit_2(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[time_limits]\npre_assessment_days = 0\n", encoding="utf-8")
    code, _, err = cli("pre_assessment", "--from", "2026-03-02", "--policy", str(policy))
    assert code == 2
    assert "pre_assessment_days" in err
