"""The workflow-id formats (`cases.ids`) that the codec, gateway, CLI and workflows share."""

from __future__ import annotations

import re

import pytest

from cases.ids import (
    CASE_WORKFLOW_ID_PATTERN,
    CONSULTATION_ID_PATTERN,
    WorkflowId,
    case_workflow_id,
    consultation_id,
    is_consultation_id,
    parse_workflow_id,
)


def test_a_case_and_its_consultations_parse_back_to_their_parts() -> None:
    assert parse_workflow_id(case_workflow_id("2026-0042")) == WorkflowId("2026-0042", None)
    parsed = parse_workflow_id(consultation_id("2026-0042", 3))
    assert parsed == WorkflowId("2026-0042", 3)
    assert parsed is not None and parsed.case_workflow_id == "case-2026-0042"


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "2026-0042",  # a case number is not a workflow id
        "case-",
        "case--42",  # a case number does not start with a hyphen
        "case-2026_0042",
        "case-" + "9" * 41,  # longer than 40 characters
        "case-2026-0042:consultation-0",
        "case-2026-0042:consultation-1234567",
        "case-2026-0042:consultation-",
        "case-2026-0042:answer-1",
        "start-case-2026-0042",
        "case-2026-0042\n",
    ],
)
def test_anything_else_is_not_a_case_workflow_id(text: str | None) -> None:
    assert parse_workflow_id(text) is None


def test_the_published_patterns_agree_with_the_parser() -> None:
    case_id, consult_id = case_workflow_id("A1"), consultation_id("A1", 12)
    assert re.fullmatch(CASE_WORKFLOW_ID_PATTERN, case_id)
    assert not re.fullmatch(CASE_WORKFLOW_ID_PATTERN, consult_id)
    assert re.fullmatch(CONSULTATION_ID_PATTERN, consult_id)
    assert not re.fullmatch(CONSULTATION_ID_PATTERN, case_id)
    assert is_consultation_id(consult_id) and not is_consultation_id(case_id)
