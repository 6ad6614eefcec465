"""``decide(state, command) -> events``: what the law and the state of a case allow.

`decide` never changes anything: it answers with the events a command causes, or raises
`Rejected` naming the rule. It reads no clock (``now`` is the workflow's) and computes no
deadline (the workflow computes those in a local activity and records `RecordDeadline`).
"""

from __future__ import annotations

from datetime import datetime

from cases.access import disclosure_for
from cases.commands import (
    AcknowledgeConsultation,
    AddInformation,
    AnswerConsultation,
    ChangeConsent,
    CloseCase,
    Command,
    ConcludeInvestigation,
    DecideImmediateCustody,
    DecidePreAssessment,
    DeclineConsultation,
    ExtendInvestigation,
    ExtendPreAssessment,
    GiveFeedback,
    IdentifySubject,
    JoinReport,
    RaiseEscalation,
    RecordBreach,
    RecordChildViews,
    RecordCourtFiling,
    RecordDeadline,
    RecordDelivery,
    RecordDisclosure,
    RecordInformationGiven,
    RecordProtectionAssessment,
    ReportConsultationOutcome,
    RequestConsultation,
    StartFollowUp,
)
from cases.decide_consultations import (
    addressed_consultation,
    answered,
    consent_changed,
    consultation_outcome,
    consultation_requested,
    delivered,
)
from cases.decide_deadlines import breach, deadline_met, escalate, record_deadline, require_text
from cases.decide_duties import (
    child_views,
    court_filing,
    custody_lapsed,
    extend_pre_assessment,
    feedback,
    immediate_custody,
    information_given,
    join_report,
)
from cases.envelope import DomainEvent
from cases.errors import Rejected
from cases.events import (
    CaseClosed,
    ConsultationAcknowledged,
    ConsultationDeclined,
    ConsultationExpired,
    ExpiryCause,
    FeedbackDue,
    FeedbackSent,
    FollowUpStarted,
    InformationAdded,
    InvestigationConcluded,
    InvestigationDeclined,
    InvestigationExtended,
    InvestigationOpened,
    ProtectionAssessed,
    ReportReceived,
    SubjectIdentified,
)
from cases.models import (
    ADULT_AGE,
    LVU_3_AGE_LIMIT,
    AgePath,
    CaseStateName,
    ConsultationStatusName,
    DeadlineKind,
    OpenCase,
    Subject,
    YoungAdultBasis,
)
from cases.policy import Policy
from cases.state import CaseState
from cases.workdays import add_months, local_date

S = CaseStateName
PROTECTION_PENDING = frozenset({S.RECEIVED, S.PROTECTION_ASSESSMENT})
PRE_ASSESSMENT_OPEN = frozenset({S.PRE_ASSESSMENT, S.IMMEDIATE_PROTECTION})
CONSENT_WAIT = "waiting_for_consent"


def decide(
    state: CaseState | None,
    command: Command,
    *,
    now: datetime,
    policy: Policy | None = None,
    feedback_task: bool = False,
) -> list[DomainEvent]:
    """The events ``command`` causes in a case at ``now``.

    ``state`` is None only for `OpenCase`. ``policy`` defaults to `Policy.default`.
    ``feedback_task``: a pre-assessment for a mandatory reporter records `FeedbackDue`
    (a task with its deadline, done by `GiveFeedback`) instead of `FeedbackSent` at once
    (the case workflow's patch ``samverkan-feedback-task``; histories before it replay
    with False).

    Raises:
        Rejected: the state or the law does not allow the command; the message names the
            field or rule, never a value.
    """
    rules = policy or Policy.default()
    if state is None:
        if isinstance(command, OpenCase):
            return [_report_received(command, now)]
        raise Rejected("case_not_opened", None, "the case has not been opened")
    if isinstance(command, OpenCase):
        raise Rejected("case_already_opened", "case_number", "the case is already open")
    if state.state is S.CLOSED:
        raise Rejected("case_closed", None, "the case is closed and takes no more commands")
    return _decide_open(state, command, now, rules, feedback_task=feedback_task)


