"""The retention step: shred the data keys of closed cases whose purge date has passed.

A closed case's file is kept until its purge date (`cases.case_purge_date`: five years after
the last entry, to the end of the following year; the 30-year rule for a child's
investigation; exempt categories never). Purging is per person (`cases.person_purge_date`):
a file is purged only when every file about the same person (matched by personal identity
number, read decrypted and never reported) is closed, readable, not exempt and due; the
person's date is the latest of theirs. docs/legal.md gives the rules and their sources. On or after that
day its personal data is destroyed by crypto-shredding the case's data key
(`infra.keys.CaseKeys.shred`): the events stay, with markers in their personal fields, as
the non-personal audit trail (DESIGN §2, §4).

The step reads the system of record: the closed cases are the ``case_id`` values with a
``CaseClosed`` event in ``events``; each is folded from its events read through the
encrypting store (the retention category needs the subject's birth date, which is personal
and so encrypted). It is idempotent: a case whose key is already shredded is counted and
left alone, so running it daily (or twice) is harmless.

The same run shreds the intake keys no case adopted within `infra.keys.INTAKE_KEY_LIFETIME`
(what an operator encoded through the codec endpoint but never sent to a case;
docs/security.md, "Keys for what operators type").

It errs on the side of keeping data: a case whose personal fields cannot be decrypted (its
master key is not configured, its key row is missing, a vault row is missing) is **not**
purged but reported as unreadable, because the redaction placeholder's birth date would
otherwise make a research-sample case look like a standard one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

import asyncpg

from cases import (
    CaseState,
    EventRejected,
    Policy,
    RetentionCategory,
    UnexpectedEvent,
    case_purge_date,
    fold,
    open_envelope,
    retention_category,
)
from cases.retention import person_key, person_purge_date
from cases.workdays import local_date
from eventstore import PostgresEventStore
from eventstore.encrypted import (
    PLACEHOLDERS,
    EncryptingEventStore,
    PostgresPersonalDataVault,
)
from infra.keys import CaseKeys, KeyError_, PostgresDataKeyStore, case_scope

_CLOSED_CASES = "SELECT DISTINCT case_id FROM events WHERE type = 'CaseClosed' ORDER BY case_id"
_ALL_CASES = "SELECT DISTINCT case_id FROM events ORDER BY case_id"
_SUBJECT_PLACEHOLDER = next(iter(PLACEHOLDERS.values()))


class Verdict(StrEnum):
    """What the retention step decided for one closed case."""

    DUE = "due"
    """The purge date has passed: the key is shredded (or would be, in a dry run)."""
    NOT_DUE = "not_due"
    EXEMPT = "exempt"
    ALREADY_SHREDDED = "already_shredded"
    UNREADABLE = "unreadable"
    """Its personal fields could not be decrypted: kept, the operator must look."""


@dataclass(frozen=True, slots=True)
class CaseRetention:
    """One closed case's retention facts; no personal data (the category is a class name)."""

    case_number: str
    verdict: Verdict
    category: RetentionCategory | None = None
    purge_date: date | None = None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """The outcome of one run of the retention step."""

    today: date
    dry_run: bool
    cases: tuple[CaseRetention, ...] = field(default=())
    #: Intake keys no case adopted in time, shredded by this run (0 in a dry run).
    intake_keys_shredded: int = 0

    def with_verdict(self, verdict: Verdict) -> list[CaseRetention]:
        """The cases with ``verdict``, by case number."""
        return [c for c in self.cases if c.verdict is verdict]

    def counts(self) -> dict[Verdict, int]:
        """How many closed cases got each verdict (every verdict present, 0 included)."""
        return {v: len(self.with_verdict(v)) for v in Verdict}


def stockholm_today() -> date:
    """Today's date in Stockholm, the calendar the purge dates are counted in."""
    return local_date(datetime.now(UTC))


async def closed_case_numbers(pool: asyncpg.Pool) -> list[str]:
    """The case numbers (event-store ``case_id``) of every case with a ``CaseClosed`` event."""
    return [r["case_id"] for r in await pool.fetch(_CLOSED_CASES)]


async def _key_state(
    store: PostgresDataKeyStore, keys: CaseKeys, case_number: str
) -> Verdict | None:
    """``ALREADY_SHREDDED``, ``UNREADABLE`` or ``None`` when the case key is live and unwraps."""
    stored = await store.by_scope(case_scope(case_number))
    if stored is None:
        return Verdict.UNREADABLE  # every opened case has personal data, hence a key
    if stored.wrapped is None:
        return Verdict.ALREADY_SHREDDED
    try:
        await keys.by_id(stored.key_id, namespace=None)  # the region's check: any namespace
    except KeyError_:
        return Verdict.UNREADABLE
    return None


def _decrypted(case: CaseState) -> bool:
    """Whether the subject was decrypted (not the redaction placeholder)."""
    return case.subject.model_dump(mode="json") != _SUBJECT_PLACEHOLDER


