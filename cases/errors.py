"""`Rejected`: what `decide` raises when the case's state or the law does not allow a command."""

from __future__ import annotations


class Rejected(Exception):
    """A command the case refuses.

    Attributes:
        code: a stable machine-readable reason, e.g. ``pre_assessment_already_decided``.
        field: the command field at fault, or None when the state is at fault.
        message: one plain sentence naming the field or rule, never a value.
    """

    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, str | None]:
        """The rejection as JSON for an update's error details."""
        return {"code": self.code, "field": self.field, "message": self.message}
