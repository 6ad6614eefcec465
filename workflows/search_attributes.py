"""Samverkan's custom search attributes (DESIGN §5): the names operators filter by in the Web UI.

Never personal data in any of them: search attributes are not encrypted by the codec.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey

CASE_STATE = SearchAttributeKey.for_keyword("CaseState")
MUNICIPALITY = SearchAttributeKey.for_keyword("Municipality")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
OVERDUE_COUNT = SearchAttributeKey.for_int("OverdueCount")
OPEN_CONSULTATIONS = SearchAttributeKey.for_int("OpenConsultations")
AGENCY = SearchAttributeKey.for_keyword_list("Agency")

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    CASE_STATE,
    MUNICIPALITY,
    NEXT_DEADLINE,
    OVERDUE_COUNT,
    OPEN_CONSULTATIONS,
    AGENCY,
)


def cli_flags() -> list[str]:
    """``--search-attribute Name=Type`` flags for ``temporal server start-dev``."""
    kinds = {
        "KEYWORD": "Keyword",
        "DATETIME": "Datetime",
        "INT": "Int",
        "KEYWORD_LIST": "KeywordList",
    }
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name]}"]
    return flags
