"""Test-only stand-ins with the production message names: a consultation and a case workflow.

The consultation keeps the real one's contract: updates ``acknowledge``/``answer``/``decline``
taking the cases commands, validators refusing another agency (``wrong_agency``) and a
second outcome (``already_<outcome>``) with ``ApplicationError(type="Rejected")``, and the
``status`` query naming its agency.
"""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from cases import AcknowledgeConsultation, AddInformation, AnswerConsultation, DeclineConsultation


class ProbeConsultationInput(BaseModel):
    """Which agency the probe consultation is addressed to."""

    agency: str


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="Rejected", non_retryable=True)


@workflow.defn(name="GatewayProbeConsultation")
class ProbeConsultation:
    """One consultation waiting for its agency."""

    @workflow.init
    def __init__(self, request: ProbeConsultationInput) -> None:
        self._agency = request.agency
        self._acknowledged = False
        self._outcome: str | None = None
        self._updates = 0

    @workflow.run
    async def run(self, request: ProbeConsultationInput) -> str:
        await workflow.wait_condition(lambda: self._outcome is not None)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._outcome or ""

    @workflow.update(name="acknowledge")
    async def acknowledge(self, command: AcknowledgeConsultation) -> str:
        self._acknowledged = True
        self._updates += 1
        return "acknowledged"

    @acknowledge.validator
    def _check_acknowledge(self, command: AcknowledgeConsultation) -> None:
        self._check_agency(command.agency.value)
        if self._acknowledged:
            raise _refused("already_acknowledged: this consultation was acknowledged before")

    @workflow.update(name="answer")
    async def answer(self, command: AnswerConsultation) -> str:
        self._outcome = "answered"
        self._updates += 1
        return "answered"

    @answer.validator
    def _check_answer(self, command: AnswerConsultation) -> None:
        self._check_open(command.agency.value)

    @workflow.update(name="decline")
    async def decline(self, command: DeclineConsultation) -> str:
        self._outcome = "declined"
        self._updates += 1
        return "declined"

    @decline.validator
    def _check_decline(self, command: DeclineConsultation) -> None:
        self._check_open(command.agency.value)

    @workflow.query(name="status")
    def status(self) -> dict[str, object]:
        return {
            "agency": self._agency,
            "acknowledged": self._acknowledged,
            "outcome": self._outcome,
            "updates": self._updates,
        }

    def _check_agency(self, agency: str) -> None:
        if agency != self._agency:
            raise _refused("wrong_agency: addressed to another agency (field: agency)")

    def _check_open(self, agency: str) -> None:
        self._check_agency(agency)
        if self._outcome is not None:
            raise _refused(f"already_{self._outcome}: this consultation has ended")


@workflow.defn(name="GatewayProbeCase")
class ProbeCase:
    """A case receiving ``add_information`` signals."""

    def __init__(self) -> None:
        self._sources: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name="add_information")
    def add_information(self, notice: AddInformation) -> None:
        self._sources.append(notice.source)

    @workflow.query(name="sources")
    def sources(self) -> list[str]:
        return list(self._sources)
