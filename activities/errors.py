"""The error types activities raise that retrying cannot fix, in one place.

Activities raise `temporalio.exceptions.ApplicationError` with one of these ``type`` names
and ``non_retryable=True``; workflows list the same names in their retry policies, so a
misnamed type cannot slip through as retryable on one side only.
"""

from __future__ import annotations

from typing import Final

#: The event store refused the append: another writer won (expected version) or an event
#: cannot be read back as a domain event (`activities.eventstore`).
APPEND_ERRORS: Final = ("WrongExpectedVersion", "EventRejected")
#: An agency system refused the call in a way a retry cannot change (`activities.agencies`).
AGENCY_ERRORS: Final = (
    "AgencyRejected",
    "AgencyUnknown",
    "AgencyUnauthorized",
    "PersonalDataRefused",
)
#: The notification endpoint refused a notice (`activities.notifications`).
NOTIFICATION_ERRORS: Final = ("AgencyRejected", "AgencyUnknown", "AgencyUnauthorized")
