"""The deadline boundary is ``legal_latest``, never ``target`` (DESIGN §2, lag 1930:173).

A deadline whose ``target`` falls on a non-working day is met by a decision on the first
working day after it: between the end of ``target`` and the end of ``legal_latest`` a
decision is on time, a breach is refused and nothing is overdue. Every deadline kind is
put through that stretch, with hand-checked dates (Stockholm calendar days):

- protection assessment: a report received on Friday 2026-03-06 at 16:00, after the 15:00
  cut-off, is targeted at Saturday 03-07 and legally due Monday 03-09;
- pre-assessment: received Friday 2026-03-20, target Good Friday 04-03 (Långfredagen),
  legally due Tuesday 04-07, after Easter Monday;
- investigation: opened Thursday 2026-02-19, four months end on Midsummer Eve, Friday
  06-19 (Midsommarafton), legally due Monday 06-22;
- consultation: counted in working days a consultation deadline always ends on a working
  day (``target == legal_latest``); the stretch exists for one recorded with a named last
  day, here Christmas Eve, Thursday 2026-12-24 (Julafton), legally due Monday 12-28.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import cases
from cases import DeadlineKind, Policy, Rejected, compute_deadline
from cases.decide_deadlines import deadline_met
from cases.state import summary_key
from cases.workdays import END_OF_DAY
from tests.cases.case_builders import STHLM, Case, types

POLICY = Policy.default()
TICK = timedelta(microseconds=1)


def at(day: date, clock: time = time(10, 0)) -> datetime:
    """``clock`` Stockholm time on ``day``, as the UTC instant a workflow's clock reads."""
    return datetime.combine(day, clock, tzinfo=STHLM).astimezone(UTC)


@dataclass(frozen=True)
class Stretch:
    """One deadline kind with a target on a non-working day, every date checked by hand.

    ``between`` is a day after ``target`` and no later than ``legal_latest``; ``after`` the
    day after ``legal_latest``. Moving the deadline to ``moved_until`` makes it legally due
    on ``moved_legal_latest``.
    """

    kind: DeadlineKind
    received: datetime
    target: date
    legal_latest: date
    between: date
    after: date
    moved_until: date
    moved_legal_latest: date

    @property
    def key(self) -> str:
        return "consultation" if self.kind is DeadlineKind.CONSULTATION else self.kind.value


# The protection assessment is due "genast": its legal latest is its target, so it has no
# stretch between the two (tests/cases/test_protection_genast.py).
STRETCHES = (
    Stretch(
        DeadlineKind.PRE_ASSESSMENT,
        received=at(date(2026, 3, 20)),
        target=date(2026, 4, 3),  # Good Friday
        legal_latest=date(2026, 4, 7),  # the Tuesday after Easter Monday
        between=date(2026, 4, 6),  # Easter Monday
        after=date(2026, 4, 8),
        moved_until=date(2026, 5, 1),  # Första maj, a Friday
        moved_legal_latest=date(2026, 5, 4),
    ),
    Stretch(
        DeadlineKind.INVESTIGATION,
        received=at(date(2026, 2, 19)),
        target=date(2026, 6, 19),  # Midsummer Eve
        legal_latest=date(2026, 6, 22),  # Monday
        between=date(2026, 6, 20),  # Midsummer Day
        after=date(2026, 6, 23),
        moved_until=date(2026, 8, 15),  # a Saturday, within the 8 months of extension
        moved_legal_latest=date(2026, 8, 17),
    ),
    Stretch(
        DeadlineKind.CONSULTATION,
        received=at(date(2026, 12, 14)),
        target=date(2026, 12, 24),  # Christmas Eve
        legal_latest=date(2026, 12, 28),  # Monday
        between=date(2026, 12, 26),  # Annandag jul, a Saturday
        after=date(2026, 12, 29),
        moved_until=date(2026, 12, 31),  # New Year's Eve
        moved_legal_latest=date(2027, 1, 4),
    ),
)
BY_KIND = {s.kind: s for s in STRETCHES}


