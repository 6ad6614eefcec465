"""How `CaseWorkflow` records what the domain decided: `CaseRecord`, the case as recorded.

Recording a step seals its events into envelopes (event ids from ``workflow.uuid4``, one
per event, in order), appends them to the event store in one ``append_events`` call, and
then folds them into the case's state one by one: each adds a timeline entry and counts
its metrics, and the Web UI's details and the search attributes follow the new state.
The deadlines a step starts (`cases.deadlines_at_report`, `cases.deadlines_started_by`,
`cases.consultation_deadline`) are computed with the holiday calendar in a local activity,
recorded as the domain decides `cases.RecordDeadline`, and their rungs watched.

Two paths record a step, chosen by the patch ``samverkan-batched-appends``
(docs/changing-workflows.md): `CaseRecord` itself appends a step's events and the
``DeadlineSet`` of every deadline it starts in one call; `OneAppendPerDeadline`, which
only histories recorded before the patch take, appends each ``DeadlineSet`` in a call of
its own after the step's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import cases
    from cases import (
        CaseState,
        ConsultationStatus,
        DeadlineKind,
        DeadlineToSet,
        DomainEvent,
        Policy,
        RecordDisclosure,
        ScheduledRung,
    )
    from workflows import steps
    from workflows.messages import CarriedCase, TimelineEntry
    from workflows.presentation import current_details, record_metrics, search_attribute_updates

#: Who the workflow records its own events for (deadlines, breaches, escalations).
SYSTEM_ACTOR = "system:case-workflow"
#: Who an opening is recorded for.
OPENING_ACTOR = "operator"
#: Patch id (docs/changing-workflows.md): a step's events, the ``DeadlineSet`` of every
#: deadline it starts and a consultation's disclosure are appended in one activity call
#: instead of one call each. Histories recorded before it replay `OneAppendPerDeadline`.
BATCHED_APPENDS = "samverkan-batched-appends"

#: An event with the actor it is recorded for.
Attributed = tuple[DomainEvent, str]


def attributed(events: Iterable[DomainEvent], actor: str) -> list[Attributed]:
    """``events``, each recorded for ``actor``."""
    return [(event, actor) for event in events]


class RecordingPath(Protocol):
    """How a step is recorded together with the deadlines it starts (see the module)."""

    async def record_opening(self, opening: list[DomainEvent]) -> None:
        """Record the report and the two deadlines it starts."""

    async def record_step(self, events: list[DomainEvent], *, actor: str) -> None:
        """Record a decided step's events and the deadlines they start."""

    async def record_consultation_start(
        self, consultation: ConsultationStatus, disclosure: RecordDisclosure | None
    ) -> steps.PlannedDeadline:
        """Record a consultation's answer deadline and, when personal data goes out, the
        disclosure; the planned deadline is the consultation's to watch."""


