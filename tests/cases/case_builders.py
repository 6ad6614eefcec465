"""Builders shared by the case-domain tests: a fictitious case and helpers to drive it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import cases
from cases import CaseState, DomainEvent, OpenCase, Policy
from cases.disclosure import DisclosureStatement

STHLM = cases.STOCKHOLM
T0 = datetime(2026, 3, 2, 10, 15, tzinfo=STHLM)  # a Monday


def open_case(**changes: Any) -> OpenCase:
    data = dict(cases.EXAMPLE_OPEN_CASE)
    data.update(changes)
    return OpenCase.model_validate(data)


class Case:
    """Drives decide/apply like the workflow does, keeping every event."""

    def __init__(
        self,
        *,
        mandatory_reporter: bool = True,
        policy: Policy | None = None,
        now: datetime = T0,
        **changes: Any,
    ) -> None:
        self.policy = policy or Policy.default()
        self.now = now
        self.events: list[DomainEvent] = []
        self.state: CaseState | None = None
        self.do(
            open_case(mandatory_reporter=mandatory_reporter, received_at=now.isoformat(), **changes)
        )

    def do(
        self, command: cases.Command, *, after: timedelta = timedelta(minutes=1)
    ) -> list[DomainEvent]:
        self.now += after
        events = cases.decide(self.state, command, now=self.now, policy=self.policy)
        for event in events:
            self.state = cases.apply(self.state, event)
        self.events.extend(events)
        return events

    @property
    def s(self) -> CaseState:
        assert self.state is not None
        return self.state

    def set_deadline(self, kind: cases.DeadlineKind, start: datetime, **kw: Any) -> cases.Deadline:
        deadline = cases.compute_deadline(kind, start, policy=self.policy, **kw)
        self.do(cases.RecordDeadline(deadline=deadline), after=timedelta(0))
        return deadline

    def assess(self, acute: bool = False) -> list[DomainEvent]:
        return self.do(
            cases.RecordProtectionAssessment(
                acute=acute, reasoning="no acute risk", decided_by="officer-1"
            )
        )

    def pre_assess(self, open_investigation: bool = True) -> list[DomainEvent]:
        return self.do(
            cases.DecidePreAssessment(
                open_investigation=open_investigation,
                reasons="needs investigation",
                decided_by="officer-1",
            )
        )

    def conclude(
        self, outcome: cases.InvestigationOutcome = cases.InvestigationOutcome.INTERVENTION
    ) -> list[DomainEvent]:
        return self.do(cases.ConcludeInvestigation(outcome=outcome, decided_by="officer-1"))

    def close(self) -> list[DomainEvent]:
        return self.do(cases.CloseCase(reason="done", decided_by="manager-1"))

    def ask(
        self,
        agency: cases.Agency,
        basis: cases.LegalBasis,
        questions: str = "attendance?",
        acute: bool = False,
        statement: DisclosureStatement | None = None,
    ) -> str:
        events = self.do(
            cases.RequestConsultation(
                agency=agency,
                legal_basis=basis,
                questions=questions,
                acute=acute,
                statement=statement,
                requested_by="officer-1",
            )
        )
        requested = events[0]
        assert isinstance(requested, cases.ConsultationRequested)
        return requested.consultation_id


def types(events: list[DomainEvent]) -> list[str]:
    return [e.event_type() for e in events]
