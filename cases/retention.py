"""Retention: when a person's closed files are purged (gallring), as policy data.

The rules and their sources are in docs/legal.md (rules ``retention``,
``placement_exempt``, ``research_sample``, ``child_investigation_retention``).

Reading of the rule (`RetentionRules`): a file is kept five years after its last entry;
counting then runs to the end of the calendar year that follows the year in which those
five years ended. A last entry on 2026-03-10 gives five years ending 2031-03-10 and a
purge date of 2032-12-31.

Purging is **per person**: nothing about a person is purged while other data about the same
person remain, so all of a person's files go together, on the latest of their purge dates,
and none while any of them is open or exempt (`person_purge_date`). Files in an exempt
category are never purged automatically: every placement of the child (immediate
protection, an LVU application), and the research sample born on the 5th, 15th or 25th
(SoF (2001:937) 7 kap. 2 §). A file in which an investigation about a child was opened is
kept 30 years from the child's birth when that is later (prop. 2025/26:12), for purge
dates on or after the rule's date in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from cases.models import InvestigationOutcome
from cases.policy import Policy, RetentionCategory
from cases.state import CaseState
from cases.workdays import add_months, local_date

RESEARCH_SAMPLE_DAYS = frozenset({5, 15, 25})
#: Outcomes and paths that place the child outside the home (any placement exempts).
PLACEMENT_OUTCOMES = frozenset({InvestigationOutcome.LVU_APPLICATION})


def purge_date(
    last_entry: datetime | date, category: RetentionCategory, policy: Policy
) -> date | None:
    """The day on which the file may be purged, or None for an exempt category.

    ``last_entry`` is the instant of the case's last entry (an aware datetime is read as
    its Stockholm date). Five years are counted with the month arithmetic of lag 1930:173
    (a 29 February ends on 28 February).
    """
    rules = policy.retention
    if category in rules.exempt_categories:
        return None
    day = local_date(last_entry) if isinstance(last_entry, datetime) else last_entry
    period_end = add_months(day, 12 * rules.years_after_last_entry)
    if rules.until_end_of_following_year:
        return date(period_end.year + 1, 12, 31)
    return period_end


def is_placement(case: CaseState) -> bool:
    """Whether the child was placed in this case: immediate protection was decided (LVU 6 §
    custody) or the investigation ended in an LVU application."""
    return case.protection_acute is True or case.outcome in PLACEMENT_OUTCOMES


def retention_category(case: CaseState) -> RetentionCategory:
    """The retention category the case's own data implies."""
    if is_placement(case):
        return RetentionCategory.PLACEMENT
    born = case.subject.birth_date  # None for a child not yet identified
    if born is not None and born.day in RESEARCH_SAMPLE_DAYS:
        return RetentionCategory.RESEARCH_SAMPLE
    return RetentionCategory.STANDARD


def child_investigation_kept_until(case: CaseState, policy: Policy) -> date | None:
    """The day the 30-year rule keeps the file until (the child's birth + 30 years), for a
    case in which an investigation was opened about a child; None otherwise.

    A child not yet identified has no known birth date: None, and the caller must not
    purge such a file on the 30-year rule's behalf (`case_purge_date` keeps it).
    """
    born = case.subject.birth_date
    if case.investigation_opened_at is None or born is None:
        return None
    opened = local_date(case.investigation_opened_at)
    if add_months(born, 12 * 18) <= opened:
        return None  # an adult by then: not a child's investigation
    return add_months(born, 12 * policy.retention.child_investigation_years)


def case_purge_date(case: CaseState, policy: Policy) -> date | None:
    """The purge date of one closed file, from its last entry; None while it is open or
    exempt. The 30-year rule applies when the file's date would fall on or after its date
    in force. This is one file's date: a person's files go together (`person_purge_date`).
    """
    if case.closed_at is None:
        return None
    last = case.last_event_at or case.closed_at
    day = purge_date(last, retention_category(case), policy)
    if day is None:
        return None
    if day >= policy.retention.child_investigation_rule_from:
        if case.investigation_opened_at is not None and case.subject.birth_date is None:
            return None  # a child's investigation with no known birth date: keep
        kept = child_investigation_kept_until(case, policy)
        if kept is not None and kept > day:
            return kept
    return day


def person_purge_date(files: Iterable[CaseState], policy: Policy) -> date | None:
    """The day on which all of one person's files may be purged: the latest of their
    purge dates; None while any of them is open or exempt (nothing about a person is purged
    while other data about the same person remain)."""
    dates = [case_purge_date(case, policy) for case in files]
    if not dates or any(d is None for d in dates):
        return None
    return max(d for d in dates if d is not None)


def person_key(case: CaseState) -> str | None:
    """What ties a file to its person: the personal identity number, normalised to 12
    digits; None when the subject has none (the file cannot be matched to others and is
    judged alone). Personal data: never log it or put it in a report."""
    number = case.subject.personal_identity_number
    if not number:
        return None
    digits = "".join(ch for ch in number if ch.isdigit())
    born = case.subject.birth_date
    if len(digits) == 10 and born is not None:
        digits = f"{born.year // 100:02d}{digits}"
    return digits
