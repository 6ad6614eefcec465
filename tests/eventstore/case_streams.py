"""Realistic case event streams built from the real `cases` events, for projection tests."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from cases import (
    Agency,
    CaseClosed,
    ConcernCategory,
    ConsultationAnswered,
    ConsultationRequested,
    Deadline,
    DeadlineBreached,
    DeadlineKind,
    DeadlineMet,
    DeadlineSet,
    DisclosureRecorded,
    DomainEvent,
    Envelope,
    EscalationAction,
    EscalationRaised,
    HarmResult,
    LegalBasis,
    ProtectionAssessed,
    ReporterKind,
    ReportReceived,
    Role,
    Subject,
    seal,
)
from cases.disclosure import DisclosureStatement, HarmAssessment
from cases.workdays import STOCKHOLM

T0 = datetime(2026, 3, 2, 10, 15, tzinfo=STOCKHOLM)


def deadline(key: str, kind: DeadlineKind, start: datetime, days: float) -> Deadline:
    end = start + timedelta(days=days)
    return Deadline(
        key=key, kind=kind, start=start, target=end, legal_latest=end, calendar="holidays-test"
    )


def report(case_number: str, municipality: str = "Malmö") -> ReportReceived:
    return ReportReceived(
        case_number=case_number,
        municipality=municipality,
        received_at=T0,
        reporter_kind=ReporterKind.SCHOOL,
        mandatory_reporter=True,
        subject=Subject(
            personal_identity_number="20120315-0004",
            name="Testperson Exempelsson",
            birth_date="2012-03-15",
        ),
        concern_category=ConcernCategory.ONLINE_PROPAGANDA,
        summary="Teacher reports propaganda in class chats.",
        at=T0,
    )


def busy_case(case_number: str) -> list[DomainEvent]:
    """Opened, assessed, a police consultation with a disclosure, an escalation, an answer."""
    cid = f"case-{case_number}:consultation-1"
    return [
        report(case_number),
        DeadlineSet(
            deadline=deadline("protection_assessment", DeadlineKind.PROTECTION_ASSESSMENT, T0, 0.5)
        ),
        ProtectionAssessed(
            acute=False, reasoning="r", decided_by="officer-1", at=T0 + timedelta(hours=2)
        ),
        DeadlineMet(deadline_key="protection_assessment", at=T0 + timedelta(hours=2)),
        DeadlineSet(deadline=deadline("pre_assessment", DeadlineKind.PRE_ASSESSMENT, T0, 14)),
        ConsultationRequested(
            consultation_id=cid,
            agency=Agency.POLICE,
            legal_basis=LegalBasis.OSL_10_18A,
            questions="Known to police?",
            requested_by="officer-1",
            at=T0 + timedelta(days=1),
        ),
        DeadlineSet(
            deadline=Deadline(
                key=f"consultation:{cid}",
                kind=DeadlineKind.CONSULTATION,
                agency=Agency.POLICE,
                start=T0 + timedelta(days=1),
                target=T0 + timedelta(days=8),
                legal_latest=T0 + timedelta(days=8),
                calendar="holidays-test",
            )
        ),
        DisclosureRecorded(
            consultation_id=cid,
            recipient=Agency.POLICE,
            legal_basis=LegalBasis.OSL_10_18A,
            statement=DisclosureStatement(
                harm_assessment=HarmAssessment(
                    harm_found=False,
                    reasons="No harm to the child expected from disclosing name and school.",
                )
            ),
            stated_by="officer-1",
            harm_result=HarmResult.NO_HARM,
            fields=("subject.name", "subject.personal_identity_number"),
            disclosed_at=T0 + timedelta(days=1),
            decided_by="officer-1",
        ),
        EscalationRaised(
            deadline_key="pre_assessment",
            rung_index=0,
            rung_name="remind officer",
            role=Role.OFFICER,
            action=EscalationAction.REMIND,
            at=T0 + timedelta(days=10),
        ),
    ]


def answered(case_number: str) -> list[DomainEvent]:
    cid = f"case-{case_number}:consultation-1"
    return [
        ConsultationAnswered(
            consultation_id=cid, agency=Agency.POLICE, answer="a", at=T0 + timedelta(days=3)
        )
    ]


def breached_and_closed(case_number: str) -> list[DomainEvent]:
    legal_latest = T0 + timedelta(days=14)
    return [
        report(case_number, municipality="Lund"),
        DeadlineSet(deadline=deadline("pre_assessment", DeadlineKind.PRE_ASSESSMENT, T0, 14)),
        DeadlineBreached(
            deadline_key="pre_assessment",
            legal_latest=legal_latest,
            at=legal_latest + timedelta(minutes=1),
        ),
        CaseClosed(
            reason="moved away", decided_by="officer-2", at=legal_latest + timedelta(days=2)
        ),
    ]


def envelopes(case_id: str, events: list[DomainEvent], after: int = 0) -> list[Envelope]:
    return [
        seal(
            event,
            event_id=uuid.uuid4(),
            case_id=case_id,
            version=after + i + 1,
            occurred_at=T0 + timedelta(days=after + i),
            actor="officer-1",
        )
        for i, event in enumerate(events)
    ]
