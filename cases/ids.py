"""The workflow-id formats, in one place: ``case-<case number>`` and its consultations'
``case-<case number>:consultation-<n>`` (docs/design.md, "Identifiers").

A case number carries no personal data (an operator's register number such as
``2026-0042``); the ids built from it are what the Web UI, the CLI, the codec (it picks the
case's data key by workflow id) and agency systems see.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_NUMBER = r"[A-Za-z0-9][A-Za-z0-9-]{0,39}"
_ORDINAL = r"[1-9][0-9]{0,5}"

#: A case number: letters, digits and hyphens, 1–40 characters, not starting with a hyphen.
CASE_NUMBER_PATTERN = rf"^{_NUMBER}$"
#: The workflow id of a case.
CASE_WORKFLOW_ID_PATTERN = rf"^case-{_NUMBER}$"
#: The id of a consultation (its workflow id, and the id agencies answer on).
CONSULTATION_ID_PATTERN = rf"^case-{_NUMBER}:consultation-{_ORDINAL}$"

_WORKFLOW_ID = re.compile(
    rf"^case-(?P<number>{_NUMBER})(?::consultation-(?P<ordinal>{_ORDINAL}))?$"
)


class WorkflowId(NamedTuple):
    """A parsed case or consultation workflow id."""

    case_number: str
    consultation: int | None  # the n of ``:consultation-n``; None for the case itself

    @property
    def case_workflow_id(self) -> str:
        return case_workflow_id(self.case_number)


def case_workflow_id(case_number: str) -> str:
    """``case-<case number>``."""
    return f"case-{case_number}"


def consultation_id(case_number: str, ordinal: int) -> str:
    """``case-<case number>:consultation-<n>``, the n-th consultation of a case (from 1)."""
    return f"case-{case_number}:consultation-{ordinal}"


def is_consultation_id(text: str) -> bool:
    """Whether ``text`` is a well-formed consultation id."""
    parsed = parse_workflow_id(text)
    return parsed is not None and parsed.consultation is not None


def parse_workflow_id(workflow_id: str | None) -> WorkflowId | None:
    """The parts of a case or consultation workflow id; ``None`` for any other id."""
    if not workflow_id:
        return None
    match = _WORKFLOW_ID.fullmatch(workflow_id)  # no trailing newline, unlike ``$``
    if match is None:
        return None
    ordinal = match["ordinal"]
    return WorkflowId(match["number"], int(ordinal) if ordinal else None)
