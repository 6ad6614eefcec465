"""`ConsultationWorkflow`: one question to one agency, and the wait for its answer.

It delivers the request through the agency's own system, then waits for the agency's
``acknowledge``, ``answer`` or ``decline`` (validated: only the addressed agency, only
once). If no answer comes, it reminds and escalates per the policy's ladder, and after
the last rung it ends as expired so the case goes on without the answer — a case never
blocks on an agency. Every fact goes back to the case by signal on the case's workflow
id, so the consultation survives its case continuing as new (it is started with
``ParentClosePolicy.ABANDON``). An agency that refuses the delivery (4xx) is escalated to
a person at once, never retried in a loop.

It runs only as the child its case's workflow starts (`ConsultationWorkflow.run` checks the
parent and the ids, patch ``samverkan-consultation-started-by-its-case``): the case's
``request_consultation`` is where the disclosure table and the legal basis are checked, so a
consultation started directly (Web UI, CLI) would send an agency what nobody checked. Such a
run ends at once, before any delivery.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.agencies import DeliverConsultationRequest, DeliverNoticeRequest
    from activities.errors import AGENCY_ERRORS
    from cases import (
        AcknowledgeConsultation,
        AnswerConsultation,
        ConsultationOutcomeKind,
        DeclineConsultation,
        EscalationAction,
        ScheduledRung,
    )
    from cases.ids import case_workflow_id, parse_workflow_id
    from infra import metrics
    from workflows.messages import (
        ConsultationInput,
        ConsultationReport,
        ConsultationResult,
        ReportKind,
    )
    from workflows.waiting import wait_until

DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=0,
    non_retryable_error_types=list(AGENCY_ERRORS),
)
#: Delivery keeps retrying a system that is down, but not past the answer deadline's ladder.
DELIVERY_GIVE_UP = timedelta(days=3)
#: Patch: a consultation not started by its case ends at once (asked only for such a run).
STARTED_BY_ITS_CASE = "samverkan-consultation-started-by-its-case"
#: The failure type of such a run.
NOT_STARTED_BY_ITS_CASE = "NotStartedByItsCase"


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="Rejected", non_retryable=True)


@workflow.defn(name="ConsultationWorkflow")
class ConsultationWorkflow:
    """One consultation of a case (DESIGN §2, consultations)."""

    @workflow.init
    def __init__(self, request: ConsultationInput) -> None:
        self._request = request
        self._acknowledged = False
        self._outcome: ReportKind | None = None
        self._raised: set[int] = set()

    @workflow.run
    async def run(self, request: ConsultationInput) -> ConsultationResult:
        self._check_started_by_its_case(request)
        workflow.set_current_details(self._details("delivering the request"))
        try:
            if not await self._deliver():
                self._record_answer_time()
                return ConsultationResult(
                    consultation_id=request.consultation_id, outcome=ReportKind.DELIVERY_FAILED
                )
            for rung in sorted(request.schedule, key=lambda r: (r.fire_at, r.rung_index)):
                workflow.set_current_details(
                    self._details(f"waiting for the answer; next: {rung.rung_name}")
                )
                if await wait_until(
                    lambda: self._outcome is not None,
                    rung.fire_at,
                    f"{rung.rung_name} ({rung.role})",
                ):
                    break
                if rung.action is EscalationAction.PROCEED_WITHOUT_ANSWER:
                    break
                await self._escalate(rung)
            if self._outcome is None:
                self._outcome = ReportKind.EXPIRED
                await self._report(ReportKind.EXPIRED)
        except CancelledError:
            workflow.set_current_details(self._details("cancelled: the case was closed"))
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.set_current_details(self._details(f"ended: {self._outcome.value}"))
        self._record_answer_time()
        return ConsultationResult(consultation_id=request.consultation_id, outcome=self._outcome)

    @staticmethod
    def _check_started_by_its_case(request: ConsultationInput) -> None:
        """End the run at once, before any delivery, unless it is the child its case started:
        parent ``case-<n>``, own id ``case-<n>:consultation-<k>`` as the input says.

        The patch is asked for only when the check fails: a consultation its case started runs
        the same commands as before (no marker), and histories from before the patch (the
        corpus replays them under the file's name, with no parent check) replay unchanged.
        """
        info = workflow.info()
        expected_parent = case_workflow_id(request.case_number)
        parsed = parse_workflow_id(info.workflow_id)
        started_by_its_case = (
            info.parent is not None
            and info.parent.workflow_id == expected_parent
            and request.case_workflow_id == expected_parent
            and info.workflow_id == request.consultation_id
            and parsed is not None
            and parsed.consultation is not None
            and parsed.case_number == request.case_number
        )
        if not started_by_its_case and workflow.patched(STARTED_BY_ITS_CASE):
            raise ApplicationError(
                "a consultation runs only as the child its case's workflow starts (ask for it "
                "with the case's request_consultation update, which checks what may be "
                "disclosed); nothing was sent to the agency",
                {"code": "not_started_by_its_case", "case_workflow_id": expected_parent},
                type=NOT_STARTED_BY_ITS_CASE,
                non_retryable=True,
            )

    def _record_answer_time(self) -> None:
        """How long the agency took, by agency and outcome (no case in the labels)."""
        outcome = {
            ReportKind.ANSWERED: ConsultationOutcomeKind.ANSWERED,
            ReportKind.DECLINED: ConsultationOutcomeKind.DECLINED,
            ReportKind.EXPIRED: ConsultationOutcomeKind.EXPIRED,
        }.get(self._outcome or ReportKind.EXPIRED, ConsultationOutcomeKind.FAILED)
        metrics.record_consultation_answer_time(
            workflow.metric_meter(),
            agency=self._request.agency,
            outcome=outcome,
            elapsed=workflow.now() - self._request.deadline.start,
        )

    # -- agency updates -------------------------------------------------------------------

    @workflow.update(name="acknowledge", description="The agency confirms it received the request.")
    async def acknowledge(self, command: AcknowledgeConsultation) -> str:
        self._acknowledged = True
        await self._report(ReportKind.ACKNOWLEDGED)
        return "acknowledged"

    @acknowledge.validator
    def _validate_acknowledge(self, command: AcknowledgeConsultation) -> None:
        self._check_agency(command.agency.value)
        if self._acknowledged:
            raise _refused("already_acknowledged: this consultation was acknowledged before")

    @workflow.update(name="answer", description="The agency's answer to the consultation.")
    async def answer(self, command: AnswerConsultation) -> str:
        self._outcome = ReportKind.ANSWERED
        await self._report(ReportKind.ANSWERED, detail=command.answer)
        return "answered"

    @answer.validator
    def _validate_answer(self, command: AnswerConsultation) -> None:
        self._check_open(command.agency.value)

    @workflow.update(name="decline", description="The agency declines to answer, with a reason.")
    async def decline(self, command: DeclineConsultation) -> str:
        self._outcome = ReportKind.DECLINED
        await self._report(ReportKind.DECLINED, detail=command.reason)
        return "declined"

    @decline.validator
    def _validate_decline(self, command: DeclineConsultation) -> None:
        self._check_open(command.agency.value)

    @workflow.query(name="status", description="Agency, outcome so far and the answer deadline.")
    def status(self) -> dict[str, object]:
        return {
            "consultation_id": self._request.consultation_id,
            "agency": self._request.agency.value,
            "acknowledged": self._acknowledged,
            "outcome": self._outcome.value if self._outcome else None,
            "target": self._request.deadline.target.isoformat(),
            "legal_latest": self._request.deadline.legal_latest.isoformat(),
            "rungs_raised": sorted(self._raised),
        }

    def _check_agency(self, agency: str) -> None:
        if agency != self._request.agency.value:
            raise _refused(
                "wrong_agency: this consultation is addressed to another agency (field: agency)"
            )

    def _check_open(self, agency: str) -> None:
        self._check_agency(agency)
        if self._outcome is not None:
            raise _refused(f"already_{self._outcome.value}: this consultation has ended")

    # -- steps ----------------------------------------------------------------------------

    async def _deliver(self) -> bool:
        request = self._request
        try:
            await workflow.execute_activity(
                "deliver_consultation",
                DeliverConsultationRequest(
                    consultation_id=request.consultation_id,
                    case_number=request.case_number,
                    agency=request.agency,
                    legal_basis=request.legal_basis,
                    payload=request.payload,
                    contains_personal_data=request.contains_personal_data,
                ),
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=DELIVERY_GIVE_UP,
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=DELIVERY_RETRY,
                summary=f"deliver the request to {request.agency.value}",
            )
        except ActivityError as exc:
            cause = exc.cause
            error_type = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
            self._outcome = ReportKind.DELIVERY_FAILED
            await self._report(ReportKind.DELIVERY_FAILED, error_type=error_type)
            workflow.set_current_details(
                self._details(f"delivery failed ({error_type}); escalated to the case officer")
            )
            return False
        await self._report(ReportKind.DELIVERED)
        return True

    async def _escalate(self, rung: ScheduledRung) -> None:
        if rung.rung_index in self._raised:
            return
        self._raised.add(rung.rung_index)
        if rung.action is EscalationAction.REMIND:
            await self._remind(rung)
        await self._report(ReportKind.ESCALATED, rung=rung)

    async def _remind(self, rung: ScheduledRung) -> None:
        """Send the agency a reminder; a failed reminder is logged, the ladder goes on."""
        try:
            await workflow.execute_activity(
                "deliver_agency_notice",
                DeliverNoticeRequest(
                    consultation_id=self._request.consultation_id,
                    case_number=self._request.case_number,
                    agency=self._request.agency,
                    kind="reminder",
                    rung_name=rung.rung_name,
                    due=self._request.deadline.legal_latest,
                ),
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(
                    maximum_attempts=5, non_retryable_error_types=list(AGENCY_ERRORS)
                ),
                summary=f"remind {self._request.agency.value}",
            )
        except ActivityError:
            workflow.logger.warning("reminder not delivered", extra={"rung": rung.rung_name})

    async def _report(
        self,
        kind: ReportKind,
        *,
        detail: str = "",
        rung: ScheduledRung | None = None,
        error_type: str | None = None,
    ) -> None:
        case = workflow.get_external_workflow_handle(self._request.case_workflow_id)
        await case.signal(
            "consultation_report",
            ConsultationReport(
                consultation_id=self._request.consultation_id,
                agency=self._request.agency,
                kind=kind,
                at=workflow.now(),
                detail=detail,
                rung=rung,
                error_type=error_type,
            ),
        )

    def _details(self, doing: str) -> str:
        request = self._request
        return (
            f"**Consultation with {request.agency.value}** for case {request.case_number}\n\n"
            f"**Now:** {doing}\n\n"
            f"**Answer due:** {request.deadline.target:%Y-%m-%d} "
            f"(legal latest {request.deadline.legal_latest:%Y-%m-%d})"
        )
