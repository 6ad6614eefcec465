"""Demo cases for a dev stack: what ``samverkan demo seed`` opens, and how far it moves each.

Pure data, no I/O: `demo_cases` returns each case's opening (an `OpenCase` as JSON) and the
operator updates it then takes, each as an operator would type it (`samverkan.commands.demo`
sends them through the real case workflow; ``tests/shell/test_demo_plan.py`` runs them
through the domain's checks and decisions, so a rule that changes fails there first).

Everything is fictitious: case numbers ``DEMO-<year>-<nnnn>``, subjects named
``Demoperson <n>`` whose personal identity numbers have the birth number ``000``, which the
Swedish Tax Agency never issues (as `cases.examples`), and staff identifiers ``demo-…``.

The cases are received on days spread over the past months (so the board's monthly plots
have data) and moved to a mix of states, one of each profile in `PROFILES` per round:
received only (both assessments overdue), protection assessed (pre-assessment due within a
week), an investigation with a police consultation left waiting, an investigation extended,
no investigation and closed, concluded and closed (after a school consultation answered).
The workflow records every decision at the time it is sent, not on the day the case was
received: assessments of a case received weeks ago are late, and its escalation ladders
fire at once when it is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from cases import (
    STOCKHOLM,
    Agency,
    CloseCase,
    Command,
    ConcludeInvestigation,
    DecidePreAssessment,
    ExtendInvestigation,
    GiveFeedback,
    RecordChildViews,
    RecordProtectionAssessment,
    RequestConsultation,
    add_months,
)
from cases.workdays import local_date

OFFICER = "demo-officer-1"
UNIT_MANAGER = "demo-unit-manager-1"
DEFAULT_PREFIX = "DEMO"
DEFAULT_MUNICIPALITY = "Malmö"


@dataclass(frozen=True)
class Step:
    """One operator update: its name, the command type the workflow takes for it, its JSON.

    Attributes:
        hold: the agency whose simulated system must leave this request waiting (the dev
            simulator answers every agency within a second unless told otherwise).
        after_answers: wait until the case's consultations are answered before sending it.
    """

    update: str
    command: type[Command]
    body: dict[str, Any]
    hold: Agency | None = None
    after_answers: bool = False


@dataclass(frozen=True)
class DemoCase:
    """A demo case: its number, what it shows, its opening, and its updates in order."""

    case_number: str
    shows: str
    opening: dict[str, Any]
    steps: tuple[Step, ...] = field(default=())

    @property
    def received_at(self) -> datetime:
        return datetime.fromisoformat(self.opening["received_at"])


def _protection() -> Step:
    return Step(
        "record_protection_assessment",
        RecordProtectionAssessment,
        {"acute": False, "reasoning": "Demo: no immediate danger.", "decided_by": OFFICER},
    )


def _pre_assessment(investigate: bool) -> Step:
    reasons = "Demo: a specific concern." if investigate else "Demo: support already in place."
    return Step(
        "decide_pre_assessment",
        DecidePreAssessment,
        {"open_investigation": investigate, "reasons": reasons, "decided_by": OFFICER},
    )


def _feedback() -> Step:
    return Step(
        "give_feedback",
        GiveFeedback,
        {"content": "Demo: told that the report is handled.", "meeting_offered": True}
        | {"decided_by": OFFICER},
    )


def _police_consultation() -> Step:
    statement = {
        "osl_10_18a": {
            "risk_of_criminal_activity": "Demo: contact with a violent group.",
            "may_help_prevent": "Demo: the police can offer a prevention talk.",
            "not_inappropriate": "Demo: our support is not hindered by it.",
        }
    }
    return Step(
        "request_consultation",
        RequestConsultation,
        {
            "agency": "police",
            "legal_basis": "osl_10_18a",
            "questions": "Demo: known to you?",
            "statement": statement,
            "requested_by": OFFICER,
        },
        hold=Agency.POLICE,
    )


def _school_consultation() -> Step:
    return Step(
        "request_consultation",
        RequestConsultation,
        {
            "agency": "school",
            "legal_basis": "duty_to_inform",
            "questions": "Demo: how is school attendance?",
            "requested_by": OFFICER,
        },
    )


def _child_views() -> Step:
    return Step(
        "record_child_views",
        RecordChildViews,
        {"views": "Demo: wants to stay in the football team.", "decided_by": OFFICER},
    )


def _conclude() -> Step:
    return Step(
        "conclude_investigation",
        ConcludeInvestigation,
        {"outcome": "intervention", "decided_by": OFFICER},
        after_answers=True,
    )


def _close(reason: str) -> Step:
    return Step("close_case", CloseCase, {"reason": reason, "decided_by": OFFICER})


def _extension(now: datetime) -> Step:
    # after the four months from the investigation's opening (now), within eight
    until = add_months(local_date(now), 5)
    return Step(
        "extend_investigation",
        ExtendInvestigation,
        {
            "until": until.isoformat(),
            "reasons": "Demo: awaiting a child psychiatry assessment.",
            "decided_by": UNIT_MANAGER,
        },
    )


@dataclass(frozen=True)
class Profile:
    """How far a demo case goes, received how many days ago (``days`` in the first round,
    then ``spread`` days earlier per round)."""

    shows: str
    days: int
    spread: int
    mandatory_reporter: bool
    steps: Callable[[datetime], tuple[Step, ...]]


#: One round of demo cases, in this order (``--cases 3`` seeds the first three).
PROFILES: tuple[Profile, ...] = (
    Profile(
        "received only: protection assessment and pre-assessment overdue",
        days=20,
        spread=37,
        mandatory_reporter=True,
        steps=lambda now: (),
    ),
    Profile(
        "investigation open, police consultation waiting",
        days=45,
        spread=41,
        mandatory_reporter=True,
        steps=lambda now: (_protection(), _pre_assessment(True), _police_consultation()),
    ),
    Profile(
        "investigation concluded (school consulted), case closed",
        days=130,
        spread=43,
        mandatory_reporter=True,
        steps=lambda now: (
            _protection(),
            _pre_assessment(True),
            _school_consultation(),
            _feedback(),
            _child_views(),
            _conclude(),
            _close("Demo: intervention decided and started."),
        ),
    ),
    Profile(
        "protection assessed: pre-assessment due within a week",
        days=12,  # due in two days, four at most when holidays move it
        spread=0,
        mandatory_reporter=False,
        steps=lambda now: (_protection(),),
    ),
    Profile(
        "investigation extended",
        days=100,
        spread=39,
        mandatory_reporter=False,
        steps=lambda now: (
            _protection(),
            _pre_assessment(True),
            _extension(now),
            _child_views(),
        ),
    ),
    Profile(
        "no investigation, case closed",
        days=70,
        spread=31,
        mandatory_reporter=True,
        steps=lambda now: (
            _protection(),
            _pre_assessment(False),
            _feedback(),
            _close("Demo: no investigation opened."),
        ),
    ),
)

_SUMMARIES = (
    ("violent_extremist_environment", "Demo: a teacher reports contact with a violent group."),
    ("online_propaganda", "Demo: shares violent propaganda in class chats."),
    ("radicalisation", "Demo: a youth worker reports sudden radical views."),
    ("travel_risk", "Demo: talks of travelling to a conflict zone."),
)


def _luhn_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(digits):
        doubled = int(ch) * (2 if i % 2 == 0 else 1)
        total += doubled - 9 if doubled > 9 else doubled
    return (10 - total % 10) % 10


def fictitious_subject(index: int, received: date) -> dict[str, Any]:
    """A fictitious young person, 13 to 16 on the day ``received``: birth number ``000``
    (never issued) with its check digit."""
    born = date(received.year - 13 - index % 4, 1 + index % 12, 1 + index % 28)
    number = f"{born:%y%m%d}000"
    return {
        "personal_identity_number": f"{born:%Y%m%d}-{number[6:]}{_luhn_digit(number)}",
        "name": f"Demoperson {index + 1}",
        "birth_date": born.isoformat(),
    }


def demo_case_number(index: int, *, year: int, prefix: str = DEFAULT_PREFIX) -> str:
    """``DEMO-2026-0001`` for index 0 in 2026."""
    return f"{prefix}-{year}-{index + 1:04d}"


def demo_cases(
    count: int,
    *,
    now: datetime,
    municipality: str = DEFAULT_MUNICIPALITY,
    prefix: str = DEFAULT_PREFIX,
) -> list[DemoCase]:
    """``count`` demo cases as seeded at ``now`` (aware), numbered from 1 in ``now``'s year."""
    today = local_date(now)
    made: list[DemoCase] = []
    for index in range(count):
        round_, position = divmod(index, len(PROFILES))
        profile = PROFILES[position]
        day = today - timedelta(days=profile.days + profile.spread * round_)
        at = datetime.combine(day, time(8, 30), STOCKHOLM) + timedelta(minutes=7 * index)
        concern, summary = _SUMMARIES[index % len(_SUMMARIES)]
        number = demo_case_number(index, year=today.year, prefix=prefix)
        opening: dict[str, Any] = {
            "case_number": number,
            "municipality": municipality,
            "received_at": at.isoformat(),
            "reporter_kind": "school" if profile.mandatory_reporter else "guardian",
            "mandatory_reporter": profile.mandatory_reporter,
            "channel": "written",
            "subject": fictitious_subject(index, day),
            "concern_category": concern,
            "summary": summary,
            "urgent": False,
        }
        made.append(DemoCase(number, profile.shows, opening, profile.steps(now)))
    return made
