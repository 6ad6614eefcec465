"""A small fixed set of cases for the board and compliance tests, as real `cases` events:
on time, late, extended, unanswered, escalated, and one of another municipality.

Hand-computed figures (months by the day a deadline's period started, Swedish time):

| month   | protection same day | pre-assessment on time | investigation on time (extended) |
|---------|---------------------|------------------------|----------------------------------|
| 2026-01 | 1 of 2 (A yes, B no)| 1 of 2 (A yes, B late) | 1 of 1 (A)                       |
| 2026-02 | 2 of 2 (C, D)       | 1 of 2 (C yes, D breached) | 0 of 1, 1 extended (C overdue at NOW_REPORT) |

Police answer times: January A 2 days, B 6 days (median 4.0, p90 6.0); February C 1 day
(median 1.0, p90 1.0) and D still waiting. Reports: January 2, February 2 (Lund's E apart).
"""

from __future__ import annotations

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
    DomainEvent,
    EscalationAction,
    EscalationRaised,
    LegalBasis,
    ProtectionAssessed,
    ReporterKind,
    ReportReceived,
    Role,
    Subject,
)
from cases.events import (
    InvestigationConcluded,
    InvestigationDeclined,
    InvestigationExtended,
    InvestigationOpened,
)
from cases.models import InvestigationOutcome
from cases.workdays import STOCKHOLM

PERSONAL = ("19990101-0000", "Hemlig Personsson", "bullied on the bus", "Known to police?")
#: When the board is read: Wednesday 4 March 2026, noon.
NOW_BOARD = datetime(2026, 3, 4, 12, 0, tzinfo=STOCKHOLM)
#: When the compliance figures are read.
NOW_REPORT = datetime(2026, 9, 1, 12, 0, tzinfo=STOCKHOLM)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=STOCKHOLM)


def end_of(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 23, 59, 59, 999999, tzinfo=STOCKHOLM)


def deadline(
    key: str, kind: DeadlineKind, start: datetime, last: datetime, agency: Agency | None = None
) -> DeadlineSet:
    return DeadlineSet(
        deadline=Deadline(
            key=key,
            kind=kind,
            agency=agency,
            start=start,
            target=last,
            legal_latest=last,
            calendar="holidays-test",
        )
    )


def report(number: str, received: datetime, municipality: str = "Malmö") -> ReportReceived:
    return ReportReceived(
        case_number=number,
        municipality=municipality,
        received_at=received,
        reporter_kind=ReporterKind.SCHOOL,
        mandatory_reporter=True,
        subject=Subject(
            personal_identity_number=PERSONAL[0], name=PERSONAL[1], birth_date="1999-01-01"
        ),
        concern_category=ConcernCategory.ONLINE_PROPAGANDA,
        summary=f"The child was {PERSONAL[2]}.",
        at=received,
    )


def assessed(received: datetime, when: datetime) -> list[DomainEvent]:
    return [
        deadline(
            "protection_assessment",
            DeadlineKind.PROTECTION_ASSESSMENT,
            received,
            end_of(received.month, received.day),
        ),
        ProtectionAssessed(acute=False, reasoning="r", decided_by="officer-1", at=when),
        DeadlineMet(deadline_key="protection_assessment", at=when),
    ]


def consultation(number: str, n: int, requested: datetime, due: datetime) -> list[DomainEvent]:
    cid = f"case-{number}:consultation-{n}"
    return [
        ConsultationRequested(
            consultation_id=cid,
            agency=Agency.POLICE,
            legal_basis=LegalBasis.OSL_10_18A,
            questions=PERSONAL[3],
            requested_by="officer-1",
            at=requested,
        ),
        deadline(f"consultation:{cid}", DeadlineKind.CONSULTATION, requested, due, Agency.POLICE),
    ]


def answered(number: str, n: int, when: datetime) -> ConsultationAnswered:
    cid = f"case-{number}:consultation-{n}"
    return ConsultationAnswered(consultation_id=cid, agency=Agency.POLICE, answer="a", at=when)


