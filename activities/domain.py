"""The names from the `cases` domain that agency integrations and the simulator use.

One import point, so the activities and the simulator agree with `cases` on every name.
"""

from __future__ import annotations

from cases import (
    AcknowledgeConsultation,
    Agency,
    AnswerConsultation,
    DeadlineKind,
    DeclineConsultation,
    EscalationAction,
    LegalBasis,
    Role,
)
from cases.access import PERSONAL_PAYLOAD_FIELDS
from cases.models import CASE_NUMBER_PATTERN

__all__ = [
    "CASE_NUMBER_PATTERN",
    "PERSONAL_PAYLOAD_FIELDS",
    "AcknowledgeConsultation",
    "Agency",
    "AnswerConsultation",
    "DeadlineKind",
    "DeclineConsultation",
    "EscalationAction",
    "LegalBasis",
    "Role",
]
