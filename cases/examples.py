"""Copy-paste examples of operator input, shown in the README and the Web UI start form.

The person is fictitious: the personal identity number uses the birth number ``000``,
which the Swedish Tax Agency never issues.
"""

from __future__ import annotations

from typing import Any

EXAMPLE_OPEN_CASE: dict[str, Any] = {
    "case_number": "MAL-2026-0042",
    "municipality": "Malmö",
    "received_at": "2026-03-02T10:15:00+01:00",
    "reporter_kind": "school",
    "mandatory_reporter": True,
    "channel": "written",
    "subject": {
        "personal_identity_number": "20120315-0004",
        "name": "Testperson Exempelsson",
        "birth_date": "2012-03-15",
    },
    "concern_category": "violent_extremist_environment",
    "summary": "Teacher reports that the pupil shares violent propaganda in class chats.",
    "urgent": False,
}
