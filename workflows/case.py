"""`CaseWorkflow`: one report of concern's path through social services, as the law sets it.

A case opens on a report (``OpenCase``), is assessed for protection the same day, gets a
pre-assessment within 14 days, maybe an investigation within four months, and closes.
Every step is decided by `cases.decide`, appended to the event store through the
``append_events`` activity, and folded with `cases.apply`; the same fold builds the
read models in PostgreSQL. Every statutory deadline is computed in a local activity (so
replay never depends on the holiday calendar's version), recorded as ``DeadlineSet``,
and watched by one durable timer loop that raises each escalation rung exactly once.

Operators act through validated updates (a rejected one leaves no trace in history);
agencies' notices arrive as signals; consultations run as child workflows that report
back by signal, so they outlive a run that continues as new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import cases
    from cases import (
        CaseState,
        CloseCase,
        ConcludeInvestigation,
        DeadlineKind,
        DecidePreAssessment,
        DomainEvent,
        ExtendInvestigation,
        OpenCase,
        Policy,
        RecordProtectionAssessment,
        Rejected,
        RequestConsultation,
        ScheduledRung,
    )
    from workflows import steps
    from workflows.consultation import ConsultationWorkflow
    from workflows.messages import (
        CarriedCase,
        CaseResult,
        CaseRunOptions,
        ConsultationInput,
        TimelineEntry,
    )
    from workflows.presentation import current_details, record_metrics, search_attribute_updates
    from workflows.waiting import wait_until

SYSTEM_ACTOR = "system:case-workflow"
#: Memo key of `CaseRunOptions`: what a continued run carries; operators never set it.
RUN_OPTIONS_MEMO = "samverkan_run_options"
IDLE_WAKE_UP = timedelta(days=30)
#: Timeline entries a continued run carries (payloads have a size limit); the whole case
#: file is always in the event store.
TIMELINE_CARRIED = 1_000
#: Patch id (docs/changing-workflows.md): a step's events, the ``DeadlineSet`` of every
#: deadline it starts and a consultation's disclosure are appended in one activity call
#: instead of one call each. Histories recorded before it replay the one-call-each path.
BATCHED_APPENDS = "samverkan-batched-appends"

#: An event with the actor it is recorded for.
Attributed = tuple[DomainEvent, str]


def attributed(events: Iterable[DomainEvent], actor: str) -> list[Attributed]:
    """``events``, each recorded for ``actor``."""
    return [(event, actor) for event in events]


def deadlines_set(planned: Iterable[steps.PlannedDeadline]) -> list[Attributed]:
    """A ``DeadlineSet`` for each planned deadline, recorded by the workflow itself."""
    return attributed((cases.DeadlineSet(deadline=p.deadline) for p in planned), SYSTEM_ACTOR)


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
        self._state: CaseState | None = carried.state if carried else None
        self._version = carried.version if carried else 0
        self._policy: Policy | None = carried.policy if carried else None
        self._schedule: list[ScheduledRung] = list(carried.schedule) if carried else []
        self._timeline: list[TimelineEntry] = list(carried.timeline) if carried else []
        self._inbox: list[dict[str, Any]] = list(carried.inbox) if carried else []
        # The opening is decided now so that updates arriving with the start are validated
        # against the opened case; `run` records it before any handler may act.
        self._opening = [] if carried else self._open(case)
        self._opened = carried is not None
        self._lock = asyncio.Lock()
        self._changed = False
        self._upserted: dict[str, Any] = {}

    @staticmethod
    def _open(case: OpenCase) -> list[DomainEvent]:
        try:
            return cases.decide(None, case, now=workflow.now())
        except Rejected as exc:
            raise rejection(exc) from None

    # -- the run --------------------------------------------------------------------------

    @workflow.run
    async def run(self, case: OpenCase) -> CaseResult:
        if self._policy is None:
            self._policy = await steps.load_policy()
        if not self._opened:
            async with self._lock:
                await self._record_opening()
                self._opening = []  # folded into the state: only read before it exists
            self._opened = True
        while self.state.state != cases.CaseStateName.CLOSED:
            await self._raise_due_rungs()
            await self._process_inbox()
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._case, memo={RUN_OPTIONS_MEMO: self._carry_over()})
            await wait_until(
                lambda: self._changed or bool(self._inbox) or self._closed(),
                self._next_wake_up(),
                self._waiting_for(),
            )
            self._changed = False
        await self._process_inbox()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CaseResult(
            case_number=self.state.case_number, state=self.state.state.value, events=self._version
        )

    @property
    def state(self) -> CaseState:
        if self._state is None:
            raise ApplicationError("the case has not been opened yet", type="NotOpened")
        return self._state

    def _closed(self) -> bool:
        return self._state is not None and self._state.state == cases.CaseStateName.CLOSED

    # -- updates: operator decisions ------------------------------------------------------

    @workflow.update(
        name="record_protection_assessment",
        description="Record the protection assessment (skyddsbedömning): acute or not, with reasoning.",
    )
    async def record_protection_assessment(
        self, command: RecordProtectionAssessment
    ) -> dict[str, Any]:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @record_protection_assessment.validator
    def _validate_protection(self, command: RecordProtectionAssessment) -> None:
        self._validate(command)

    @workflow.update(
        name="decide_pre_assessment",
        description="Decide the pre-assessment (förhandsbedömning): open an investigation or not.",
    )
    async def decide_pre_assessment(self, command: DecidePreAssessment) -> dict[str, Any]:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @decide_pre_assessment.validator
    def _validate_pre_assessment(self, command: DecidePreAssessment) -> None:
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
    async def extend_investigation(self, command: ExtendInvestigation) -> dict[str, Any]:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @extend_investigation.validator
    def _validate_extension(self, command: ExtendInvestigation) -> None:
        self._validate(command)

    @workflow.update(
        name="conclude_investigation",
        description="Conclude the investigation with an outcome (intervention, none, LVU, transfer, SSPF plan).",
    )
    async def conclude_investigation(self, command: ConcludeInvestigation) -> dict[str, Any]:
        await self._execute(command, actor=command.decided_by)
        return self.summary()

    @conclude_investigation.validator
    def _validate_conclusion(self, command: ConcludeInvestigation) -> None:
        self._validate(command)

    @workflow.update(
        name="close_case", description="Close the case; open consultations are cancelled."
    )
    async def close_case(self, command: CloseCase) -> dict[str, Any]:
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
        description="A consultation reports delivery, acknowledgement, answer, decline, escalation or expiry.",
    )
    def consultation_report(self, report: Any) -> None:
        self._inbox.append({"signal": "consultation_report", "body": report})

    # -- queries --------------------------------------------------------------------------

    @workflow.query(
        name="summary",
        description="Where the case stands: state, deadlines, open consultations, next action. No personal data.",
    )
    def summary(self) -> dict[str, Any]:
        if self._state is None:  # the opening is being recorded; deadlines come next
            return cases.fold(self._opening).to_summary(now=workflow.now())
        return self._state.to_summary(now=workflow.now())

    @workflow.query(
        name="timeline",
        description="The case's events without personal data (the latest 1,000 after a long life; all are in the event store).",
    )
    def timeline(self) -> list[TimelineEntry]:
        return list(self._timeline)

    # -- deciding and recording -----------------------------------------------------------

    def _validate(self, command: cases.Command) -> None:
        state = self._state if self._state is not None else cases.fold(self._opening)
        try:
            cases.decide(state, command, now=workflow.now(), policy=self._policy)
        except Rejected as exc:
            raise rejection(exc) from None

    async def _execute(self, command: cases.Command, *, actor: str) -> list[DomainEvent]:
        """Decide and record ``command`` under the case's lock; re-checked inside the lock."""
        await workflow.wait_condition(lambda: self._opened)
        async with self._lock:
            try:
                events = cases.decide(self._state, command, now=workflow.now(), policy=self._policy)
            except Rejected as exc:
                raise rejection(exc) from None
            if workflow.patched(BATCHED_APPENDS):
                planned = await self._plan_deadlines_after(events)
                await self._record_with_deadlines(attributed(events, actor), planned)
            else:
                await self._record(events, actor=actor)
                await self._set_deadlines_after(events)
            return events

    async def _record(self, events: list[DomainEvent], *, actor: str) -> None:
        """Append ``events`` to the event store, then fold them into the workflow's state."""
        await self._record_attributed(attributed(events, actor))

    async def _record_attributed(self, entries: list[Attributed]) -> None:
        """Append ``entries`` in one call, in their order, then fold them into the state."""
        if not entries:
            return
        envelopes = [
            cases.seal(
                event,
                event_id=workflow.uuid4(),
                case_id=self._case.case_number,
                version=self._version + offset,
                occurred_at=workflow.now(),
                actor=actor,
            )
            for offset, (event, actor) in enumerate(entries, start=1)
        ]
        await steps.append_events(self._case.case_number, self._version, envelopes)
        meter = workflow.metric_meter()
        for envelope, (event, _) in zip(envelopes, entries, strict=True):
            before, self._state = self._state, cases.apply(self._state, event)
            record_metrics(meter, before, self._state, event)
            self._version = envelope.version
            self._timeline.append(
                TimelineEntry(
                    version=envelope.version,
                    type=envelope.type,
                    occurred_at=envelope.occurred_at,
                    actor=envelope.actor,
                    data=event.without_personal_data(),
                )
            )
        self._changed = True
        self._publish()

    # -- deadlines and escalation ---------------------------------------------------------

    async def _record_opening(self) -> None:
        """Record the report and the two deadlines it starts: protection, pre-assessment.

        Both run from receipt. They are computed before anything is recorded (from the
        opening folded on its own) and go out in the opening's append.
        """
        if not workflow.patched(BATCHED_APPENDS):
            await self._record(self._opening, actor="operator")
            await self._set_deadlines_after_report()
            return
        received_at = cases.fold(self._opening).received_at
        planned = [
            await self._plan_deadline(DeadlineKind.PROTECTION_ASSESSMENT, received_at),
            await self._plan_deadline(DeadlineKind.PRE_ASSESSMENT, received_at),
        ]
        await self._record_with_deadlines(attributed(self._opening, "operator"), planned)

    async def _plan_deadlines_after(self, events: list[DomainEvent]) -> list[steps.PlannedDeadline]:
        """The deadlines ``events`` start, running from now: an opened or extended investigation."""
        planned = []
        for event in events:
            if isinstance(event, cases.InvestigationOpened):
                planned.append(
                    await self._plan_deadline(DeadlineKind.INVESTIGATION, workflow.now())
                )
            elif isinstance(event, cases.InvestigationExtended):
                planned.append(
                    await self._plan_deadline(
                        DeadlineKind.INVESTIGATION, workflow.now(), until=event.until
                    )
                )
        return planned

    async def _plan_deadline(
        self,
        kind: DeadlineKind,
        start: datetime,
        *,
        until: Any = None,
        agency: cases.Agency | None = None,
        acute: bool = False,
        key: str | None = None,
    ) -> steps.PlannedDeadline:
        """Compute a deadline and its rungs (a local activity); nothing is recorded yet."""
        return await steps.compute_deadline(
            kind,
            start,
            policy=self._policy_or_default(),
            agency=agency,
            acute=acute,
            key=key,
            until=until,
        )

    async def _record_with_deadlines(
        self, entries: list[Attributed], planned: list[steps.PlannedDeadline]
    ) -> None:
        """Append ``entries`` and then a ``DeadlineSet`` per planned deadline in one call."""
        await self._record_attributed([*entries, *deadlines_set(planned)])
        for deadline in planned:
            self._watch(deadline)

    def _watch(self, planned: steps.PlannedDeadline) -> None:
        """Watch ``planned``'s rungs instead of its key's old ones.

        A consultation's rungs are watched by its own workflow: here its old ones only go.
        """
        self._schedule = [r for r in self._schedule if r.deadline_key != planned.deadline.key]
        if planned.deadline.kind is not DeadlineKind.CONSULTATION:
            self._schedule += planned.schedule

    # Before BATCHED_APPENDS: each DeadlineSet in an append of its own, right after the
    # step's (only histories recorded before the patch take these).

    async def _set_deadlines_after_report(self) -> None:
        state = self.state
        await self._set_deadline(DeadlineKind.PROTECTION_ASSESSMENT, state.received_at)
        await self._set_deadline(DeadlineKind.PRE_ASSESSMENT, state.received_at)

    async def _set_deadlines_after(self, events: list[DomainEvent]) -> None:
        for event in events:
            if isinstance(event, cases.InvestigationOpened):
                await self._set_deadline(DeadlineKind.INVESTIGATION, workflow.now())
            elif isinstance(event, cases.InvestigationExtended):
                await self._set_deadline(
                    DeadlineKind.INVESTIGATION, workflow.now(), until=event.until
                )

    async def _set_deadline(
        self,
        kind: DeadlineKind,
        start: datetime,
        *,
        until: Any = None,
        agency: cases.Agency | None = None,
        acute: bool = False,
        key: str | None = None,
    ) -> steps.PlannedDeadline:
        planned = await self._plan_deadline(
            kind, start, until=until, agency=agency, acute=acute, key=key
        )
        await self._record_attributed(deadlines_set([planned]))
        self._watch(planned)
        return planned

    def _policy_or_default(self) -> Policy:
        return self._policy if self._policy is not None else Policy.default()

    def _pending_rungs(self) -> list[ScheduledRung]:
        state = self.state
        raised = set(state.escalations_raised)
        pending = [
            rung
            for rung in self._schedule
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
                    await self._record(self._decide(command), actor=SYSTEM_ACTOR)
            for rung in self._pending_rungs():
                if rung.fire_at > workflow.now():
                    break
                events = self._decide(cases.RaiseEscalation.from_rung(rung))
                await self._record(events, actor=SYSTEM_ACTOR)
                if events:
                    await steps.notify_escalation(self.state.case_number, rung)

    def _decide(self, command: cases.Command, *, on: CaseState | None = None) -> list[DomainEvent]:
        """Decide ``command`` on the case as recorded, or ``on`` a state about to be."""
        state = on if on is not None else self._state
        return cases.decide(state, command, now=workflow.now(), policy=self._policy)

    def _next_wake_up(self) -> datetime:
        moments = [rung.fire_at for rung in self._pending_rungs()[:1]]
        moments += [d.legal_latest + timedelta(seconds=1) for d in self._unbreached()]
        return min(moments, default=workflow.now() + IDLE_WAKE_UP)

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
        given; the answer deadline runs from delivery. A consultation starts once: its
        answer deadline in the state is the mark that it has.
        """
        state = self.state
        for consultation in list(state.open_consultations()):
            key = f"consultation:{consultation.consultation_id}"
            if key in state.deadlines or key in state.suspended_clocks:
                continue
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
        disclosure = cases.RecordDisclosure(
            consultation_id=consultation_id,
            decided_by=decided_by,
            harm_assessment="no harm found at request (SoL 26:1 menprövning by the requester)",
        )
        key = f"consultation:{consultation_id}"
        if workflow.patched(BATCHED_APPENDS):
            planned = await self._plan_deadline(
                DeadlineKind.CONSULTATION,
                workflow.now(),
                agency=consultation.agency,
                acute=consultation.acute,
                key=key,
            )
            deadline_set = cases.DeadlineSet(deadline=planned.deadline)
            entries: list[Attributed] = [(deadline_set, SYSTEM_ACTOR)]
            if request.contains_personal_data:  # decided on the case with its deadline set
                with_deadline = cases.apply(self.state, deadline_set)
                entries += attributed(self._decide(disclosure, on=with_deadline), decided_by)
            await self._record_attributed(entries)
            self._watch(planned)
        else:
            planned = await self._set_deadline(
                DeadlineKind.CONSULTATION,
                workflow.now(),
                agency=consultation.agency,
                acute=consultation.acute,
                key=key,
            )
            if request.contains_personal_data:
                await self._record(self._decide(disclosure), actor=decided_by)
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
                events = steps.events_for_signal(
                    self.state, item, now=workflow.now(), policy=self._policy
                )
                await self._record(events.events, actor=events.actor)
                if events.rung is not None:
                    await steps.notify_escalation(self.state.case_number, events.rung)
                if any(isinstance(e, cases.ClockResumed) for e in events.events):
                    await self._start_ready_consultations(decided_by=events.actor)

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
                version=self._version,
                policy=self._policy_or_default(),
                schedule=self._schedule,
                timeline=self._timeline[-TIMELINE_CARRIED:],
                inbox=self._inbox,
            ),
            history_length_limit=self._options.history_length_limit,
        )

    def _publish(self) -> None:
        """Keep the Web UI's details and the search attributes in step with the state."""
        state = self.state
        now = workflow.now()
        pending = state.pending_deadlines()
        workflow.set_current_details(current_details(state, now=now, pending=pending))
        updates, self._upserted = search_attribute_updates(
            state, self._upserted, now=now, pending=pending
        )
        if updates:
            workflow.upsert_search_attributes(updates)
