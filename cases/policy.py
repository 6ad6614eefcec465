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

from pydantic import Field, ValidationError, field_validator, model_validator

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
    """A provision of an act, as versioned data: e.g. SoL (2001:453) 11 kap. 1 a §.

    ``section`` is the paragraph (§), e.g. ``"1 a"``. A reference is in force from
    ``valid_from`` through ``valid_to`` (inclusive; None: still in force). ``source`` says
    where the text was read, ``verified`` whether the paragraph was checked against the
    statute text (docs/legal.md lists every reference and what remains unverified).
    References stored before these fields existed read with their defaults.
    """

    act: str = Field(min_length=1, max_length=100, description="e.g. 'SoL' or 'SoL (2001:453)'")
    sfs: str | None = Field(
        default=None, pattern=r"^\d{4}:\d{1,4}$", description="SFS number, e.g. '2025:400'"
    )
    chapter: int | None = Field(default=None, ge=1)
    section: str = Field(min_length=1, max_length=20, description="the paragraph, e.g. '1 a'")
    valid_from: date
    valid_to: date | None = None
    source: str = Field(default="", max_length=300)
    verified: bool = False

    @model_validator(mode="after")
    def _period(self) -> LegalReference:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to must not be before valid_from")
        return self

    def cite(self) -> str:
        """The reference in the usual Swedish form, e.g. ``SoL (2025:400) 20 kap. 2 §``."""
        act = self.act if self.sfs is None or self.sfs in self.act else f"{self.act} ({self.sfs})"
        chapter = f" {self.chapter} kap." if self.chapter is not None else ""
        return f"{act}{chapter} {self.section} §"

    def label(self) -> str:
        """`cite`, marked ``(unverified)`` unless checked against the statute text."""
        return self.cite() if self.verified else f"{self.cite()} (unverified)"

    def in_force_on(self, day: date) -> bool:
        """Whether the provision applied on ``day``."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


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


#: What the protection-assessment cut-off is: a local choice, not a rule of law.
PROTECTION_CUTOFF_BASIS = (
    "local practice (lokal rutin), not law: the statute says 'genast'; prop. 2012/13:10 "
    "s. 60 accepts the next day for a report received late in the day"
)


class TimeLimits(DomainModel):
    """Statutory time limits (the pre-assessment's 14 days, the investigation's four months;
    see the legal references) and the protection-assessment cut-off.

    The protection assessment (skyddsbedömning) is due "genast" (at once): its target is
    the day of receipt, and its legal latest is that target, never moved by lag 1930:173.
    ``protection_cutoff`` is local practice, not law (``protection_cutoff_basis``): a report
    received at or after it (Stockholm time) is targeted at the end of the next day.
    """

    protection_cutoff: time = time(15, 0)
    protection_cutoff_basis: str = Field(
        default=PROTECTION_CUTOFF_BASIS, min_length=1, max_length=300
    )
    pre_assessment_days: int = Field(default=14, ge=1)
    investigation_months: int = Field(default=4, ge=1)
    custody_submission_days: int = Field(
        default=7, ge=1, description="LVU 7 §: one week from the day the custody was decided"
    )
    care_application_days: int = Field(
        default=28, ge=1, description="LVU 8 §: four weeks from the day it was carried out"
    )
    feedback_to_reporter_days: int = Field(
        default=14,
        ge=1,
        description="feedback to a mandatory reporter, from the pre-assessment decision "
        "(UNVERIFIED: prop. 2025/26:12 sets 'a set time'; the number is a local value)",
    )


class DutyRules(DomainModel):
    """Duties checked on new decisions only (update validators).

    ``child_views_required_from``: a case received on or after this day cannot conclude
    its investigation before the child's views, or why the child was not heard, are
    recorded; cases received before it (already running when the rule came) are not held.
    """

    child_views_required_from: date = date(2026, 12, 1)


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

    ``standard`` is purged after the retention period; ``placement`` (any placement of
    the child: immediate custody, an LVU application, a placement outside the home) and
    ``research_sample`` (born on the 5th, 15th or 25th: kept for research, SoF (2001:937)
    7 kap. 2 §) are exempt from automatic purging by default.
    """

    STANDARD = "standard"
    PLACEMENT = "placement"
    RESEARCH_SAMPLE = "research_sample"