def test_every_deadline_kind_with_a_stretch_is_put_through_it() -> None:
    # the protection assessment and the LVU 7 § / 8 § limits have no stretch (never moved:
    # tests/cases/test_acute_lvu.py); the feedback task's is in tests/cases/test_duties.py
    unmoved = cases.models.NOT_MOVED_BY_CALENDAR
    assert set(BY_KIND) == set(DeadlineKind) - unmoved - {DeadlineKind.FEEDBACK_TO_REPORTER}


class Pending:
    """A case waiting for the decision of one deadline, which `Stretch` describes."""

    def __init__(self, stretch: Stretch) -> None:
        self.stretch = stretch
        self.case = Case(now=stretch.received)
        self.key = stretch.key
        self.consultation: str | None = None
        until: date | None = None
        agency: cases.Agency | None = None
        if stretch.kind is not DeadlineKind.PROTECTION_ASSESSMENT:
            self.case.assess()
        if stretch.kind is DeadlineKind.INVESTIGATION:
            self.case.pre_assess(open_investigation=True)
        if stretch.kind is DeadlineKind.CONSULTATION:
            self.consultation = self.case.ask(cases.Agency.SCHOOL, cases.LegalBasis.DUTY_TO_INFORM)
            self.key = f"consultation:{self.consultation}"
            until, agency = stretch.target, cases.Agency.SCHOOL
        self.deadline = self.case.set_deadline(
            stretch.kind, self.case.now, key=self.key, agency=agency, until=until
        )

    def at(self, moment: datetime, command: cases.Command) -> list[cases.DomainEvent]:
        assert moment >= self.case.now
        return self.case.do(command, after=moment - self.case.now)

    def decide(self, moment: datetime) -> list[cases.DomainEvent]:
        """The decision the deadline waits for, made at ``moment``."""
        command: cases.Command
        match self.stretch.kind:
            case DeadlineKind.PROTECTION_ASSESSMENT:
                command = cases.RecordProtectionAssessment(
                    acute=False, reasoning="no acute risk", decided_by="officer-1"
                )
            case DeadlineKind.PRE_ASSESSMENT:
                command = cases.DecidePreAssessment(
                    open_investigation=False, reasons="no investigation", decided_by="officer-1"
                )
            case DeadlineKind.INVESTIGATION:
                command = cases.ConcludeInvestigation(
                    outcome=cases.InvestigationOutcome.NO_INTERVENTION, decided_by="officer-1"
                )
            case DeadlineKind.CONSULTATION:
                command = cases.AnswerConsultation(
                    agency=cases.Agency.SCHOOL,
                    answer="attends every day",
                    consultation_id=self.consultation,
                )
        return self.at(moment, command)

    def breach(self, moment: datetime) -> list[cases.DomainEvent]:
        return self.at(moment, cases.RecordBreach(deadline_key=self.key))

    def move(self, moment: datetime) -> cases.Deadline:
        """Move the deadline to ``moved_until`` (an extension, for an investigation)."""
        until = self.stretch.moved_until
        if self.stretch.kind is DeadlineKind.INVESTIGATION:
            self.at(
                moment,
                cases.ExtendInvestigation(until=until, reasons="waiting for BUP", decided_by="m"),
            )
        moved = compute_deadline(
            self.stretch.kind,
            self.deadline.start,
            policy=POLICY,
            key=self.key,
            agency=self.deadline.agency,
            until=until,
        )
        self.at(max(moment, self.case.now), cases.RecordDeadline(deadline=moved))
        return moved

    def met(self, events: list[cases.DomainEvent]) -> cases.DeadlineMet:
        met = [e for e in events if isinstance(e, cases.DeadlineMet) and e.deadline_key == self.key]
        assert len(met) == 1, types(events)
        return met[0]


def moments_in_the_stretch(stretch: Stretch, deadline: cases.Deadline) -> list[datetime]:
    """Instants after ``target`` and no later than ``legal_latest``, earliest first."""
    return [
        (deadline.target + TICK).astimezone(UTC),
        at(stretch.between),
        deadline.legal_latest.astimezone(UTC),
    ]


@pytest.fixture(params=STRETCHES, ids=lambda s: s.kind.value)
def stretch(request: pytest.FixtureRequest) -> Stretch:
    found: Stretch = request.param
    return found


