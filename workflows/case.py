"""`CaseWorkflow`: one report of concern's path through social services, as the law sets it.

A case opens on a report (``OpenCase``), is assessed for protection the same day, gets a
pre-assessment within 14 days, maybe an investigation within four months, and closes.
Every step is decided by `cases.decide` (a signal by `cases.decide_signal`) and recorded
by `workflows.recording.CaseRecord`: appended to the event store through the
``append_events`` activity and folded with `cases.apply`; the same fold builds the read
models in PostgreSQL. Every statutory deadline a step starts is computed in a local
activity (so replay never depends on the holiday calendar's version), recorded as the
domain decides ``RecordDeadline``, and watched by one durable timer loop that raises
each escalation rung exactly once.

Operators act through validated updates (a rejected one leaves no trace in history);
agencies' notices arrive as signals; consultations run as child workflows that report
back by signal, so they outlive a run that continues as new.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import cases
    from cases import (
        CaseState,
        CloseCase,
        ConcludeInvestigation,
        DeadlineKind,
        DecideImmediateCustody,
        DecidePreAssessment,
        DomainEvent,
        ExtendInvestigation,
        ExtendPreAssessment,
        GiveFeedback,
        JoinReport,
        OpenCase,
        Policy,
        RecordChildViews,
        RecordCourtFiling,
        RecordInformationGiven,
        RecordProtectionAssessment,
        Rejected,
        RequestConsultation,
        ScheduledRung,
    )
    from cases.commands import IdentifySubject, check_new_input
    from cases.decide import check_new_decision, check_opening
    from cases.ids import case_workflow_id
    from workflows import steps
    from workflows.consultation import ConsultationWorkflow
    from workflows.messages import (
        CarriedCase,
        CaseResult,
        CaseRunOptions,
        CaseSummary,
        ConsultationInput,
        TimelineEntry,
    )
    from workflows.recording import BATCHED_APPENDS, SYSTEM_ACTOR, CaseRecord, RecordingPath
    from workflows.waiting import SteadyWait, wait_until

__all__ = ["BATCHED_APPENDS", "RUN_OPTIONS_MEMO", "SYSTEM_ACTOR", "CaseWorkflow"]

#: Memo key of `CaseRunOptions`: what a continued run carries; operators never set it.
RUN_OPTIONS_MEMO = "samverkan_run_options"
IDLE_WAKE_UP = timedelta(days=30)
#: Patch: new signals' clear-text fields are checked (an ``add_information`` source outside
#: `cases.InformationSource` is refused); histories from before read such a source as ``other``.
SIGNAL_FIELDS_CHECKED = "samverkan-signal-fields-checked"
#: Patch: a run whose workflow id is not ``case-<its case number>`` ends at once, recording
#: nothing (the codec picks the case's key by workflow id; any other id would seal the case
#: under no case's key). Asked for only when the id is wrong, so other runs are unchanged.
CASE_ID_CHECKED = "samverkan-case-id-checked"
WRONG_WORKFLOW_ID = "WrongWorkflowId"
#: Patch: a report about someone 21 or older on the day it arrived ends the run at once,
#: recording nothing (`cases.decide.check_opening`). Asked for only when the subject is 21
#: or older, so every other run's commands are unchanged.
AGE_CHECKED = "samverkan-age-checked"
SUBJECT_TOO_OLD = "SubjectTooOld"
#: Patch: a pre-assessment for a mandatory reporter records feedback as a task
#: (``FeedbackDue`` and its ``feedback_to_reporter`` deadline, done by ``give_feedback``)
#: instead of ``FeedbackSent`` at once. Asked for only when the reporter is mandatory, so
#: every other pre-assessment's commands are unchanged.
FEEDBACK_TASK = "samverkan-feedback-task"
#: Patch: a run that finds its case already in the event store (a closed case started again,
#: e.g. from the Web UI or ``temporal workflow start`` with id reuse allowed) ends at once with
#: a non-retryable ``CaseAlreadyExists``, recording nothing. Asked for only when the opening
#: append finds the stream taken, so every other run's commands are unchanged.
CASE_EXISTS_CHECKED = "samverkan-case-exists-checked"
CASE_ALREADY_EXISTS = "CaseAlreadyExists"
#: Patch: the case's wait keeps its timer while its wake-up time stays (`SteadyWait`); before,
#: every wake (a signal, an update, a step) cancelled the timer and started the same one again.
STEADY_WAIT = "samverkan-steady-wait"
#: Timeline entries a continued run carries (payloads have a size limit); the whole case
#: file is always in the event store.
TIMELINE_CARRIED = 1_000


def rejection(exc: Rejected) -> ApplicationError:
    """The caller-facing error for a refused command: code, field and message, no values."""
    return ApplicationError(
        f"{exc.code}: {exc.message}" + (f" (field: {exc.field})" if exc.field else ""),
        {"code": exc.code, "field": exc.field, "message": exc.message},
        type="Rejected",
        non_retryable=True,
    )


@workflow.defn(name="CaseWorkflow")
class CaseWorkflow:
    """A case from report of concern to closing (DESIGN §2)."""

    @workflow.init
    def __init__(self, case: OpenCase) -> None:
        self._case = case
        self._options = workflow.memo_value(
            RUN_OPTIONS_MEMO, CaseRunOptions(), type_hint=CaseRunOptions
        )
        carried = self._options.carried
        self._record = CaseRecord(case.case_number, carried)
        self._inbox: list[dict[str, Any]] = list(carried.inbox) if carried else []
        # The opening is decided now so that updates arriving with the start are validated
        # against the opened case; `run` records it before any handler may act.
        self._opening: list[DomainEvent] = [] if carried else self._open(case)
        self._opened = carried is not None
        self._duplicate = False  # a second start of a case that exists (`_refuse_existing_case`)
        self._lock = asyncio.Lock()
        self._wait = SteadyWait(IDLE_WAKE_UP)

    @staticmethod
    def _open(case: OpenCase) -> list[DomainEvent]:
        try:
            return cases.decide(None, case, now=workflow.now())
        except Rejected as exc:
            raise rejection(exc) from None

    # -- the run --------------------------------------------------------------------------

    @workflow.run
    async def run(self, case: OpenCase) -> CaseResult:
        if not self._opened:
            self._check_workflow_id(case)
            self._check_age(case)
        if self._record.policy is None:
            self._record.policy = await steps.load_policy()
        if not self._opened:
            async with self._lock:
                try:
                    await self._recording().record_opening(self._opening)
                except ActivityError as exc:
                    self._refuse_existing_case(exc)
                    raise
                self._opening = []  # folded into the state: only read before it exists
            self._opened = True
        while self.state.state != cases.CaseStateName.CLOSED:
            await self._raise_due_rungs()
            await self._process_inbox()
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._case, memo={RUN_OPTIONS_MEMO: self._carry_over()})
            if workflow.patched(STEADY_WAIT):
                await self._wait.until(
                    lambda: self._record.changed or bool(self._inbox) or self._closed(),
                    self._wake_up_due(),
                    self._waiting_for(),
                )
            else:
                await wait_until(
                    lambda: self._record.changed or bool(self._inbox) or self._closed(),
                    self._next_wake_up(),
                    self._waiting_for(),
                )
            self._record.changed = False
        await self._process_inbox()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(
            case_number=self.state.case_number,
            state=self.state.state.value,
            events=self._record.version,
        )

    @staticmethod
    def _check_workflow_id(case: OpenCase) -> None:
        """End the run at once when its id is not ``case-<case number>`` (nothing recorded).

        The patch is asked for only when the id is wrong: a case under its own id runs the
        same commands as before (no marker); a history from before the patch whose replay id
        differs (the corpus replays under the file's name) replays without the check.
        """
        expected = case_workflow_id(case.case_number)
        if workflow.info().workflow_id != expected and workflow.patched(CASE_ID_CHECKED):
            raise ApplicationError(
                f"a case must run under workflow id {expected} (case-<its case number>), "
                "which selects its data key; start it again with that id "
                "(samverkan cases open does)",
                {"code": "wrong_workflow_id", "expected": expected},
                type=WRONG_WORKFLOW_ID,
                non_retryable=True,
            )

    @staticmethod
    def _check_age(case: OpenCase) -> None:
        """End the run at once when the young person is 21 or older on the day of receipt
        (nothing recorded). The error names the birth date field, never the date: failure
        messages are not sealed by the codec."""
        try:
            check_opening(case)
        except Rejected as exc:
            if workflow.patched(AGE_CHECKED):
                raise ApplicationError(
                    exc.message,
                    {"code": exc.code, "field": exc.field},
                    type=SUBJECT_TOO_OLD,
                    non_retryable=True,
                ) from None

    def _refuse_existing_case(self, failed: ActivityError) -> None:
        """End the run when its opening append found the case's stream already written: the
        case exists (this run is a second start of it) and is left as it is.

        Raises the non-retryable ``CaseAlreadyExists``; returns when ``failed`` is anything
        else. The summary query of this run says so instead of showing an opened case.
        """
        cause = failed.cause
        if not (
            isinstance(cause, ApplicationError)
            and cause.type == "WrongExpectedVersion"
            and workflow.patched(CASE_EXISTS_CHECKED)
        ):
            return
        self._duplicate = True
        number = self._case.case_number
        workflow.set_current_details(
            f"**Not a case run:** case {number} already exists in the event store; this "
            "start recorded nothing and ended. The case is the earlier run of this workflow id."
        )
        raise ApplicationError(
            f"case {number} already exists in the event store: this run recorded nothing "
            "and ended; the case itself is unchanged (its own run is the earlier one of "
            f"{case_workflow_id(number)})",
            {"code": "case_already_exists", "case_number": number},
            type=CASE_ALREADY_EXISTS,
            non_retryable=True,
        ) from None

    @property
    def state(self) -> CaseState:
        return self._record.current

    @property
    def _policy(self) -> Policy | None:
        return self._record.policy

    def _closed(self) -> bool:
        state = self._record.state
        return state is not None and state.state == cases.CaseStateName.CLOSED

    def _recording(self) -> RecordingPath:
        """How this run records a step with the deadlines it starts: in one append, or as
        histories recorded before patch ``samverkan-batched-appends`` did (`workflows.recording`)."""
        if workflow.patched(BATCHED_APPENDS):
            return self._record
        return self._record.before_batched_appends

    # -- updates: operator decisions ------------------------------------------------------

    @workflow.update(
        name="record_protection_assessment",
        description="Record the protection assessment (skyddsbedömning): acute or not, with reasoning.",
    )
    async def record_protection_assessment(
        self, command: RecordProtectionAssessment
    ) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @record_protection_assessment.validator
    def _validate_protection(self, command: RecordProtectionAssessment) -> None:
        self._validate(command)

    @workflow.update(
        name="decide_pre_assessment",
        description="Decide the pre-assessment (förhandsbedömning): open an investigation or not.",
    )
    async def decide_pre_assessment(self, command: DecidePreAssessment) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @decide_pre_assessment.validator
    def _validate_pre_assessment(self, command: DecidePreAssessment) -> None:
        self._validate(command)

    @workflow.update(
        name="extend_pre_assessment",
        description="Give the pre-assessment more than 14 days for very exceptional reasons (synnerliga skäl); a unit manager decides.",
    )
    async def extend_pre_assessment(self, command: ExtendPreAssessment) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @extend_pre_assessment.validator
    def _validate_pre_assessment_extension(self, command: ExtendPreAssessment) -> None:
        self._validate(command)

    @workflow.update(
        name="decide_immediate_custody",
        description="Record an immediate custody (LVU 6 §); starts the LVU 7 § week and the LVU 8 § four weeks.",
    )
    async def decide_immediate_custody(self, command: DecideImmediateCustody) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @decide_immediate_custody.validator
    def _validate_custody(self, command: DecideImmediateCustody) -> None:
        self._validate(command)

    @workflow.update(
        name="record_court_filing",
        description="The custody submitted to the administrative court (LVU 7 §) or care applied for (LVU 8 §).",
    )
    async def record_court_filing(self, command: RecordCourtFiling) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @record_court_filing.validator
    def _validate_court_filing(self, command: RecordCourtFiling) -> None:
        self._validate(command)

    @workflow.update(
        name="give_feedback",
        description="Give the mandatory reporter feedback (content, meeting offered); meets the feedback task.",
    )
    async def give_feedback(self, command: GiveFeedback) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @give_feedback.validator
    def _validate_feedback(self, command: GiveFeedback) -> None:
        self._validate(command)

    @workflow.update(
        name="record_information_given",
        description="A guardian or the young person was told the investigation opened.",
    )
    async def record_information_given(self, command: RecordInformationGiven) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @record_information_given.validator
    def _validate_information_given(self, command: RecordInformationGiven) -> None:
        self._validate(command)

    @workflow.update(
        name="record_child_views",
        description="The child's views, or why the child was not heard.",
    )
    async def record_child_views(self, command: RecordChildViews) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @record_child_views.validator
    def _validate_child_views(self, command: RecordChildViews) -> None:
        self._validate(command)

    @workflow.update(
        name="join_report",
        description="A new report about the young person joins the running investigation; no new clock.",
    )
    async def join_report(self, command: JoinReport) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @join_report.validator
    def _validate_join_report(self, command: JoinReport) -> None:
        self._validate(command)

    @workflow.update(
        name="identify_subject",
        description="Identify a child registered without a personal identity number; deadlines keep running from receipt.",
    )
    async def identify_subject(self, command: IdentifySubject) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @identify_subject.validator
    def _validate_identification(self, command: IdentifySubject) -> None:
        self._validate(command)

    @workflow.update(
        name="request_consultation",
        description="Ask another agency (school, police, Säpo, SSPF, BUP, CVE); returns the consultation id.",
    )
    async def request_consultation(self, command: RequestConsultation) -> str:
        events = await self._execute(command, actor=command.requested_by)
        requested = next(e for e in events if isinstance(e, cases.ConsultationRequested))
        async with self._lock:
            await self._start_ready_consultations(decided_by=command.requested_by)
        return requested.consultation_id

    @request_consultation.validator
    def _validate_consultation(self, command: RequestConsultation) -> None:
        self._validate(command)

    @workflow.update(
        name="extend_investigation",
        description="Extend the investigation past four months, for special reasons (SoL 11:2).",
    )
    async def extend_investigation(self, command: ExtendInvestigation) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @extend_investigation.validator
    def _validate_extension(self, command: ExtendInvestigation) -> None:
        self._validate(command)

    @workflow.update(
        name="conclude_investigation",
        description="Conclude the investigation with an outcome (intervention, none, LVU, transfer, SSPF plan).",
    )
    async def conclude_investigation(self, command: ConcludeInvestigation) -> CaseSummary:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @conclude_investigation.validator
    def _validate_conclusion(self, command: ConcludeInvestigation) -> None:
        self._validate(command)

    @workflow.update(
        name="close_case", description="Close the case; open consultations are cancelled."
    )
    async def close_case(self, command: CloseCase) -> CaseSummary:
        await workflow.wait_condition(lambda: self._opened)
        still_open = self.state.open_consultation_ids()
        await self._execute(command, actor=command.decided_by)
        await self._cancel_consultations(still_open)
        return self.summary()

    @close_case.validator
    def _validate_close(self, command: CloseCase) -> None:
        self._validate(command)

    # -- signals: notices that need no answer ---------------------------------------------

    @workflow.signal(
        name="add_information",
        description="New information about the case from an agency or person.",
    )
    def add_information(self, notice: Any) -> None:
        self._inbox.append({"signal": "add_information", "body": notice})

    @workflow.signal(
        name="consent_changed", description="Consent given or withdrawn by guardian or youth."
    )
    def consent_changed(self, notice: Any) -> None:
        self._inbox.append({"signal": "consent_changed", "body": notice})

    @workflow.signal(
        name="consultation_report",
        description="internal: sent by consultation workflows, not for operators (delivery, acknowledgement, answer, decline, escalation or expiry).",
    )
    def consultation_report(self, report: Any) -> None:
        self._inbox.append({"signal": "consultation_report", "body": report})

    # -- queries --------------------------------------------------------------------------

    @workflow.query(
        name="summary",
        description="Where the case stands: state, deadlines, open consultations, next action. No personal data.",
    )
    def summary(self) -> CaseSummary:
        if self._duplicate:
            raise ApplicationError(
                "this run is not the case: the case already existed and this start recorded "
                "nothing; query the earlier run (samverkan cases summary does)",
                type=CASE_ALREADY_EXISTS,
            )
        state = self._record.state
        if state is None:  # the opening is being recorded; deadlines come next
            state = cases.fold(self._opening)
        return CaseSummary.of(state, now=workflow.now())

    @workflow.query(
        name="timeline",
        description="The case's events without personal data (the latest 1,000 after a long life; all are in the event store).",
    )
    def timeline(self) -> list[TimelineEntry]:
        return list(self._record.timeline)

    # -- deciding and recording -----------------------------------------------------------

    def _validate(self, command: cases.Command) -> None:
        on = self._record.state if self._record.state is not None else cases.fold(self._opening)
        try:
            check_new_input(command)  # validators run on new updates only, never on replay
            check_new_decision(on, command, policy=self._record.policy)
            self._record.decide(command, on=on)
        except Rejected as exc:
            raise rejection(exc) from None

    async def _execute(self, command: cases.Command, *, actor: str) -> list[DomainEvent]:
        """Decide and record ``command`` under the case's lock; re-checked inside the lock."""
        await workflow.wait_condition(lambda: self._opened)
        async with self._lock:
            try:
                events = self._record.decide(command, feedback_task=self._feedback_task(command))
            except Rejected as exc:
                raise rejection(exc) from None
            await self._recording().record_step(events, actor=actor)
            return events

    def _feedback_task(self, command: cases.Command) -> bool:
        """Whether this pre-assessment records feedback as a task (patch ``FEEDBACK_TASK``,
        asked only for a mandatory reporter's pre-assessment)."""
        return (
            isinstance(command, DecidePreAssessment)
            and self.state.mandatory_reporter
            and workflow.patched(FEEDBACK_TASK)
        )

    # -- deadlines and escalation ---------------------------------------------------------

    def _pending_rungs(self) -> list[ScheduledRung]:
        state = self.state
        raised = set(state.escalations_raised)
        pending = [
            rung
            for rung in self._record.schedule
            if (rung.deadline_key, rung.rung_index) not in raised
            and not state.deadline_is_settled(rung.deadline_key)
        ]
        return sorted(pending, key=lambda r: (r.fire_at, r.deadline_key, r.rung_index))

    def _unbreached(self) -> list[cases.Deadline]:
        """Statutory deadlines still open and not yet recorded as breached."""
        state = self.state
        return [
            deadline
            for deadline in state.pending_deadlines()
            if deadline.kind is not DeadlineKind.CONSULTATION
            and deadline.key not in state.suspended_clocks
            and state.deadline_status.get(deadline.key, cases.DeadlineStatus()).breached_at is None
        ]

    async def _raise_due_rungs(self) -> None:
        """Record every breach and raise every rung whose time has come, each exactly once."""
        async with self._lock:
            for deadline in self._unbreached():
                if deadline.legal_latest < workflow.now():
                    command = cases.RecordBreach(deadline_key=deadline.key)
                    await self._record.record(self._record.decide(command), actor=SYSTEM_ACTOR)
            for rung in self._pending_rungs():
                if rung.fire_at > workflow.now():
                    break
                events = self._record.decide(cases.RaiseEscalation.from_rung(rung))
                await self._record.record(events, actor=SYSTEM_ACTOR)
                if events:
                    await steps.notify_escalation(self.state.case_number, rung)

    def _wake_up_due(self) -> datetime | None:
        """When the next rung fires or deadline is breached; None when nothing is due."""
        moments = [rung.fire_at for rung in self._pending_rungs()[:1]]
        moments += [d.legal_latest + timedelta(seconds=1) for d in self._unbreached()]
        return min(moments, default=None)

    def _next_wake_up(self) -> datetime:
        due = self._wake_up_due()
        return due if due is not None else workflow.now() + IDLE_WAKE_UP

    def _waiting_for(self) -> str:
        pending = self._pending_rungs()
        if not pending:
            return "next step by an operator"
        rung = pending[0]
        return f"{rung.rung_name} ({rung.deadline_key})"

    # -- consultations --------------------------------------------------------------------

    async def _start_ready_consultations(self, *, decided_by: str) -> None:
        """Deliver every requested consultation that may go out now (call under the lock).

        A consultation on the consent basis waits, its clock suspended, until consent is
        given (`cases.consultations_ready`); the answer deadline runs from delivery.
        """
        for consultation in cases.consultations_ready(self.state):
            await self._start_consultation(consultation.consultation_id, decided_by=decided_by)

    async def _start_consultation(self, consultation_id: str, *, decided_by: str) -> None:
        """Set the answer deadline, record the disclosure, and start the consultation."""
        consultation = self.state.consultations[consultation_id]
        try:
            request = cases.consultation_request(self.state, consultation_id)
        except Rejected as exc:
            workflow.logger.warning(
                "consultation not sent", extra={"consultation": consultation_id, "code": exc.code}
            )
            return
        # The record holds what the requesting officer stated with the request (its
        # statement): the workflow states nothing for anyone.
        disclosure = (
            cases.RecordDisclosure(
                consultation_id=consultation_id, decided_by=decided_by, harm_assessment=""
            )
            if request.contains_personal_data
            else None
        )
        planned = await self._recording().record_consultation_start(consultation, disclosure)
        await workflow.start_child_workflow(
            ConsultationWorkflow.run,
            ConsultationInput(
                consultation_id=consultation_id,
                case_workflow_id=workflow.info().workflow_id,
                case_number=self.state.case_number,
                agency=consultation.agency,
                legal_basis=consultation.legal_basis,
                payload=request.payload,
                contains_personal_data=request.contains_personal_data,
                disclosed_fields=list(request.fields),
                deadline=planned.deadline,
                schedule=planned.schedule,
            ),
            id=consultation_id,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=(
                f"Consultation with {consultation.agency.value} for case {self.state.case_number}"
            ),
        )

    async def _cancel_consultations(self, consultation_ids: list[str]) -> None:
        """Cancel consultations that were open when the case closed."""
        for consultation_id in consultation_ids:
            handle = workflow.get_external_workflow_handle(consultation_id)
            try:
                await handle.cancel()
            except Exception:
                workflow.logger.info(
                    "consultation already ended", extra={"consultation": consultation_id}
                )

    # -- the inbox of signals -------------------------------------------------------------

    async def _process_inbox(self) -> None:
        async with self._lock:
            while self._inbox:
                item = self._inbox.pop(0)
                outcome = cases.decide_signal(
                    self.state,
                    item["signal"],
                    item["body"],
                    now=workflow.now(),
                    policy=self._policy,
                    strict=workflow.patched(SIGNAL_FIELDS_CHECKED),
                )
                await self._record.record(outcome.events, actor=outcome.actor)
                if outcome.rung is not None:
                    await steps.notify_escalation(self.state.case_number, outcome.rung)
                if any(isinstance(e, cases.ClockResumed) for e in outcome.events):
                    await self._start_ready_consultations(decided_by=outcome.actor)

    # -- continue-as-new and presentation -------------------------------------------------

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._options.history_length_limit
        if limit is not None and info.get_current_history_length() >= limit:
            return True
        return info.is_continue_as_new_suggested()

    def _carry_over(self) -> CaseRunOptions:
        return CaseRunOptions(
            carried=CarriedCase(
                state=self.state,
                version=self._record.version,
                policy=self._record.policy_or_default(),
                schedule=self._record.schedule,
                timeline=self._record.timeline[-TIMELINE_CARRIED:],
                inbox=self._inbox,
            ),
            history_length_limit=self._options.history_length_limit,
        )