class RetentionRules(DomainModel):
    """When a person's closed files are purged (gallring; see the ``retention`` reference).

    Reading used: a file is kept ``years_after_last_entry`` years after the last entry;
    the purge then happens at the end of the calendar year following the year in which that
    period ended (``until_end_of_following_year``), so that purging runs once a year.
    Nothing about a person is purged while other data about the same person remain (the
    latest of their files decides). A child's investigation documents are kept
    ``child_investigation_years`` years from the child's birth when that would be later
    (prop. 2025/26:12), for purges due on or after ``child_investigation_rule_from``.
    """

    years_after_last_entry: int = Field(default=5, ge=1)
    until_end_of_following_year: bool = True
    exempt_categories: frozenset[RetentionCategory] = frozenset(
        {RetentionCategory.PLACEMENT, RetentionCategory.RESEARCH_SAMPLE}
    )
    child_investigation_years: int = Field(default=30, ge=1)
    child_investigation_rule_from: date = Field(
        default=date(2026, 1, 1),
        description="date in force of the 30-year rule (UNVERIFIED, see docs/legal.md)",
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
        DeadlineKind.CUSTODY_SUBMISSION: _ladder(
            Rung(
                name="remind_officer",
                anchor=Anchor.START,
                offset=Offset(days=3, at=morning, roll_to_working_day=True),
                role=Role.OFFICER,
                action=EscalationAction.REMIND,
            ),
            Rung(
                name="unit_manager",
                anchor=Anchor.TARGET,
                offset=Offset(at=morning),
                role=Role.UNIT_MANAGER,
                action=EscalationAction.NOTIFY,
            ),
            Rung(
                name="custody_lapses",
                anchor=Anchor.LEGAL_LATEST,
                role=Role.HEAD_OF_DIVISION,
                action=EscalationAction.DEVIATION_REPORT,
            ),
        ),
        DeadlineKind.CARE_APPLICATION: _ladder(
            Rung(
                name="remind_officer",
                anchor=Anchor.START,
                offset=Offset(days=14, at=morning, roll_to_working_day=True),
                role=Role.OFFICER,
                action=EscalationAction.REMIND,
            ),
            Rung(
                name="unit_manager",
                anchor=Anchor.START,
                offset=Offset(days=21, at=morning, roll_to_working_day=True),
                role=Role.UNIT_MANAGER,
                action=EscalationAction.NOTIFY,
            ),
            Rung(
                name="last_day",
                anchor=Anchor.TARGET,
                offset=Offset(at=morning),
                role=Role.HEAD_OF_DIVISION,
                action=EscalationAction.NOTIFY,
            ),
            Rung(
                name="custody_lapses",
                anchor=Anchor.LEGAL_LATEST,
                role=Role.HEAD_OF_DIVISION,
                action=EscalationAction.DEVIATION_REPORT,
            ),
        ),
        DeadlineKind.FEEDBACK_TO_REPORTER: _ladder(
            Rung(
                name="remind_officer",
                anchor=Anchor.TARGET,
                offset=Offset(at=morning),
                role=Role.OFFICER,
                action=EscalationAction.REMIND,
            ),
            Rung(
                name="unit_manager",
                anchor=Anchor.LEGAL_LATEST,
                role=Role.UNIT_MANAGER,
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


_OLD_SOL_END = date(2025, 6, 30)
_NEW_SOL_FROM = date(2025, 7, 1)
_PROP_2012_13_10 = "prop. 2012/13:10; SFS 2012:776"
_NEW_SOL_SOURCE = "SFS 2025:400, prop. 2024/25:89 (paragraph not confirmed: docs/legal.md)"


def _old_sol(
    chapter: int, section: str, valid_from: date, source: str, *, verified: bool = True
) -> LegalReference:
    return LegalReference(
        act="SoL",
        sfs="2001:453",
        chapter=chapter,
        section=section,
        valid_from=valid_from,
        valid_to=_OLD_SOL_END,
        source=source,
        verified=verified,
    )


def _new_sol(chapter: int, section: str, *, verified: bool = False) -> LegalReference:
    return LegalReference(
        act="SoL",
        sfs="2025:400",
        chapter=chapter,
        section=section,
        valid_from=_NEW_SOL_FROM,
        source=_NEW_SOL_SOURCE,
        verified=verified,
    )


def _lvu(section: str, source: str) -> LegalReference:
    """A paragraph of LVU (1990:52), read in secondary sources only (docs/legal.md)."""
    return LegalReference(
        act="LVU",
        sfs="1990:52",
        section=section,
        valid_from=date(1990, 7, 1),
        source=f"lag (1990:52) med särskilda bestämmelser om vård av unga {source}",
        verified=False,
    )


def _default_legal_references() -> dict[str, tuple[LegalReference, ...]]:
    """The legal reference table: each rule's provisions, oldest first (docs/legal.md)."""
    since_2013 = date(2013, 1, 1)
    since_2002 = date(2002, 1, 1)
    return {
        "protection_assessment": (
            _old_sol(11, "1 a", since_2013, f"11 kap. 1 a § första stycket; {_PROP_2012_13_10}"),
            _new_sol(20, "1"),
        ),
        "pre_assessment": (
            _old_sol(11, "1 a", since_2013, f"11 kap. 1 a § andra stycket; {_PROP_2012_13_10}"),
            _new_sol(20, "2"),
        ),
        "pre_assessment_extension": (
            _old_sol(
                11,
                "1 a",
                since_2013,
                f"11 kap. 1 a § andra stycket ('synnerliga skäl'); {_PROP_2012_13_10}",
                verified=False,
            ),
            _new_sol(20, "2"),
        ),
        "lvu_6": (_lvu("6", "6 § (JO 534-2013, JO 7244-2015 on lagen.nu)"),),
        "lvu_7": (_lvu("7", "7 § första stycket (Lawline; JO 534-2013 on lagen.nu)"),),
        "lvu_8": (_lvu("8", "8 § (JO 7244-2015 on lagen.nu)"),),
        "lvu_9": (_lvu("9", "9 § (Lawline; JO 534-2013 places the 7 § lapse in 7 §)"),),
        "investigation": (
            _old_sol(11, "2", since_2002, "11 kap. 2 § tredje stycket", verified=False),
            _new_sol(20, "9"),
        ),
        "investigation_extension": (
            _old_sol(11, "2", since_2002, "11 kap. 2 § tredje stycket", verified=False),
            _new_sol(20, "9"),
        ),
        "feedback_to_reporter": (
            _old_sol(14, "1 b", since_2013, _PROP_2012_13_10, verified=False),
            _new_sol(19, "7"),
        ),
        "retention": (
            _old_sol(12, "1", date(2003, 7, 1), "12 kap. 1 § in the wording of SFS 2003:135"),
            _new_sol(29, "1"),
        ),
        "placement_exempt": (
            _old_sol(12, "2", date(2003, 7, 1), "12 kap. 2 § första stycket 3; SFS 2005:452"),
            _new_sol(29, "2"),
        ),
        "research_sample": (
            LegalReference(
                act="SoF",
                sfs="2001:937",
                chapter=7,
                section="2",
                valid_from=since_2002,
                source="socialtjänstförordningen (2001:937) 7 kap. 2 § (successor from "
                "2025-07-01 not confirmed)",
            ),
        ),
        "child_investigation_retention": (
            LegalReference(
                act="SoL",
                sfs="2025:400",
                chapter=29,
                section="3",
                valid_from=date(2026, 1, 1),
                source="prop. 2025/26:12 (paragraph and date in force not confirmed)",
            ),
        ),
        "time_limits": (
            LegalReference(
                act="Lag (1930:173) om beräkning av lagstadgad tid",
                sfs="1930:173",
                section="2",
                valid_from=date(1931, 1, 1),
                source="lag (1930:173) 2 §",
                verified=True,
            ),
        ),
        "osl_10_18a": (
            LegalReference(
                act="OSL",
                sfs="2009:400",
                chapter=10,
                section="18 a",
                valid_from=date(2016, 1, 1),
                source="offentlighets- och sekretesslagen (2009:400)",
            ),
        ),
        "osl_26_9": (
            LegalReference(
                act="OSL",
                sfs="2009:400",
                chapter=26,
                section="9",
                valid_from=date(2009, 6, 30),
                source="offentlighets- och sekretesslagen (2009:400)",
            ),
        ),
    }


#: The legal-reference rule behind each kind of deadline (a consultation's is an agreement).
DEADLINE_RULES: dict[DeadlineKind, str] = {
    DeadlineKind.PROTECTION_ASSESSMENT: "protection_assessment",
    DeadlineKind.PRE_ASSESSMENT: "pre_assessment",
    DeadlineKind.INVESTIGATION: "investigation",
    DeadlineKind.CUSTODY_SUBMISSION: "lvu_7",
    DeadlineKind.CARE_APPLICATION: "lvu_8",
    DeadlineKind.FEEDBACK_TO_REPORTER: "feedback_to_reporter",
}


def deadline_rule(kind: DeadlineKind, *, extended: bool = False) -> str | None:
    """The legal-reference rule of a ``kind`` deadline (an extended investigation's is
    ``investigation_extension``); None for a consultation (a local agreement)."""
    if kind is DeadlineKind.INVESTIGATION and extended:
        return "investigation_extension"
    if kind is DeadlineKind.PRE_ASSESSMENT and extended:
        return "pre_assessment_extension"
    return DEADLINE_RULES.get(kind)


def _references(value: Any) -> Any:
    """One reference (the shape stored before references were versioned) as a tuple of one."""
    if isinstance(value, dict | LegalReference):
        return (value,)
    return value


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
    duties: DutyRules = DutyRules()
    legal_references: dict[str, tuple[LegalReference, ...]] = Field(
        default_factory=_default_legal_references
    )

    @field_validator("legal_references", mode="before")
    @classmethod
    def _versioned(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {rule: _references(refs) for rule, refs in value.items()}
        return value

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
        for name in ("time_limits", "extension", "retention", "duties"):
            fields[name] = _PARTS.intern((name, fields[name]), fields[name])
        share_fields_set(self)

    def _value_key(self) -> tuple[Any, ...]:
        """A hashable key equal for equal policies (the parts are shared, so cheap)."""
        return (
            self.name,
            self.time_limits,
            self.extension,
            self.retention,
            self.duties,
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
        answer times, the ``kind`` ladder and the ``kind`` deadline's legal references (no
        other ladders or references).

        `compute_deadline` and `escalation_schedule` give the same results with it; a
        deadline request carries it instead of the whole policy (a smaller payload).
        """
        ladder = self.ladders.get(kind)
        rules = {deadline_rule(kind), deadline_rule(kind, extended=True)}
        trimmed = self.model_copy(
            update={
                "ladders": {kind: ladder} if ladder is not None else {},
                "legal_references": {
                    rule: refs for rule, refs in self.legal_references.items() if rule in rules
                },
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

    def resolve(self, rule: str, *, on: date) -> LegalReference | None:
        """The provision behind ``rule`` (e.g. ``"pre_assessment"``) in force ``on`` a day.

        ``on`` is the case's received date, or for a later step the date of that step.
        Of several references in force that day the one in force from the latest date
        wins; None when the policy names none for that day.
        """
        in_force = [ref for ref in self.legal_references.get(rule, ()) if ref.in_force_on(on)]
        return max(in_force, key=lambda ref: ref.valid_from, default=None)

    def legal_reference(self, rule: str, on: date | None = None) -> LegalReference | None:
        """`resolve` ``on`` a day; without one, the reference in force from the latest date
        (the current law as far as the table knows). Callers that know the case's date
        should pass it."""
        if on is not None:
            return self.resolve(rule, on=on)
        return max(self.legal_references.get(rule, ()), key=lambda r: r.valid_from, default=None)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
