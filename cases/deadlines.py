"""Statutory and agreed deadlines, their suspension, and their escalation schedules.

A `Deadline` carries two instants (DESIGN §2): ``target``, the protective end of the
period, and ``legal_latest``, the same end moved by the time-limits act (lag 1930:173)
to the first working day on or after it. Both are the end of their Stockholm day
(23:59:59.999999 local time): a deadline is met by anything done on its last day.

Computing a deadline reads the holiday calendar, so workflows call `compute_deadline`
from a local activity and record the result as `DeadlineSet`; `apply` never computes one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import AwareDatetime, Field, model_validator

from cases.models import (
    NOT_MOVED_BY_CALENDAR,
    Agency,
    DeadlineKind,
    DomainModel,
    EscalationAction,
    Role,
    share_fields_set,
)
from cases.policy import Anchor, LegalReference, Offset, Policy, deadline_rule
from cases.workdays import (
    STOCKHOLM,
    add_months,
    add_working_days,
    at_local,
    calendar_version,
    end_of_day,
    is_working_day,
    local_date,
    next_working_day_on_or_after,
    working_days_between,
)


class Suspension(DomainModel):
    """A stretch of time during which a deadline's clock stood still (e.g. waiting for consent).

    ``working_days`` counts the working days in ``[from_date, until_date)``: the clock stops
    on the day it is suspended and runs again from the day it is resumed.
    """

    from_date: date
    until_date: date
    working_days: int = Field(ge=0)

    def describe(self) -> str:
        """Plain words for ``moved_because``."""
        return (
            f"clock suspended {self.from_date.isoformat()} to {self.until_date.isoformat()}: "
            f"{self.working_days} working days"
        )


class Deadline(DomainModel):
    """One deadline of a case.

    Attributes:
        key: ``protection_assessment``, ``pre_assessment``, ``investigation`` or
            ``consultation:<consultation id>``.
        start: when the period began (receipt, opening, request).
        target: the protective end of the period, never moved by the calendar.
        legal_latest: ``target`` moved by lag 1930:173 to the first working day on or
            after it (equal to ``target`` when that day is a working day); for the
            protection assessment, due "genast", always ``target``.
        moved_because: the named days and suspensions that moved the dates, e.g.
            ``2026-12-25 Juldagen``.
        calendar: the holiday calendar that computed it, e.g. ``holidays-0.109``.
        legal_reference: the provision behind it, resolved for the day its period started
            (the case's received date, or the date of the step that started it); None for
            a consultation (a local agreement) and for deadlines recorded before this field.
    """

    key: str = Field(min_length=1, max_length=120)
    kind: DeadlineKind
    agency: Agency | None = None
    start: AwareDatetime
    target: AwareDatetime
    legal_latest: AwareDatetime
    moved_because: tuple[str, ...] = ()
    calendar: str
    suspensions: tuple[Suspension, ...] = ()
    legal_reference: LegalReference | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Deadline:
        if self.legal_latest < self.target:
            raise ValueError("legal_latest must not be before target")
        share_fields_set(self)  # a case keeps every deadline it set (in state and schedule)
        return self

    @property
    def suspended_working_days(self) -> int:
        """Working days added by clock suspensions."""
        return sum(s.working_days for s in self.suspensions)

    def is_overdue(self, now: datetime) -> bool:
        """True once ``now`` is past ``legal_latest``."""
        return now > self.legal_latest

    @property
    def due(self) -> date:
        """The last day of the deadline in Swedish time (the day of ``legal_latest``)."""
        return local_date(self.legal_latest)

    def working_days_late(self, now: datetime) -> int:
        """How many working days have begun since the deadline's last day at ``now``
        (Swedish time): 0 on the due day and over a weekend right after it, 1 on the first
        working day after it, and so on."""
        return working_days_late(self.legal_latest, now)


def working_days_late(legal_latest: datetime, now: datetime) -> int:
    """How many working days have begun at ``now`` since the day of ``legal_latest``
    (Swedish time): 0 until it has passed, on its day and over a weekend right after it,
    1 on the first working day after it, and so on (`Deadline.working_days_late`; the
    coordinator board asks it of a read-model row)."""
    if now <= legal_latest:
        return 0
    return working_days_between(
        local_date(legal_latest) + timedelta(days=1), local_date(now) + timedelta(days=1)
    )


class ScheduledRung(DomainModel):
    """An escalation rung of one deadline with the instant it fires (Stockholm time)."""

    deadline_key: str
    rung_index: int = Field(ge=0)
    rung_name: str
    fire_at: AwareDatetime
    role: Role
    action: EscalationAction

    @model_validator(mode="after")
    def _shared_fields_set(self) -> ScheduledRung:
        share_fields_set(self)  # a case keeps every pending rung of its deadlines
        return self


def default_key(kind: DeadlineKind, agency: Agency | None = None) -> str:
    """The key of a deadline when the caller names none (``consultation:<agency>``)."""
    if kind is DeadlineKind.CONSULTATION:
        return f"consultation:{agency.value if agency is not None else 'unknown'}"
    return kind.value


def _target_date(
    kind: DeadlineKind,
    start: datetime,
    *,
    policy: Policy,
    agency: Agency | None,
    acute: bool,
    until: date | None,
) -> date:
    received = local_date(start)
    limits = policy.time_limits
    if until is not None:
        return until
    if kind is DeadlineKind.PROTECTION_ASSESSMENT:
        if start.astimezone(STOCKHOLM).time() >= limits.protection_cutoff:
            return received + timedelta(days=1)
        return received
    if kind is DeadlineKind.PRE_ASSESSMENT:
        return received + timedelta(days=limits.pre_assessment_days)
    if kind is DeadlineKind.INVESTIGATION:
        return add_months(received, limits.investigation_months)
    if kind is DeadlineKind.CUSTODY_SUBMISSION:
        return received + timedelta(days=limits.custody_submission_days)
    if kind is DeadlineKind.CARE_APPLICATION:
        return received + timedelta(days=limits.care_application_days)
    if kind is DeadlineKind.FEEDBACK_TO_REPORTER:
        return received + timedelta(days=limits.feedback_to_reporter_days)
    if agency is None:
        raise ValueError("a consultation deadline needs its agency")
    times = policy.consultation_times[agency]
    days = times.acute_working_days if acute and times.acute_working_days else times.working_days
    return add_working_days(received, days)


def compute_deadline(
    kind: DeadlineKind,
    start: datetime,
    *,
    policy: Policy,
    agency: Agency | None = None,
    acute: bool = False,
    key: str | None = None,
    until: date | None = None,
) -> Deadline:
    """Compute a deadline under the policy and lag 1930:173.

    Rules (each ends at the end of its Stockholm day):

    - protection assessment (skyddsbedömning): due "genast" (at once), so lag 1930:173 does
      not apply and ``legal_latest`` is the target: the day of receipt, or the next day
      for a report received at or after ``policy.time_limits.protection_cutoff`` (local
      practice, not law);
    - pre-assessment (förhandsbedömning): receipt day + 14 days;
    - investigation (utredning): opening day + 4 months, or ``until`` when an extension
      decided a new last day (the pre-assessment too, for very exceptional reasons);
    - LVU 7 § submission: the custody decision's day + 7 days; LVU 8 § application for
      care: the day the custody was carried out + 28 days; neither moved by lag 1930:173
      (the protective reading: missing one ends the custody, LVU 9 §);
    - feedback to a mandatory reporter: the pre-assessment decision's day + the policy's
      days (a local value until the statute's is confirmed);

    The deadline carries the legal reference of its rule in force on ``start``'s Stockholm
    date (`Policy.resolve`).
    - consultation: the agency's working days from the request day (acute override).

    Raises:
        ValueError: a consultation without ``agency``, or a naive ``start``.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be an aware datetime")
    target_day = _target_date(kind, start, policy=policy, agency=agency, acute=acute, until=until)
    moved: tuple[str, ...] = ()  # "genast", and LVU 7 § / 8 §: never moved (NOT_MOVED_BY_CALENDAR)
    if kind in NOT_MOVED_BY_CALENDAR:
        legal_day = target_day
    else:
        legal_day, moved = next_working_day_on_or_after(target_day)
    rule = deadline_rule(kind, extended=until is not None)
    reference = policy.resolve(rule, on=local_date(start)) if rule is not None else None
    return Deadline(
        key=key or default_key(kind, agency),
        kind=kind,
        agency=agency,
        start=start.astimezone(STOCKHOLM),
        target=end_of_day(target_day),
        legal_latest=end_of_day(legal_day),
        moved_because=moved,
        calendar=calendar_version(),
        legal_reference=reference,
    )


def suspend(deadline: Deadline, suspended_from: datetime, resumed_at: datetime) -> Deadline:
    """``deadline`` pushed by exactly the working days its clock stood still.

    The suspended working days are those in ``[day suspended, day resumed)`` (Stockholm
    dates). ``target`` moves that many working days later (counted as in
    `add_working_days`), ``legal_latest`` follows to the first working day on or after it,
    and ``moved_because`` says so. A suspension that covers no working day changes nothing.

    Raises:
        ValueError: ``resumed_at`` is before ``suspended_from``.
    """
    if resumed_at < suspended_from:
        raise ValueError("resumed_at must not be before suspended_from")
    first, end = local_date(suspended_from), local_date(resumed_at)
    days = working_days_between(first, end)
    if days == 0:
        return deadline
    suspension = Suspension(from_date=first, until_date=end, working_days=days)
    target_day = add_working_days(local_date(deadline.target), days)
    moved: tuple[str, ...] = ()
    if deadline.kind in NOT_MOVED_BY_CALENDAR:
        legal_day = target_day  # as in `compute_deadline`
    else:
        legal_day, moved = next_working_day_on_or_after(target_day)
    suspensions = (*deadline.suspensions, suspension)
    return deadline.model_copy(
        update={
            "target": end_of_day(target_day),
            "legal_latest": end_of_day(legal_day),
            "suspensions": suspensions,
            "moved_because": (*(s.describe() for s in suspensions), *moved),
            "calendar": calendar_version(),
        }
    )


def _fire_at(anchor: datetime, offset: Offset) -> datetime:
    local = anchor.astimezone(STOCKHOLM)
    day = add_months(local.date(), offset.months) + timedelta(days=offset.days)
    day = add_working_days(day, offset.working_days)
    moment = at_local(day, offset.at if offset.at is not None else local.timetz())
    elapsed = timedelta(hours=offset.hours, minutes=offset.minutes)
    if elapsed:
        # elapsed time is counted on the UTC clock, so a DST change adds no hour
        moment = (moment.astimezone(UTC) + elapsed).astimezone(STOCKHOLM)
    if offset.roll_to_working_day and not is_working_day(moment.date()):
        moment = at_local(next_working_day_on_or_after(moment.date())[0], moment.timetz())
    return moment


def escalation_schedule(deadline: Deadline, policy: Policy) -> list[ScheduledRung]:
    """The instants at which each rung of the deadline's ladder fires, earliest first.

    ``rung_index`` is the rung's position in the policy's ladder, so together with the
    deadline key it identifies the rung for "fires exactly once".
    """
    anchors = {
        Anchor.START: deadline.start,
        Anchor.TARGET: deadline.target,
        Anchor.LEGAL_LATEST: deadline.legal_latest,
    }
    rungs = [
        ScheduledRung(
            deadline_key=deadline.key,
            rung_index=index,
            rung_name=rung.name,
            fire_at=_fire_at(anchors[rung.anchor], rung.offset),
            role=rung.role,
            action=rung.action,
        )
        for index, rung in enumerate(policy.ladders.get(deadline.kind, ()))
    ]
    return sorted(rungs, key=lambda r: (r.fire_at, r.rung_index))
