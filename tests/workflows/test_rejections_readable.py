"""Rejections reach the Web UI and CLI as one line, the rule and the field, with no stack trace
(`infra.converter.SamverkanFailureConverter`); faults keep their traces for the engineers."""

from __future__ import annotations

import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from infra.converter import data_converter
from tests.workflows.conftest import CaseStack


async def test_a_rejected_update_is_one_line_with_the_field_and_no_stack_trace(
    stack: CaseStack,
) -> None:
    handle = await stack.open()

    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(
            "record_protection_assessment",
            {"acute": False, "reasoning": "   ", "decided_by": "officer-1"},
        )

    cause = rejected.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Rejected"
    assert "\n" not in cause.message and "(field: reasoning)" in cause.message
    assert cause.failure is not None and cause.failure.stack_trace == ""
    assert ".py" not in str(cause.failure)


def _raised(error: Exception) -> Failure:
    try:
        raise error
    except Exception as exc:
        failure = Failure()
        converter = data_converter()
        converter.failure_converter.to_failure(exc, converter.payload_converter, failure)
        return failure


def test_only_domain_refusals_lose_their_stack_trace() -> None:
    refusal = _raised(ApplicationError("reasoning_required: …", type="Rejected"))
    fault = _raised(ApplicationError("database down", type="ConnectionLost"))
    crash = _raised(RuntimeError("bug"))

    assert refusal.stack_trace == ""
    assert "test_rejections_readable.py" in fault.stack_trace
    assert "test_rejections_readable.py" in crash.stack_trace
