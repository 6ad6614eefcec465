"""Logging: one structlog configuration, Temporal's context lifted into fields, personal data redacted."""

from __future__ import annotations

import io
import json
import logging

import pytest

from infra import logging as samverkan_logging


@pytest.fixture
def json_lines(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr(samverkan_logging, "_configured", False)
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    samverkan_logging.configure_logging(log_format="json", level="INFO")
    yield stream
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    monkeypatch.setattr(samverkan_logging, "_configured", False)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_temporal_workflow_log_lines_carry_workflow_and_run_ids(json_lines: io.StringIO) -> None:
    logging.getLogger("temporalio.workflow").warning(
        "waiting for consent",
        extra={
            "temporal_workflow": {
                "workflow_id": "case-MAL-1",
                "run_id": "run-1",
                "workflow_type": "CaseWorkflow",
            }
        },
    )
    logging.getLogger("temporalio.activity").info(
        "delivered",
        extra={
            "temporal_activity": {
                "workflow_id": "case-MAL-1:consultation-1",
                "workflow_run_id": "run-2",
                "activity_type": "deliver_consultation",
            }
        },
    )
    first, second = _records(json_lines)
    assert (first["workflow_id"], first["run_id"]) == ("case-MAL-1", "run-1")
    assert second["activity_type"] == "deliver_consultation"
    assert second["run_id"] == "run-2"


def test_known_personal_fields_are_redacted_as_a_second_guard(json_lines: io.StringIO) -> None:
    samverkan_logging.get_logger("test").info(
        "oops", name="Testperson Exempelsson", personal_identity_number="20120315-0004", case="X"
    )
    [record] = _records(json_lines)
    assert record["name"] == samverkan_logging.REDACTED
    assert record["personal_identity_number"] == samverkan_logging.REDACTED
    assert record["case"] == "X"
    assert "Testperson" not in json_lines.getvalue()
