"""``samverkan cases example``: the start input the README's sign-on walkthrough pastes into
``temporal workflow start``, valid as the workflow reads it, received now."""

from __future__ import annotations

import json
import subprocess
import sysconfig
from datetime import datetime, timedelta
from pathlib import Path

from cases import STOCKHOLM
from cases.models import OpenCase

SAMVERKAN = Path(sysconfig.get_path("scripts")) / "samverkan"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SAMVERKAN), "cases", "example", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_example_is_a_valid_case_start_for_the_number_and_municipality_asked(
    tmp_path: Path,
) -> None:
    result = _run("--number", "ESK-2026-0007", "--municipality", "Eskilstuna", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1  # one line: fits --input "$(…)"
    case = OpenCase.model_validate(json.loads(result.stdout))
    assert case.case_number == "ESK-2026-0007"
    assert case.municipality == "Eskilstuna"
    assert abs(datetime.now(STOCKHOLM) - case.received_at) < timedelta(minutes=5)


def test_a_number_that_is_no_case_number_is_one_line_and_exit_2_without_a_stack_hint(
    tmp_path: Path,
) -> None:
    result = _run("--number", "MAL 2026", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("cases example: --number 'MAL 2026' is not a case number")
    assert "dev stack" not in result.stderr
