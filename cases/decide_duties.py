"""Decisions about the acute path and the duties around an investigation (part of `decide`).

The acute path: an immediate custody under LVU 6 § (`DecideImmediateCustody`) starts the
LVU 7 § week and the LVU 8 § four weeks; the filings (`RecordCourtFiling`) meet them; a
breach of either ends the custody (LVU 9 §, `custody_lapsed`). The duties: feedback to a
mandatory reporter as a task (`GiveFeedback`), telling the guardian or the young person
that the investigation opened, the child's views, a new report joining a running
investigation without a clock of its own, and the pre-assessment's extension for very
exceptional reasons. Nothing here reads a clock: ``now`` is the workflow's.
"""

from __future__ import annotations

from datetime import datetime

from cases.commands import (
    DecideImmediateCustody,
    ExtendPreAssessment,
    GiveFeedback,
    JoinReport,
    RecordChildViews,
    RecordCourtFiling,
    RecordInformationGiven,
)
from cases.decide_deadlines import deadline_met, require_text
from cases.envelope import DomainEvent
from cases.errors import Rejected
from cases.events import (
    ChildViewsRecorded,
    CourtFilingMade,
    DeadlineBreached,
    FeedbackSent,
    ImmediateCustodyDecided,
    ImmediateCustodyLapsed,
    InformationGiven,
    PreAssessmentExtended,
    ReportJoined,
)
from cases.models import (
    CUSTODY_DEADLINES,
    CaseStateName,
    CourtFiling,
    DeadlineKind,
    Role,
)
from cases.policy import Policy
from cases.state import CaseState
from cases.workdays import local_date

S = CaseStateName
#: LVU 6 § reaches a young person who has not turned 20 (LVU 1 §, 3 §).
LVU_CUSTODY_AGE_LIMIT = 20
CUSTODY_OPEN = frozenset({S.IMMEDIATE_PROTECTION, S.PRE_ASSESSMENT, S.INVESTIGATION})
FILING_DEADLINE = {
    CourtFiling.CUSTODY_SUBMITTED: DeadlineKind.CUSTODY_SUBMISSION,
    CourtFiling.CARE_APPLIED: DeadlineKind.CARE_APPLICATION,
}
#: Who may extend the pre-assessment for very exceptional reasons.
EXTENDING_ROLES = frozenset({Role.UNIT_MANAGER, Role.HEAD_OF_DIVISION})


def immediate_custody(
    state: CaseState, command: DecideImmediateCustody, now: datetime, rules: Policy
) -> list[DomainEvent]:
    """Record an LVU 6 § decision; the workflow then sets its LVU 7 § and 8 § deadlines."""
    if state.state not in CUSTODY_OPEN:
        raise Rejected(
            "custody_not_open",
            None,
            "an immediate custody is recorded after the protection assessment and before "
            "the investigation is concluded",
        )
    if state.custody_in_force:
        raise Rejected("custody_in_force", None, "an immediate custody is already in force")
    carried_out = command.carried_out_at or command.decided_at
    if command.decided_at > now:
        raise Rejected("decided_in_future", "decided_at", "decided_at must not be in the future")
    if carried_out > now or carried_out < command.decided_at:
        raise Rejected(
            "carried_out_out_of_order",
            "carried_out_at",
            "carried_out_at must be between decided_at and now",
        )
    age = state.subject.age_on(local_date(command.decided_at))
    if age is not None and age >= LVU_CUSTODY_AGE_LIMIT:
        raise Rejected(
            "lvu_not_applicable",
            "subject.birth_date",
            f"LVU reaches only those who have not turned {LVU_CUSTODY_AGE_LIMIT}",
        )
    return [
        ImmediateCustodyDecided(
            decision_maker=command.decision_maker,
            decided_by=command.decided_by,
            decided_at=command.decided_at,
            carried_out_at=carried_out,
            legal_reference=rules.resolve("lvu_6", on=local_date(command.decided_at)),
            at=now,
        )
    ]


def court_filing(state: CaseState, command: RecordCourtFiling, now: datetime) -> list[DomainEvent]:
    """A filing with the court meets its LVU 7 § or 8 § deadline."""
    if not state.custody_in_force:
        code = "custody_lapsed" if state.custody_lapsed_key is not None else "no_custody"
        raise Rejected(code, None, "there is no immediate custody in force to file for")
    if command.filing.value in state.court_filings:
        raise Rejected("already_filed", "filing", "this filing is already recorded")
    key = FILING_DEADLINE[command.filing].value
    return [
        CourtFilingMade(filing=command.filing, decided_by=command.decided_by, at=now),
        *deadline_met(state, key, now),
    ]


