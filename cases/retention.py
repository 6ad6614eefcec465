"""Retention: when a closed case's file is purged (gallring, SoL 12:1), as policy data.

Reading of the rule (`RetentionRules`): the file is kept five years after its last entry;
counting then runs to the end of the calendar year that follows the year in which those
five years ended. A last entry on 2026-03-10 gives five years ending 2031-03-10 and a
purge date of 2032-12-31. Files in an exempt category (placed children, the research
sample born on the 5th, 15th or 25th, SoL 12:2) are never purged automatically.
"""

from __future__ import annotations

from datetime import date, datetime

from cases.models import InvestigationOutcome
from cases.policy import Policy, RetentionCategory
from cases.state import CaseState
from cases.workdays import add_months, local_date

RESEARCH_SAMPLE_DAYS = frozenset({5, 15, 25})


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


def retention_category(case: CaseState) -> RetentionCategory:
    """The retention category the case's own data implies."""
    if case.outcome is InvestigationOutcome.LVU_APPLICATION:
        return RetentionCategory.PLACEMENT
    born = case.subject.birth_date  # None for a child not yet identified
    if born is not None and born.day in RESEARCH_SAMPLE_DAYS:
        return RetentionCategory.RESEARCH_SAMPLE
    return RetentionCategory.STANDARD


def case_purge_date(case: CaseState, policy: Policy) -> date | None:
    """The purge date of a closed case, from its last entry; None while it is open or exempt."""
    if case.closed_at is None:
        return None
    last = case.last_event_at or case.closed_at
    return purge_date(last, retention_category(case), policy)
