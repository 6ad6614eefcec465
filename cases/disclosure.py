"""What the officer states for a disclosure: the legal basis's own conditions.

A consultation request that discloses personal data carries a `DisclosureStatement`: the
part its legal basis asks for (`STATEMENT_PART`), stated by the officer who requests it —
the harm assessment (menprövning, OSL 26:1) when secrecy is lifted by it, the three
conditions of OSL 10:18 a, the consent (whose, its scope, when it was given; OSL 12:2,
12:3), why a disclosure is necessary (OSL 10:2), the protective intervention (OSL 26:9),
the terrorism purpose (OSL 10:18 b, unverified numbering: docs/legal.md) or the statute
imposing a duty to disclose (OSL 10:28). Nothing is filled in for the officer: a request
without its part is refused, naming the field (`cases.access.check_statement`).

The free-text parts are personal-ish: the whole statement is a personal field of the
events that carry it (sealed by the event store's encryption).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from cases.models import DomainModel, LegalBasis

StatedText = Annotated[str, Field(max_length=20_000)]


class ConsentGiver(StrEnum):
    """Whose consent (OSL 12:2; for a child, 12:3): the young person, the guardians
    (vårdnadshavare), or both."""

    SUBJECT = "subject"
    GUARDIANS = "guardians"
    SUBJECT_AND_GUARDIANS = "subject_and_guardians"


class HarmAssessment(DomainModel):
    """The harm assessment (menprövning) under OSL 26:1: secrecy does not apply if it is
    clear that the data can be disclosed without the person or a relative suffering harm."""

    harm_found: bool
    reasons: StatedText


class YoungPersonConditions(DomainModel):
    """OSL 10:18 a's three conditions (prop. 2011/12:171): special circumstances give a risk
    that the young person will engage in criminal activity; the data can be assumed to help
    prevent it; and it is not inappropriate with regard to social services' planned or
    ongoing interventions or other special reasons."""

    risk_of_criminal_activity: StatedText
    may_help_prevent: StatedText
    not_inappropriate: StatedText


class ConsentStatement(DomainModel):
    """The consent relied on: whose, its scope and the day it was given."""

    given_by: ConsentGiver
    scope: StatedText
    given_on: date


class DisclosureStatement(DomainModel):
    """What the officer states for one disclosure; exactly the part its basis asks for."""

    harm_assessment: HarmAssessment | None = None
    osl_10_18a: YoungPersonConditions | None = None
    consent: ConsentStatement | None = None
    necessity: StatedText | None = None
    protective_intervention: StatedText | None = None
    terrorism_purpose: StatedText | None = None
    statutory_duty: Annotated[str, Field(max_length=500)] | None = None


STATEMENT_PART: dict[LegalBasis, str | None] = {
    LegalBasis.OSL_26_1: "harm_assessment",
    LegalBasis.OSL_10_18A: "osl_10_18a",
    LegalBasis.CONSENT: "consent",
    LegalBasis.NECESSARY_DISCLOSURE: "necessity",
    LegalBasis.OSL_26_9: "protective_intervention",
    LegalBasis.TERRORISM_INFORMATION_SHARING: "terrorism_purpose",
    LegalBasis.OSL_10_28: "statutory_duty",
    LegalBasis.NONE: None,
    LegalBasis.DUTY_TO_INFORM: None,
    LegalBasis.OSL_10_15A: None,
}
"""The part of the statement each basis asks for (None: nothing is disclosed on it, or it
is never permitted)."""