def custody_lapsed(
    state: CaseState, breached: list[DomainEvent], now: datetime, rules: Policy
) -> list[DomainEvent]:
    """LVU 9 §: a custody whose LVU 7 § or 8 § deadline was breached has ended."""
    for event in breached:
        if (
            isinstance(event, DeadlineBreached)
            and event.deadline_key in CUSTODY_DEADLINES
            and state.custody_in_force
        ):
            return [
                ImmediateCustodyLapsed(
                    deadline_key=event.deadline_key,
                    legal_reference=rules.resolve("lvu_9", on=local_date(now)),
                    at=now,
                )
            ]
    return []


def feedback(
    state: CaseState, command: GiveFeedback, now: datetime, rules: Policy
) -> list[DomainEvent]:
    """The feedback task done: what the reporter was told, and whether a meeting was offered."""
    if not state.feedback_owed:
        raise Rejected("no_feedback_owed", None, "no feedback to the reporter is owed")
    require_text(command.content, "content")
    return [
        FeedbackSent(
            reporter_kind=state.reporter_kind,
            investigation_opened=state.investigation_opened_at is not None,
            legal_reference=rules.resolve("feedback_to_reporter", on=local_date(now)),
            content=command.content,
            meeting_offered=command.meeting_offered,
            decided_by=command.decided_by,
            at=now,
        ),
        *deadline_met(state, DeadlineKind.FEEDBACK_TO_REPORTER.value, now),
    ]


def information_given(
    state: CaseState, command: RecordInformationGiven, now: datetime
) -> list[DomainEvent]:
    """A guardian or the young person was told the investigation opened (once each)."""
    if state.investigation_opened_at is None:
        raise Rejected("no_investigation", None, "no investigation has been opened")
    if command.party.value in state.informed_parties:
        raise Rejected("already_informed", "party", "this party's information is recorded")
    return [InformationGiven(party=command.party, decided_by=command.decided_by, at=now)]


def child_views(state: CaseState, command: RecordChildViews, now: datetime) -> list[DomainEvent]:
    """The child's views, or why the child was not heard: exactly one of them."""
    if state.state is not S.INVESTIGATION:
        raise Rejected("no_open_investigation", None, "there is no open investigation")
    if (command.views is None) == (command.reason_not_heard is None):
        raise Rejected(
            "views_or_reason",
            "views",
            "give either views (the child's views) or reason_not_heard, not both",
        )
    if command.views is not None:
        require_text(command.views, "views")
    if command.reason_not_heard is not None:
        require_text(command.reason_not_heard, "reason_not_heard")
    return [
        ChildViewsRecorded(
            heard=command.views is not None,
            views=command.views,
            reason_not_heard=command.reason_not_heard,
            decided_by=command.decided_by,
            at=now,
        )
    ]


def join_report(state: CaseState, command: JoinReport, now: datetime) -> list[DomainEvent]:
    """A new report joins the running investigation: recorded, no clock of its own."""
    if state.state is not S.INVESTIGATION:
        raise Rejected(
            "no_open_investigation",
            None,
            "a report joins only a running investigation; otherwise open a case for it",
        )
    if command.received_at > now:
        raise Rejected("received_in_future", "received_at", "received_at must not be in the future")
    require_text(command.summary, "summary")
    return [
        ReportJoined(
            report_number=state.joined_reports + 2,
            received_at=command.received_at,
            reporter_kind=command.reporter_kind,
            mandatory_reporter=command.mandatory_reporter,
            channel=command.channel,
            concern_category=command.concern_category,
            summary=command.summary,
            decided_by=command.decided_by,
            at=now,
        )
    ]


def extend_pre_assessment(
    state: CaseState, command: ExtendPreAssessment, now: datetime
) -> list[DomainEvent]:
    """More time for the pre-assessment for very exceptional reasons, by a unit manager."""
    if state.state is S.IMMEDIATE_PROTECTION:
        raise Rejected(
            "acute_no_extension",
            None,
            "after an acute protection assessment the investigation opens at once",
        )
    if state.state is not S.PRE_ASSESSMENT:
        raise Rejected("no_pre_assessment", None, "there is no pre-assessment under way")
    if command.decided_by_role not in EXTENDING_ROLES:
        raise Rejected(
            "unit_manager_required",
            "decided_by_role",
            "a unit manager (or head of division) decides the extension",
        )
    require_text(command.reasons, "reasons")
    current = state.deadlines.get(DeadlineKind.PRE_ASSESSMENT.value)
    if current is not None and command.until <= local_date(current.target):
        raise Rejected(
            "extension_not_later", "until", "until must be after the pre-assessment's last day"
        )
    return [
        PreAssessmentExtended(
            until=command.until,
            reasons=command.reasons,
            decided_by=command.decided_by,
            decided_by_role=command.decided_by_role,
            late=current is not None and now > current.legal_latest,
            at=now,
        )
    ]