async def _assess(
    *,
    case_number: str,
    events: EncryptingEventStore,
    key_store: PostgresDataKeyStore,
    keys: CaseKeys,
    policy: Policy,
    today: date,
) -> tuple[CaseRetention, CaseState | None]:
    """`assess_case`'s verdict for the file alone, and the folded case when it was read."""
    key_state = await _key_state(key_store, keys, case_number)
    if key_state is not None:
        return CaseRetention(case_number, key_state), None
    try:
        case = fold(open_envelope(e) for e in await events.read_case(case_number))
    except (EventRejected, UnexpectedEvent):
        return CaseRetention(case_number, Verdict.UNREADABLE), None
    if not _decrypted(case):
        return CaseRetention(case_number, Verdict.UNREADABLE), None
    category = retention_category(case)
    purge_on = case_purge_date(case, policy)
    if case.closed_at is None:  # open, or closed then reopened
        return CaseRetention(case_number, Verdict.NOT_DUE, category, None), case
    if purge_on is None:
        verdict = Verdict.EXEMPT if category is not RetentionCategory.STANDARD else Verdict.NOT_DUE
        return CaseRetention(case_number, verdict, category, None), case
    verdict = Verdict.DUE if purge_on <= today else Verdict.NOT_DUE
    return CaseRetention(case_number, verdict, category, purge_on), case


def per_person(
    assessed: Sequence[tuple[CaseRetention, CaseState | None]], *, policy: Policy, today: date
) -> list[CaseRetention]:
    """Each file's verdict once its person's other files are counted: a file is due only
    when its person's date (`cases.person_purge_date`, the latest of all their files) has
    come; a person with an open, exempt or unreadable file keeps every file. A file whose
    subject has no personal identity number is judged alone (it cannot be matched)."""
    people: dict[str, list[CaseState]] = {}
    for _, case in assessed:
        if case is not None and (key := person_key(case)) is not None:
            people.setdefault(key, []).append(case)
    result = []
    for verdict, case in assessed:
        key = person_key(case) if case is not None else None
        if verdict.verdict is not Verdict.DUE or case is None or key is None:
            result.append(verdict)
            continue
        person_date = person_purge_date(people[key], policy)
        if person_date is None:
            others = [c for c in people[key] if c is not case]
            exempt = any(
                case_purge_date(c, policy) is None and c.closed_at is not None for c in others
            )
            result.append(
                CaseRetention(
                    verdict.case_number,
                    Verdict.EXEMPT if exempt else Verdict.NOT_DUE,
                    verdict.category,
                    None,
                )
            )
        else:
            due = Verdict.DUE if person_date <= today else Verdict.NOT_DUE
            result.append(CaseRetention(verdict.case_number, due, verdict.category, person_date))
    return result


async def assess_case(
    *,
    case_number: str,
    events: EncryptingEventStore,
    key_store: PostgresDataKeyStore,
    keys: CaseKeys,
    policy: Policy,
    today: date,
) -> CaseRetention:
    """The retention verdict of one closed case; reads, never writes."""
    key_state = await _key_state(key_store, keys, case_number)
    if key_state is not None:
        return CaseRetention(case_number, key_state)
    try:
        case = fold(open_envelope(e) for e in await events.read_case(case_number))
    except (EventRejected, UnexpectedEvent):
        return CaseRetention(case_number, Verdict.UNREADABLE)
    if not _decrypted(case):
        return CaseRetention(case_number, Verdict.UNREADABLE)
    category = retention_category(case)
    purge_on = case_purge_date(case, policy)
    if case.closed_at is None:  # closed, then reopened: a later event moved it on
        return CaseRetention(case_number, Verdict.NOT_DUE, category, None)
    if purge_on is None:
        return CaseRetention(case_number, Verdict.EXEMPT, category, None)
    verdict = Verdict.DUE if purge_on <= today else Verdict.NOT_DUE
    return CaseRetention(case_number, verdict, category, purge_on)


async def purge_due(
    pool: asyncpg.Pool,
    keys: CaseKeys,
    *,
    policy: Policy,
    today: date,
    dry_run: bool = False,
    case_numbers: Sequence[str] | None = None,
) -> PurgeReport:
    """Shred the keys of every closed case whose purge date is ``today`` or earlier.

    Args:
        pool: the event store's database (``events``, ``event_personal_data``, ``data_keys``).
        keys: the data keys, with the master keys that unwrap them.
        policy: the retention rules in force.
        today: the day to judge by (Stockholm date).
        dry_run: decide and report, shred nothing.
        case_numbers: only these cases (default: every closed case).
    """
    key_store = PostgresDataKeyStore(pool)
    events = EncryptingEventStore(
        PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
    )
    numbers = list(case_numbers) if case_numbers is not None else await closed_case_numbers(pool)
    # every file is read, open ones too: a person's open file keeps their closed ones
    every = [r["case_id"] for r in await pool.fetch(_ALL_CASES)]
    assessed = [
        await _assess(
            case_number=number,
            events=events,
            key_store=key_store,
            keys=keys,
            policy=policy,
            today=today,
        )
        for number in dict.fromkeys([*numbers, *every])
    ]
    judged = {v.case_number: v for v in per_person(assessed, policy=policy, today=today)}
    verdicts: list[CaseRetention] = []
    for number in numbers:
        verdict = judged[number]
        if verdict.verdict is Verdict.DUE and not dry_run:
            await keys.shred(case_scope(number))
        verdicts.append(verdict)
    intake = 0 if dry_run else await keys.shred_stale_intake()
    return PurgeReport(
        today=today, dry_run=dry_run, cases=tuple(verdicts), intake_keys_shredded=intake
    )