def test_the_deadline_has_the_hand_checked_days(stretch: Stretch) -> None:
    deadline = Pending(stretch).deadline
    assert deadline.kind is stretch.kind
    assert deadline.target == datetime.combine(stretch.target, END_OF_DAY, tzinfo=STHLM)
    assert deadline.legal_latest == datetime.combine(stretch.legal_latest, END_OF_DAY, tzinfo=STHLM)
    assert stretch.target < stretch.between <= stretch.legal_latest < stretch.after
    assert not cases.is_working_day(stretch.target)
    assert cases.is_working_day(stretch.legal_latest)


def test_a_decision_after_target_by_legal_latest_is_on_time(stretch: Stretch) -> None:
    for moment in moments_in_the_stretch(stretch, Pending(stretch).deadline):
        pending = Pending(stretch)
        met = pending.met(pending.decide(moment))
        assert met.late is False, moment
        assert pending.case.s.deadline_status[pending.key].label == "met"
        key = summary_key(pending.case.s.deadlines[pending.key])
        assert pending.case.s.to_summary(moment)["deadlines"][key]["status"] == "met"


def test_a_decision_after_legal_latest_is_late(stretch: Stretch) -> None:
    deadline = Pending(stretch).deadline
    for moment in (deadline.legal_latest + TICK, at(stretch.after)):
        pending = Pending(stretch)
        assert pending.met(pending.decide(moment)).late is True, moment
        assert pending.case.s.deadline_status[pending.key].label == "met_late"


def test_a_breach_is_refused_until_legal_latest_has_passed(stretch: Stretch) -> None:
    pending = Pending(stretch)
    for moment in moments_in_the_stretch(stretch, pending.deadline):
        with pytest.raises(Rejected) as refused:
            pending.breach(moment)
        assert refused.value.code == "deadline_not_passed", moment
    assert pending.key not in {
        e.deadline_key for e in pending.case.events if isinstance(e, cases.DeadlineBreached)
    }

    breached = pending.breach(pending.deadline.legal_latest + TICK)

    assert breached == [
        cases.DeadlineBreached(
            deadline_key=pending.key,
            legal_latest=pending.deadline.legal_latest,
            at=pending.deadline.legal_latest + TICK,
        )
    ]
    assert pending.case.s.deadline_status[pending.key].label == "breached"


def test_a_breach_on_the_day_after_legal_latest_is_recorded(stretch: Stretch) -> None:
    pending = Pending(stretch)
    assert types(pending.breach(at(stretch.after))) == ["DeadlineBreached"]


def test_nothing_is_overdue_until_legal_latest_has_passed(stretch: Stretch) -> None:
    pending = Pending(stretch)
    deadline, state = pending.deadline, pending.case.s
    for moment in moments_in_the_stretch(stretch, deadline):
        assert not deadline.is_overdue(moment), moment
        assert state.overdue_count(moment) == 0, moment
        assert state.to_summary(moment)["overdue_count"] == 0
    for moment in (deadline.legal_latest + TICK, at(stretch.after)):
        assert deadline.is_overdue(moment), moment
        assert state.overdue_count(moment) == 1, moment
        assert state.to_summary(moment)["overdue_count"] == 1


def test_a_moved_deadline_drops_its_old_breach(stretch: Stretch) -> None:
    pending = Pending(stretch)
    breached_at = at(stretch.after)
    pending.breach(breached_at)
    assert pending.case.s.deadline_status[pending.key].label == "breached"

    moved = pending.move(breached_at + timedelta(hours=1))

    state = pending.case.s
    assert state.deadlines[pending.key] == moved
    assert moved.legal_latest == datetime.combine(
        stretch.moved_legal_latest, END_OF_DAY, tzinfo=STHLM
    )
    assert state.deadline_status[pending.key].breached_at is None
    assert state.deadline_status[pending.key].label == "open"
    key = summary_key(state.deadlines[pending.key])
    assert state.to_summary(pending.case.now)["deadlines"][key]["status"] == "open"
    assert state.overdue_count(pending.case.now) == 0
    with pytest.raises(Rejected):  # the new deadline has not passed: no breach yet
        pending.breach(moved.target + TICK)
    again = pending.breach(moved.legal_latest + TICK)
    assert again == [
        cases.DeadlineBreached(
            deadline_key=pending.key,
            legal_latest=moved.legal_latest,
            at=moved.legal_latest + TICK,
        )
    ]


