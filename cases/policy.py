"""The case policy as data: time limits, escalation ladders, answer times, extension limits,
retention rules and legal references.

Nothing in the domain's logic names a statute: the rules point at a `LegalReference`
held here (the new Social Services Act, SFS 2025:400, renumbers the old SoL 2001:453).
`Policy.default` matches DESIGN §2; `Policy.from_toml` reads an operator's file (its
text: reading the file is the caller's I/O), laid over the default table by table.
"""

from __future__ import annotations

import tomllib
from datetime import date, time
from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationError, model_validator

from cases.interning import Interner, mapping_key
from cases.models import (
    Agency,
    DeadlineKind,
    DomainModel,
    EscalationAction,
    Role,
    share_fields_set,
)


class PolicyError(ValueError):
    """A policy text that is not valid TOML or not a valid policy; the message names fields."""


class LegalReference(DomainModel):
    """A provision of an act, as data: e.g. SoL (2001:453) 11 kap. 1 a §."""

    act: str = Field(min_length=1, max_length=100, description="e.g. 'SoL (2001:453)'")
    chapter: int | None = Field(default=None, ge=1)
    section: str = Field(min_length=1, max_length=20, description="e.g. '1 a'")
    valid_from: date

    def cite(self) -> str:
        """The reference in the usual Swedish form, e.g. ``SoL (2001:453) 11 kap. 1 a §``."""
        chapter = f" {self.chapter} kap." if self.chapter is not None else ""
        return f"{self.act}{chapter} {self.section} §"


class Anchor(StrEnum):
    """Which instant of a deadline an escalation rung counts from."""

    START = "start"
    TARGET = "target"
    LEGAL_LATEST = "legal_latest"


class Offset(DomainModel):
    """How far after its anchor a rung fires.

    Applied in this order, in Stockholm local time: ``months`` (1930:173 month arithmetic),
    ``days``, ``working_days``, then ``at`` (a wall-clock time on the day reached) or
    ``hours``/``minutes`` (elapsed time), then ``roll_to_working_day`` (move a non-working
    day to the next working day, keeping the time of day).
    """

    months: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)
    working_days: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    minutes: int = Field(default=0, ge=0)
    at: time | None = None
    roll_to_working_day: bool = False