ADULT_REFUSAL = (
    f"subject.birth_date: the young person is {ADULT_AGE} or older on the day the report was "
    "received; reports of concern here are about children and young people under 21 "
    "(LVU 1 § and 3 §, OSL 10:18 a)"
)
"""The refusal of a report about someone 21 or older: names the field, never the date."""


def check_opening(case: OpenCase) -> None:
    """Refuse to open a case about someone 21 or older on the day the report was received.

    The case workflow calls it before recording anything (a refused start ends at once);
    `decide` itself does not, so histories recorded before the check still replay.

    Raises:
        Rejected: ``subject_21_or_older`` naming ``subject.birth_date`` (not its value).
    """
    _refuse_adult(case.subject, case.received_at)


def _refuse_adult(subject: Subject, received_at: datetime) -> None:
    if subject.age_path(local_date(received_at)) is None:
        raise Rejected("subject_21_or_older", "subject.birth_date", ADULT_REFUSAL)


def check_new_decision(state: CaseState, command: Command, *, policy: Policy | None = None) -> None:
    """Rules that bind new decisions only (the case workflow's update validators call it;
    validators never run on replay, so decisions recorded before a rule still replay).

    Raises:
        Rejected: an investigation of an 18-to-20-year-old opened without
            ``young_adult_basis`` (the young person's consent, or LVU 3 §), or a basis given
            for a child; a decision not to investigate after an acute protection assessment
            or while an immediate custody is in force; an investigation concluded without
            the child's views (or why not heard), for a case received on or after
            ``policy.duties.child_views_required_from``.
    """
    rules = policy or Policy.default()
    acute = bool(state.protection_acute) or state.custody_in_force
    if isinstance(command, DecidePreAssessment) and not command.open_investigation and acute:
        raise Rejected(
            "acute_requires_investigation",
            "open_investigation",
            "the protection assessment was acute (or an immediate custody is in force): "
            "the investigation opens at once (open_investigation: true)",
        )
    if (
        isinstance(command, ConcludeInvestigation)
        and not state.child_views_recorded
        and local_date(state.received_at) >= rules.duties.child_views_required_from
    ):
        raise Rejected(
            "child_views_required",
            "views",
            "record the child's views, or why the child was not heard (record_child_views), "
            "before concluding the investigation",
        )
    if isinstance(command, DecidePreAssessment) and command.open_investigation:
        young_adult = state.age_path is AgePath.YOUNG_ADULT
        if young_adult and command.young_adult_basis is None:
            raise Rejected(
                "young_adult_basis_required",
                "young_adult_basis",
                "the young person is 18, 19 or 20: an investigation needs their consent "
                "(young_adult_basis: consent) unless care under LVU 3 § may apply "
                "(young_adult_basis: lvu_3)",
            )
        age = state.subject.age_on(local_date(state.received_at))
        lvu_3 = command.young_adult_basis is YoungAdultBasis.LVU_3
        if young_adult and lvu_3 and age is not None and age >= LVU_3_AGE_LIMIT:
            raise Rejected(
                "lvu_3_not_applicable",
                "young_adult_basis",
                f"LVU 3 § reaches only those who have not turned {LVU_3_AGE_LIMIT} "
                "(LVU 1 § third paragraph): the investigation needs the young person's consent",
            )
        if not young_adult and command.young_adult_basis is not None:
            raise Rejected(
                "young_adult_basis_not_applicable",
                "young_adult_basis",
                "young_adult_basis applies only to a young person of 18, 19 or 20",
            )


def _identify(state: CaseState, command: IdentifySubject, now: datetime) -> list[DomainEvent]:
    if state.subject.identified:
        raise Rejected(
            "subject_already_identified",
            "subject",
            "the young person is already identified",
        )
    if not command.subject.identified:
        raise Rejected(
            "subject_not_identified",
            "subject.personal_identity_number",
            "subject.personal_identity_number is required to identify the young person",
        )
    _refuse_adult(command.subject, state.received_at)
    return [SubjectIdentified(subject=command.subject, decided_by=command.decided_by, at=now)]