def test_a_moved_deadline_met_in_its_new_stretch_is_on_time(stretch: Stretch) -> None:
    pending = Pending(stretch)
    pending.breach(at(stretch.after))
    moved = pending.move(at(stretch.after) + timedelta(hours=1))

    met = pending.met(pending.decide(moved.legal_latest))

    assert met.late is False
    assert pending.case.s.deadline_status[pending.key].label == "met"


# -- the example of the issue, date by date ----------------------------------------------


def test_pre_assessment_received_2026_03_20_is_legally_due_after_easter() -> None:
    """Received 2026-03-20: target Good Friday 04-03, legal latest Tuesday 04-07. A decision
    on Easter Monday 04-06 is on time, a breach on Easter Day 04-05 is refused and one on
    04-08 recorded; nothing is overdue on 04-05, one deadline on 04-08."""
    case = Case(now=at(date(2026, 3, 20)))
    case.assess()
    deadline = case.set_deadline(DeadlineKind.PRE_ASSESSMENT, case.now)
    assert (deadline.target.date(), deadline.legal_latest.date()) == (
        date(2026, 4, 3),
        date(2026, 4, 7),
    )
    state = case.s
    assert state.overdue_count(at(date(2026, 4, 5))) == 0
    assert state.overdue_count(at(date(2026, 4, 8))) == 1

    with pytest.raises(Rejected):
        case.do(
            cases.RecordBreach(deadline_key="pre_assessment"),
            after=at(date(2026, 4, 5)) - case.now,
        )
    assert types(
        case.do(
            cases.RecordBreach(deadline_key="pre_assessment"),
            after=at(date(2026, 4, 8)) - case.now,
        )
    ) == ["DeadlineBreached"]

    decided = Case(now=at(date(2026, 3, 20)))
    decided.assess()
    decided.set_deadline(DeadlineKind.PRE_ASSESSMENT, decided.now)
    decided.now = at(date(2026, 4, 6)) - timedelta(minutes=1)
    events = decided.pre_assess(open_investigation=False)
    met = [e for e in events if isinstance(e, cases.DeadlineMet)]
    assert met == [cases.DeadlineMet(deadline_key="pre_assessment", late=False, at=decided.now)]
    assert decided.s.deadline_status["pre_assessment"].label == "met"


# -- the same rule over calendar-derived dates -------------------------------------------

GAP_KINDS = (  # not the protection assessment: "genast", lag 1930:173 does not move it
    DeadlineKind.PRE_ASSESSMENT,
    DeadlineKind.INVESTIGATION,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(GAP_KINDS),
    received=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    late_report=st.booleans(),
    days_after=st.integers(min_value=0, max_value=5),
    clock=st.times(),
)
def test_on_time_breach_and_overdue_turn_on_the_first_working_day_on_or_after_target(
    kind: DeadlineKind, received: date, late_report: bool, days_after: int, clock: time
) -> None:
    """On the target's day or up to five days later: a decision is late, a breach recorded and
    the deadline overdue exactly when the Stockholm day is after the first working day on or
    after the target's day (found here from the calendar, not from ``legal_latest``)."""
    start = at(received, time(16, 0) if late_report else time(9, 0))
    deadline = compute_deadline(kind, start, policy=POLICY)
    target_day = deadline.target.astimezone(STHLM).date()
    day = target_day + timedelta(days=days_after)
    moment = at(day, clock)
    last_day, _ = cases.next_working_day_on_or_after(target_day)
    passed = day > last_day
    event(f"{'passed' if passed else 'not passed'}, {'a' if last_day > target_day else 'no'} gap")

    assert deadline.is_overdue(moment) is passed
    state = cases.apply(Case(now=start).s, cases.DeadlineSet(deadline=deadline))
    assert state.overdue_count(moment) == int(passed)
    [met] = deadline_met(state, deadline.key, moment)
    assert isinstance(met, cases.DeadlineMet) and met.late is passed
    breach = cases.RecordBreach(deadline_key=deadline.key)
    if passed:
        assert types(cases.decide(state, breach, now=moment, policy=POLICY)) == ["DeadlineBreached"]
    else:
        with pytest.raises(Rejected):
            cases.decide(state, breach, now=moment, policy=POLICY)
