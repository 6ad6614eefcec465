"""On the time-skipping server: a consultation request without the officer's assessment is
refused; one with it records exactly what the officer stated, and who stated it."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

from cases import open_envelope
from cases.disclosure import DisclosureStatement
from cases.events import DisclosureRecorded
from tests.waiting import eventually
from tests.workflows.conftest import CaseStack, assessed_into_investigation

STATEMENT: dict[str, Any] = {
    "osl_10_18a": {
        "risk_of_criminal_activity": "Recruited by a violent group, says the school.",
        "may_help_prevent": "The police can place him in the SSPF programme.",
        "not_inappropriate": "Our planned support is not hindered by it.",
    }
}
REQUEST: dict[str, Any] = {
    "agency": "police",
    "legal_basis": "osl_10_18a",
    "questions": "Is the youth known in SSPF?",
    "requested_by": "officer-1",
}


async def test_a_request_without_the_assessment_is_refused_and_one_with_it_is_recorded(
    stack: CaseStack,
) -> None:
    handle = await stack.open()
    await assessed_into_investigation(handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("request_consultation", REQUEST)
    assert "statement.osl_10_18a" in str(refused.value.cause)

    await handle.execute_update(
        "request_consultation", {**REQUEST, "statement": STATEMENT, "requested_by": "officer-7"}
    )
    case_number = handle.id.removeprefix("case-")

    async def disclosures() -> list[DisclosureRecorded]:
        envelopes = await stack.store.read_case(case_number)
        opened = [open_envelope(e) for e in envelopes]
        return [e for e in opened if isinstance(e, DisclosureRecorded)]

    async def recorded() -> bool:
        return len(await disclosures()) == 1

    await eventually(recorded)
    (record,) = await disclosures()
    assert record.statement == DisclosureStatement.model_validate(STATEMENT)
    assert record.stated_by == "officer-7"
    assert record.legal_reference is not None and record.legal_reference.section == "18 a"
    assert "summary" not in record.fields