def _decide_open(
    state: CaseState, command: Command, now: datetime, rules: Policy, *, feedback_task: bool
) -> list[DomainEvent]:
    match command:
        case RecordProtectionAssessment():
            return _protection(state, command, now)
        case DecidePreAssessment():
            return _pre_assessment(state, command, now, rules, feedback_task=feedback_task)
        case DecideImmediateCustody():
            return immediate_custody(state, command, now, rules)
        case RecordCourtFiling():
            return court_filing(state, command, now)
        case GiveFeedback():
            return feedback(state, command, now, rules)
        case RecordInformationGiven():
            return information_given(state, command, now)
        case RecordChildViews():
            return child_views(state, command, now)
        case JoinReport():
            return join_report(state, command, now)
        case ExtendPreAssessment():
            return extend_pre_assessment(state, command, now)
        case IdentifySubject():
            return _identify(state, command, now)
        case ExtendInvestigation():
            return _extend(state, command, now, rules)
        case ConcludeInvestigation():
            _require_investigation(state)
            return [
                InvestigationConcluded(
                    outcome=command.outcome, decided_by=command.decided_by, at=now
                ),
                *deadline_met(state, DeadlineKind.INVESTIGATION.value, now),
            ]
        case StartFollowUp():
            if state.state is not S.DECIDED:
                raise Rejected("not_decided", None, "follow-up starts only after a decision")
            return [FollowUpStarted(decided_by=command.decided_by, at=now)]
        case CloseCase():
            return _close(state, command, now)
        case RequestConsultation():
            return consultation_requested(state, command, now)
        case AcknowledgeConsultation():
            c = addressed_consultation(state, command.agency, command.consultation_id)
            if c.status is ConsultationStatusName.ACKNOWLEDGED:
                raise Rejected(
                    "already_acknowledged", "agency", "the consultation is already acknowledged"
                )
            return [
                ConsultationAcknowledged(consultation_id=c.consultation_id, agency=c.agency, at=now)
            ]
        case AnswerConsultation():
            c = addressed_consultation(state, command.agency, command.consultation_id)
            return answered(state, c, command.answer, now)
        case DeclineConsultation():
            c = addressed_consultation(state, command.agency, command.consultation_id)
            require_text(command.reason, "reason")
            return [
                ConsultationDeclined(
                    consultation_id=c.consultation_id,
                    agency=c.agency,
                    reason=command.reason,
                    at=now,
                ),
                *deadline_met(state, f"consultation:{c.consultation_id}", now),
            ]
        case ReportConsultationOutcome():
            return consultation_outcome(state, command, now)
        case RecordDelivery():
            return delivered(state, command, now)
        case AddInformation():
            require_text(command.information, "information")
            return [
                InformationAdded(source=command.source, information=command.information, at=now)
            ]
        case ChangeConsent():
            return consent_changed(state, command, now)
        case RecordDeadline():
            return record_deadline(state, command)
        case RaiseEscalation():
            return escalate(state, command, now)
        case RecordBreach():
            breached = breach(state, command, now)
            return [*breached, *custody_lapsed(state, breached, now, rules)]
        case RecordDisclosure():
            _, record = disclosure_for(
                state,
                command.consultation_id,
                decided_by=command.decided_by,
                harm_assessment=command.harm_assessment,
                now=now,
                harm_found=command.harm_found,
                policy=rules,
            )
            return [record] if record is not None else []
    raise Rejected("unknown_command", None, "this command is not part of the case domain")


# -- helpers ------------------------------------------------------------------------------


def _report_received(command: OpenCase, now: datetime) -> ReportReceived:
    return ReportReceived(
        case_number=command.case_number,
        municipality=command.municipality,
        received_at=command.received_at,
        reporter_kind=command.reporter_kind,
        mandatory_reporter=command.mandatory_reporter,
        channel=command.channel,
        subject=command.subject,
        concern_category=command.concern_category,
        summary=command.summary,
        urgent=command.urgent,
        at=now,
    )


def _protection(
    state: CaseState, command: RecordProtectionAssessment, now: datetime
) -> list[DomainEvent]:
    if state.state not in PROTECTION_PENDING:
        raise Rejected(
            "protection_assessment_already_recorded",
            None,
            "the protection assessment has already been recorded",
        )
    require_text(command.reasoning, "reasoning")
    return [
        ProtectionAssessed(
            acute=command.acute, reasoning=command.reasoning, decided_by=command.decided_by, at=now
        ),
        *deadline_met(state, DeadlineKind.PROTECTION_ASSESSMENT.value, now),
    ]


