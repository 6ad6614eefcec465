"""Escalation notices reach the notification endpoint once, with no personal data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import (
    EscalationNotice,
    NotificationActivities,
    NotificationConfigError,
)
from cases import DeadlineKind, EscalationAction, Role
from infra.settings import Settings

from .support import SimulatorAdmin

NOTICE = EscalationNotice(
    case_number="2024-0001",
    deadline_kind=DeadlineKind.PRE_ASSESSMENT,
    deadline_key="pre_assessment",
    rung_index=1,
    rung_name="day 12: unit manager",
    role=Role.UNIT_MANAGER,
    action=EscalationAction.NOTIFY,
    due=datetime(2024, 3, 14, 23, 59, tzinfo=UTC),
)


async def test_notice_is_posted_once_however_often_retried(simulator: SimulatorAdmin) -> None:
    activities = NotificationActivities(f"{simulator.url}/notifications")

    first = await ActivityEnvironment().run(activities.notify_escalation, NOTICE)
    again = await ActivityEnvironment().run(activities.notify_escalation, NOTICE)

    [created] = await simulator.created("notifications")
    received = await simulator.received("notifications")
    assert created["idempotency_key"] == "2024-0001:pre_assessment:1"
    assert created["body"]["role"] == "unit_manager"
    assert len(received) == 2
    assert first.reference == again.reference
    await activities.aclose()


async def test_notification_endpoint_errors_are_typed(simulator: SimulatorAdmin) -> None:
    activities = NotificationActivities(f"{simulator.url}/notifications")
    await simulator.set_behaviour("notifications", fail_times=1)

    with pytest.raises(ApplicationError) as unavailable:
        await ActivityEnvironment().run(activities.notify_escalation, NOTICE)
    await simulator.set_behaviour("notifications", reject=422)
    with pytest.raises(ApplicationError) as rejected:
        await ActivityEnvironment().run(activities.notify_escalation, NOTICE)

    assert unavailable.value.type == "AgencyUnavailable"
    assert not unavailable.value.non_retryable
    assert rejected.value.type == "AgencyRejected"
    assert rejected.value.non_retryable
    await activities.aclose()


def test_missing_notify_url_is_a_start_up_error() -> None:
    with pytest.raises(NotificationConfigError, match="SAMVERKAN_NOTIFY_URL"):
        NotificationActivities.from_settings(Settings(samverkan_notify_url=None))


def test_escalation_notices_of_two_cases_have_different_idempotency_keys() -> None:
    # Found by the worker-kill fault test: statutory deadline keys repeat across cases, so a
    # key without the case number made the endpoint drop every case's notice but the first.
    first = NOTICE.model_copy(update={"case_number": "MAL-2026-0001"})
    second = NOTICE.model_copy(update={"case_number": "MAL-2026-0002"})
    assert first.idempotency_key != second.idempotency_key