class CaseRecord:
    """The case as this workflow has recorded it: state, version, timeline, the policy in
    force and the escalation rungs it watches; the batched recording path.

    Call its recording methods under the workflow's lock: each appends at the version it
    holds.
    """

    def __init__(self, case_number: str, carried: CarriedCase | None) -> None:
        self.case_number = case_number
        self.state: CaseState | None = carried.state if carried else None
        self.version = carried.version if carried else 0
        self.policy: Policy | None = carried.policy if carried else None
        self.schedule: list[ScheduledRung] = list(carried.schedule) if carried else []
        self.timeline: list[TimelineEntry] = list(carried.timeline) if carried else []
        #: Set by every append; the workflow's main loop wakes on it and clears it.
        self.changed = False
        self._upserted: dict[str, Any] = {}
        #: The path of histories recorded before the patch.
        self.before_batched_appends = OneAppendPerDeadline(self)

    @property
    def current(self) -> CaseState:
        """The recorded state; the case must have been opened."""
        if self.state is None:
            raise ApplicationError("the case has not been opened yet", type="NotOpened")
        return self.state

    def policy_or_default(self) -> Policy:
        """The policy in force (the default until the recorded one is loaded)."""
        return self.policy if self.policy is not None else Policy.default()

    def decide(
        self, command: cases.Command, *, on: CaseState | None = None, feedback_task: bool = False
    ) -> list[DomainEvent]:
        """Decide ``command`` on the case as recorded, or ``on`` a state about to be
        (``feedback_task``: see `cases.decide`).

        Raises:
            Rejected: the case refuses the command.
        """
        state = on if on is not None else self.state
        return cases.decide(
            state, command, now=workflow.now(), policy=self.policy, feedback_task=feedback_task
        )

    # -- the batched path: each step in one append ----------------------------------------

    async def record_opening(self, opening: list[DomainEvent]) -> None:
        """Record the report and the two deadlines it starts in one append.

        Both run from receipt: they are computed before anything is recorded, from the
        opening folded on its own.
        """
        opened = cases.fold(opening)
        planned = [await self.plan(d) for d in cases.deadlines_at_report(opened)]
        recorded, _ = self.deadlines_set(planned, on=opened)
        await self.append([*attributed(opening, OPENING_ACTOR), *recorded])
        self.watch_all(planned)

    async def record_step(self, events: list[DomainEvent], *, actor: str) -> None:
        """Record ``events`` and the deadlines they start (running from now) in one append."""
        started = cases.deadlines_started_by(events, now=workflow.now())
        planned = [await self.plan(d) for d in started]
        recorded = self.deadlines_set(planned, on=self.folded(events))[0] if planned else []
        await self.append([*attributed(events, actor), *recorded])
        self.watch_all(planned)

    async def record_consultation_start(
        self, consultation: ConsultationStatus, disclosure: RecordDisclosure | None
    ) -> steps.PlannedDeadline:
        """Record the answer deadline (running from now) and the disclosure in one append.

        The disclosure is decided on the case with its deadline set.
        """
        planned = await self.plan(cases.consultation_deadline(consultation, now=workflow.now()))
        entries, with_deadline = self.deadlines_set([planned], on=self.current)
        if disclosure is not None:
            entries += attributed(self.decide(disclosure, on=with_deadline), disclosure.decided_by)
        await self.append(entries)
        self.watch(planned)
        return planned

    # -- recording ------------------------------------------------------------------------

    async def record(self, events: list[DomainEvent], *, actor: str) -> None:
        """Append ``events`` to the event store, then fold them into the state."""
        await self.append(attributed(events, actor))

    async def append(self, entries: list[Attributed]) -> None:
        """Append ``entries`` in one call, in their order, then fold them into the state.

        Nothing to append makes no call and changes nothing.
        """
        if not entries:
            return
        envelopes = [
            cases.seal(
                event,
                event_id=workflow.uuid4(),
                case_id=self.case_number,
                version=self.version + offset,
                occurred_at=workflow.now(),
                actor=actor,
            )
            for offset, (event, actor) in enumerate(entries, start=1)
        ]
        await steps.append_events(self.case_number, self.version, envelopes)
        meter = workflow.metric_meter()
        for envelope, (event, _) in zip(envelopes, entries, strict=True):
            before, self.state = self.state, cases.apply(self.state, event)
            record_metrics(meter, before, self.state, event)
            self.version = envelope.version
            self.timeline.append(
                TimelineEntry(
                    version=envelope.version,
                    type=envelope.type,
                    occurred_at=envelope.occurred_at,
                    actor=envelope.actor,
                    data=event.without_personal_data(),
                )
            )
        self.changed = True
        self.publish()

    def folded(self, events: Iterable[DomainEvent]) -> CaseState:
        """The recorded state with ``events`` folded in (nothing is recorded)."""
        state = self.current
        for event in events:
            state = cases.apply(state, event)
        return state

    # -- deadlines ------------------------------------------------------------------------

    async def plan(self, deadline: DeadlineToSet) -> steps.PlannedDeadline:
        """Compute a deadline and its rungs (a local activity); nothing is recorded yet."""
        return await steps.compute_deadline(deadline, policy=self.policy_or_default())

    def deadlines_set(
        self, planned: list[steps.PlannedDeadline], *, on: CaseState
    ) -> tuple[list[Attributed], CaseState]:
        """What recording each planned deadline ``on`` a state adds (decided by
        `cases.RecordDeadline`, for the workflow itself), and the state with them."""
        entries: list[Attributed] = []
        for deadline in planned:
            events = self.decide(cases.RecordDeadline(deadline=deadline.deadline), on=on)
            for event in events:
                on = cases.apply(on, event)
            entries += attributed(events, SYSTEM_ACTOR)
        return entries, on

    def watch(self, planned: steps.PlannedDeadline) -> None:
        """Watch ``planned``'s rungs instead of its key's old ones.

        A consultation's rungs are watched by its own workflow: here its old ones only go.
        """
        self.schedule = [r for r in self.schedule if r.deadline_key != planned.deadline.key]
        if planned.deadline.kind is not DeadlineKind.CONSULTATION:
            self.schedule += planned.schedule

    def watch_all(self, planned: Iterable[steps.PlannedDeadline]) -> None:
        """`watch` each of ``planned``, in order."""
        for deadline in planned:
            self.watch(deadline)

    # -- presentation ---------------------------------------------------------------------

    def publish(self) -> None:
        """Keep the Web UI's details and the search attributes in step with the state."""
        state = self.current
        now = workflow.now()
        pending = state.pending_deadlines()
        workflow.set_current_details(current_details(state, now=now, pending=pending))
        updates, self._upserted = search_attribute_updates(
            state, self._upserted, now=now, pending=pending
        )
        if updates:
            workflow.upsert_search_attributes(updates)


class OneAppendPerDeadline:
    """The recording path before patch ``samverkan-batched-appends``: a step's events in one
    append, then each deadline it starts in an append of its own, right after the step's.

    Only histories recorded before the patch take it; it is kept for them alone.
    """

    def __init__(self, record: CaseRecord) -> None:
        self._record = record

    async def record_opening(self, opening: list[DomainEvent]) -> None:
        """Record the report, then each deadline it starts (from receipt)."""
        await self._record.record(opening, actor=OPENING_ACTOR)
        for deadline in cases.deadlines_at_report(self._record.current):
            await self._set(deadline)

    async def record_step(self, events: list[DomainEvent], *, actor: str) -> None:
        """Record ``events``, then each deadline they start (running from after the append)."""
        await self._record.record(events, actor=actor)
        for deadline in cases.deadlines_started_by(events, now=workflow.now()):
            await self._set(deadline)

    async def record_consultation_start(
        self, consultation: ConsultationStatus, disclosure: RecordDisclosure | None
    ) -> steps.PlannedDeadline:
        """Record the answer deadline, then the disclosure (each an append)."""
        planned = await self._set(cases.consultation_deadline(consultation, now=workflow.now()))
        if disclosure is not None:
            await self._record.record(self._record.decide(disclosure), actor=disclosure.decided_by)
        return planned

    async def _set(self, deadline: DeadlineToSet) -> steps.PlannedDeadline:
        """Compute ``deadline``, record it in an append of its own, and watch its rungs."""
        planned = await self._record.plan(deadline)
        recorded = self._record.decide(cases.RecordDeadline(deadline=planned.deadline))
        await self._record.record(recorded, actor=SYSTEM_ACTOR)
        self._record.watch(planned)
        return planned