class Rung(DomainModel):
    """One step of an escalation ladder: when it fires, whom it tells, what it asks."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")
    anchor: Anchor
    offset: Offset = Offset()
    role: Role
    action: EscalationAction


class TimeLimits(DomainModel):
    """Statutory time limits (SoL 11:1 a, 11:2) and the protection-assessment cut-off.

    A report received at or after ``protection_cutoff`` (Stockholm time) gets its protection
    assessment (skyddsbedömning) targeted at the end of the next day, legally latest the
    next working day; earlier reports are due the same day (prop. 2012/13:10).
    """

    protection_cutoff: time = time(15, 0)
    pre_assessment_days: int = Field(default=14, ge=1)
    investigation_months: int = Field(default=4, ge=1)


class ConsultationTime(DomainModel):
    """How many working days an agency has to answer, by local agreement."""

    working_days: int = Field(ge=1)
    acute_working_days: int | None = Field(default=None, ge=1)


class ExtensionLimits(DomainModel):
    """How far an investigation may be extended for special reasons (SoL 11:2)."""

    max_extensions: int = Field(default=2, ge=0)
    max_total_months: int = Field(default=8, ge=1, description="from the opening day")


class RetentionCategory(StrEnum):
    """Retention class of a case file.

    ``standard`` is purged after the retention period; ``placement`` (the child was
    placed or an LVU application made) and ``research_sample`` (born on the 5th, 15th or
    25th: kept for research, SoL 12:2) are exempt from automatic purging by default.
    """

    STANDARD = "standard"
    PLACEMENT = "placement"
    RESEARCH_SAMPLE = "research_sample"


class RetentionRules(DomainModel):
    """When a closed case is purged (gallring, SoL 12:1).

    Reading used: the file is kept ``years_after_last_entry`` years after the last entry;
    the purge then happens at the end of the calendar year following the year in which that
    period ended (``until_end_of_following_year``), so that purging runs once a year.
    """

    years_after_last_entry: int = Field(default=5, ge=1)
    until_end_of_following_year: bool = True
    exempt_categories: frozenset[RetentionCategory] = frozenset(
        {RetentionCategory.PLACEMENT, RetentionCategory.RESEARCH_SAMPLE}
    )


def _ladder(*rungs: Rung) -> tuple[Rung, ...]:
    return rungs


def _default_ladders() -> dict[DeadlineKind, tuple[Rung, ...]]:
    morning = time(8, 0)
    return {
        DeadlineKind.PROTECTION_ASSESSMENT: _ladder(
            Rung(
                name="remind_officer",
                anchor=Anchor.START,
                offset=Offset(hours=2),
                role=Role.OFFICER,
                action=EscalationAction.REMIND,
            ),
            Rung(
                name="unit_manager",
                anchor=Anchor.TARGET,
                offset=Offset(at=time(15, 0)),
                role=Role.UNIT_MANAGER,
                action=EscalationAction.NOTIFY,
            ),
            Rung(
                name="on_call",
                anchor=Anchor.TARGET,
                role=Role.ON_CALL,
                action=EscalationAction.NOTIFY,
            ),
        ),
        DeadlineKind.PRE_ASSESSMENT: _ladder(
            Rung(
                name="remind_officer",
                anchor=Anchor.START,
                offset=Offset(days=10, at=morning, roll_to_working_day=True),
                role=Role.OFFICER,
                action=EscalationAction.REMIND,
            ),
            Rung(
                name="unit_manager",
                anchor=Anchor.START,
                offset=Offset(days=12, at=morning, roll_to_working_day=True),
                role=Role.UNIT_MANAGER,
                action=EscalationAction.NOTIFY,
            ),
            Rung(
                name="breach",
                anchor=Anchor.LEGAL_LATEST,
                role=Role.HEAD_OF_DIVISION,
                action=EscalationAction.DEVIATION_REPORT,
            ),
        ),
        DeadlineKind.INVESTIGATION: _ladder(
            Rung(
                name="extension_decision_due",
                anchor=Anchor.START,
                offset=Offset(months=3, at=morning, roll_to_working_day=True),
                role=Role.UNIT_MANAGER,
                action=EscalationAction.EXTENSION_DECISION_DUE,
            ),
            Rung(
                name="breach",
                anchor=Anchor.LEGAL_LATEST,
                role=Role.HEAD_OF_DIVISION,
                action=EscalationAction.NOTIFY,
            ),
        ),
        DeadlineKind.CONSULTATION: _ladder(
            Rung(
                name="remind_agency",
                anchor=Anchor.TARGET,
                role=Role.AGENCY,
                action=EscalationAction.REMIND,
            ),
            Rung(
                name="agency_contact_person",
                anchor=Anchor.TARGET,
                offset=Offset(working_days=3),
                role=Role.AGENCY,
                action=EscalationAction.CONTACT_PERSON,
            ),
            Rung(
                name="proceed_without_answer",
                anchor=Anchor.TARGET,
                offset=Offset(working_days=5),
                role=Role.OFFICER,
                action=EscalationAction.PROCEED_WITHOUT_ANSWER,
            ),
        ),
    }


def _default_consultation_times() -> dict[Agency, ConsultationTime]:
    return {
        Agency.SCHOOL: ConsultationTime(working_days=5),
        Agency.POLICE: ConsultationTime(working_days=5, acute_working_days=1),
        Agency.SAPO: ConsultationTime(working_days=10),
        Agency.SSPF: ConsultationTime(working_days=10),
        Agency.BUP: ConsultationTime(working_days=10),
        Agency.CVE: ConsultationTime(working_days=10),
    }


_SOL = "SoL (2001:453)"
_OSL = "OSL (2009:400)"
_SOL_FROM = date(2002, 1, 1)


def _default_legal_references() -> dict[str, LegalReference]:
    return {
        "protection_assessment": LegalReference(
            act=_SOL, chapter=11, section="1 a", valid_from=date(2013, 7, 1)
        ),
        "pre_assessment": LegalReference(
            act=_SOL, chapter=11, section="1 a", valid_from=date(2013, 7, 1)
        ),
        "investigation": LegalReference(act=_SOL, chapter=11, section="2", valid_from=_SOL_FROM),
        "investigation_extension": LegalReference(
            act=_SOL, chapter=11, section="2", valid_from=_SOL_FROM
        ),
        "feedback_to_reporter": LegalReference(
            act=_SOL, chapter=14, section="1 b", valid_from=date(2013, 7, 1)
        ),
        "retention": LegalReference(act=_SOL, chapter=12, section="1", valid_from=_SOL_FROM),
        "time_limits": LegalReference(
            act="Lag (1930:173) om beräkning av lagstadgad tid",
            section="2",
            valid_from=date(1931, 1, 1),
        ),
        "osl_10_18a": LegalReference(
            act=_OSL, chapter=10, section="18 a", valid_from=date(2016, 1, 1)
        ),
        "osl_26_9": LegalReference(act=_OSL, chapter=26, section="9", valid_from=date(2009, 6, 30)),
    }


#: The parts of policies, one shared object per value (see `cases.interning`).
_PARTS: Interner[Any] = Interner()
#: Whole policies, one shared object per value.
_POLICIES: Interner[Policy] = Interner()
#: A policy's fields that hold mappings (interned by their items).
_MAPPING_FIELDS = ("ladders", "consultation_times", "legal_references")


class Policy(DomainModel):
    """Everything about deadlines, escalation, answer times and retention that is a choice
    of law or local agreement rather than code.

    Every policy shares its parts (ladders, answer times, references, limits) with the
    equal policies validated before it in this process (`cases.interning`): a worker's
    thousand cached cases hold one copy of the ladders, not a thousand. The parts are
    never mutated: treat the dicts as read-only.
    """

    name: str = Field(default="default", min_length=1, max_length=100)
    time_limits: TimeLimits = TimeLimits()
    ladders: dict[DeadlineKind, tuple[Rung, ...]] = Field(default_factory=_default_ladders)
    consultation_times: dict[Agency, ConsultationTime] = Field(
        default_factory=_default_consultation_times
    )
    extension: ExtensionLimits = ExtensionLimits()
    retention: RetentionRules = RetentionRules()
    legal_references: dict[str, LegalReference] = Field(default_factory=_default_legal_references)

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        missing_agencies = [a.value for a in Agency if a not in self.consultation_times]
        if missing_agencies:
            raise ValueError(f"consultation_times lacks {', '.join(missing_agencies)}")
        for kind, ladder in self.ladders.items():
            names = [rung.name for rung in ladder]
            if len(set(names)) != len(names):
                raise ValueError(f"ladders.{kind.value} repeats a rung name")
        self._share_parts()
        return self

    def _share_parts(self) -> None:
        # Validation just built these values; swapping them for equal shared ones is not
        # a mutation anyone can observe (the model is frozen and compared by value).
        fields = self.__dict__
        for name in _MAPPING_FIELDS:
            fields[name] = _PARTS.intern((name, mapping_key(fields[name])), fields[name])
        for name in ("time_limits", "extension", "retention"):
            fields[name] = _PARTS.intern((name, fields[name]), fields[name])
        share_fields_set(self)

    def _value_key(self) -> tuple[Any, ...]:
        """A hashable key equal for equal policies (the parts are shared, so cheap)."""
        return (
            self.name,
            self.time_limits,
            self.extension,
            self.retention,
            *(mapping_key(getattr(self, name)) for name in _MAPPING_FIELDS),
        )

    def interned(self) -> Policy:
        """The one shared policy equal to this one (this one, the first time).

        A workflow that keeps the policy for its whole life keeps this instead of its
        own decoded copy; equal by value, so decisions and replays are unchanged.
        """
        return _POLICIES.intern(self._value_key(), self)

    def for_deadline(self, kind: DeadlineKind) -> Policy:
        """This policy with only what computing a ``kind`` deadline reads: its time limits,
        answer times and the ``kind`` ladder (no other ladders, no legal references).

        `compute_deadline` and `escalation_schedule` give the same results with it; a
        deadline request carries it instead of the whole policy (a smaller payload).
        """
        ladder = self.ladders.get(kind)
        trimmed = self.model_copy(
            update={
                "ladders": {kind: ladder} if ladder is not None else {},
                "legal_references": {},
            }
        )
        trimmed._share_parts()
        return trimmed.interned()

    @classmethod
    def default(cls) -> Policy:
        """The policy of DESIGN §2."""
        return cls()

    @classmethod
    def from_toml(cls, text: str) -> Policy:
        """A policy from TOML text, each table laid over the default's (arrays replace).

        Raises:
            PolicyError: the text is not TOML, or the result is not a valid policy. The
                message names the offending fields.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"the policy is not valid TOML ({exc})") from None
        merged = _merge(cls.default().model_dump(mode="json"), data)
        try:
            return cls.model_validate(merged)
        except ValidationError as exc:
            fields = sorted(
                {".".join(str(p) for p in err["loc"]) or "<policy>" for err in exc.errors()}
            )
            raise PolicyError(f"the policy has invalid fields: {', '.join(fields)}") from None

    def legal_reference(self, rule: str) -> LegalReference | None:
        """The provision behind ``rule`` (e.g. ``"pre_assessment"``), if the policy names one."""
        return self.legal_references.get(rule)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