def _pre_assessment(
    state: CaseState,
    command: DecidePreAssessment,
    now: datetime,
    rules: Policy,
    *,
    feedback_task: bool = False,
) -> list[DomainEvent]:
    if state.state in PROTECTION_PENDING:
        raise Rejected(
            "protection_assessment_pending",
            None,
            "the protection assessment must be recorded before the pre-assessment",
        )
    if state.state not in PRE_ASSESSMENT_OPEN:
        raise Rejected(
            "pre_assessment_already_decided", None, "the pre-assessment has already been decided"
        )
    require_text(command.reasons, "reasons")
    decision: DomainEvent
    if command.open_investigation:
        decision = InvestigationOpened(
            reasons=command.reasons,
            decided_by=command.decided_by,
            young_adult_basis=(
                command.young_adult_basis if state.age_path is AgePath.YOUNG_ADULT else None
            ),
            at=now,
        )
    else:
        decision = InvestigationDeclined(
            reasons=command.reasons, decided_by=command.decided_by, at=now
        )
    events: list[DomainEvent] = [
        decision,
        *deadline_met(state, DeadlineKind.PRE_ASSESSMENT.value, now),
    ]
    if state.mandatory_reporter and feedback_task:
        events.append(
            FeedbackDue(
                reporter_kind=state.reporter_kind,
                investigation_opened=command.open_investigation,
                legal_reference=rules.resolve("feedback_to_reporter", on=local_date(now)),
                at=now,
            )
        )
    elif state.mandatory_reporter:
        events.append(
            FeedbackSent(
                reporter_kind=state.reporter_kind,
                investigation_opened=command.open_investigation,
                legal_reference=rules.resolve("feedback_to_reporter", on=local_date(now)),
                at=now,
            )
        )
    return events


def _require_investigation(state: CaseState) -> None:
    if state.state is not S.INVESTIGATION:
        raise Rejected("no_open_investigation", None, "there is no open investigation")


def _extend(
    state: CaseState, command: ExtendInvestigation, now: datetime, rules: Policy
) -> list[DomainEvent]:
    _require_investigation(state)
    require_text(command.reasons, "reasons")
    limits = rules.extension
    if state.extension_count >= limits.max_extensions:
        raise Rejected(
            "too_many_extensions",
            None,
            f"the policy allows at most {limits.max_extensions} extensions",
        )
    opened = local_date(state.investigation_opened_at or now)
    current = state.deadlines.get(DeadlineKind.INVESTIGATION.value)
    current_day = (
        local_date(current.target)
        if current is not None
        else state.investigation_extended_until
        or add_months(opened, rules.time_limits.investigation_months)
    )
    if command.until <= current_day:
        raise Rejected(
            "extension_not_later",
            "until",
            "until must be after the investigation's current last day",
        )
    if command.until > add_months(opened, limits.max_total_months):
        raise Rejected(
            "extension_too_long",
            "until",
            f"until must be within {limits.max_total_months} months of the opening",
        )
    return [
        InvestigationExtended(
            until=command.until,
            reasons=command.reasons,
            decided_by=command.decided_by,
            extension_number=state.extension_count + 1,
            # decided after the deadline it extends had passed: late, never on time
            late=current is not None and now > current.legal_latest,
            at=now,
        )
    ]


def _close(state: CaseState, command: CloseCase, now: datetime) -> list[DomainEvent]:
    if state.state is S.INVESTIGATION:
        raise Rejected(
            "investigation_open",
            None,
            "the investigation must be concluded before the case is closed",
        )
    if state.state not in {S.DECIDED, S.FOLLOW_UP}:
        raise Rejected(
            "pre_assessment_pending",
            None,
            "the case can be closed only after the pre-assessment decision",
        )
    require_text(command.reason, "reason")
    expired: list[DomainEvent] = [
        ConsultationExpired(
            consultation_id=c.consultation_id,
            agency=c.agency,
            cause=ExpiryCause.CASE_CLOSED,
            at=now,
        )
        for c in state.open_consultations()
    ]
    return [*expired, CaseClosed(reason=command.reason, decided_by=command.decided_by, at=now)]