def case_a() -> list[DomainEvent]:
    """On time everywhere, closed. Police answered in 2 days."""
    received = at(1, 5, 9)
    return [
        report("2026-A1", received),
        *assessed(received, at(1, 5, 11)),
        deadline("pre_assessment", DeadlineKind.PRE_ASSESSMENT, received, end_of(1, 19)),
        *consultation("2026-A1", 1, at(1, 6), end_of(1, 16)),
        answered("2026-A1", 1, at(1, 8)),
        DeadlineMet(deadline_key="pre_assessment", at=at(1, 12)),
        InvestigationOpened(reasons="r", decided_by="officer-1", at=at(1, 12)),
        deadline("investigation", DeadlineKind.INVESTIGATION, at(1, 12), end_of(5, 12)),
        DeadlineMet(deadline_key="investigation", at=at(4, 30)),
        InvestigationConcluded(
            outcome=InvestigationOutcome.NO_INTERVENTION, decided_by="officer-1", at=at(4, 30)
        ),
        CaseClosed(reason="done", decided_by="officer-1", at=at(5, 4)),
    ]


def case_b() -> list[DomainEvent]:
    """Protection assessed the next day, pre-assessment decided late; police in 6 days."""
    received = at(1, 20, 16)
    return [
        report("2026-B2", received),
        *assessed(received, at(1, 21, 9)),
        deadline("pre_assessment", DeadlineKind.PRE_ASSESSMENT, received, end_of(2, 3)),
        *consultation("2026-B2", 1, at(1, 21), end_of(1, 30)),
        answered("2026-B2", 1, at(1, 27)),
        DeadlineMet(deadline_key="pre_assessment", late=True, at=at(2, 5)),
        InvestigationDeclined(reasons="r", decided_by="officer-1", at=at(2, 5)),
    ]


def case_c() -> list[DomainEvent]:
    """In investigation, extended to 10 August and not concluded; police in 1 day."""
    received = at(2, 2)
    return [
        report("2026-C3", received),
        *assessed(received, at(2, 2, 15)),
        deadline("pre_assessment", DeadlineKind.PRE_ASSESSMENT, received, end_of(2, 16)),
        *consultation("2026-C3", 1, at(2, 3), end_of(2, 13)),
        answered("2026-C3", 1, at(2, 4)),
        DeadlineMet(deadline_key="pre_assessment", at=at(2, 10)),
        InvestigationOpened(reasons="r", decided_by="officer-1", at=at(2, 10)),
        deadline("investigation", DeadlineKind.INVESTIGATION, at(2, 10), end_of(6, 10)),
        InvestigationExtended(
            until=end_of(8, 10).date(),
            reasons="r",
            decided_by="officer-1",
            extension_number=1,
            at=at(3, 1),
        ),
        deadline("investigation", DeadlineKind.INVESTIGATION, at(2, 10), end_of(8, 10)),
    ]


def case_d() -> list[DomainEvent]:
    """Pre-assessment breached (due Monday 2 March) with two rungs raised; police unanswered
    (due Friday 6 March)."""
    received = at(2, 16)
    return [
        report("2026-D4", received),
        *assessed(received, at(2, 16, 14)),
        deadline("pre_assessment", DeadlineKind.PRE_ASSESSMENT, received, end_of(3, 2)),
        *consultation("2026-D4", 1, at(2, 17), end_of(3, 6)),
        *(
            EscalationRaised(
                deadline_key="pre_assessment",
                rung_index=rung,
                rung_name=f"rung {rung}",
                role=Role.OFFICER,
                action=EscalationAction.REMIND,
                at=at(2, 27 + rung),
            )
            for rung in (0, 1)
        ),
        DeadlineBreached(
            deadline_key="pre_assessment",
            legal_latest=end_of(3, 2),
            at=end_of(3, 2) + timedelta(minutes=1),
        ),
    ]


def case_e_lund() -> list[DomainEvent]:
    """Another municipality's case, overdue: never on Malmö's board or report."""
    received = at(1, 10)
    return [
        report("2026-E5", received, municipality="Lund"),
        deadline(
            "protection_assessment",
            DeadlineKind.PROTECTION_ASSESSMENT,
            received,
            end_of(1, 10),
        ),
    ]


CASES = {
    "2026-A1": case_a,
    "2026-B2": case_b,
    "2026-C3": case_c,
    "2026-D4": case_d,
    "2026-E5": case_e_lund,
}
