"""The agency activities against the real simulator over HTTP: errors, timeouts, minimisation."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.agencies import (
    AgencyActivities,
    ConsultationStatusRequest,
    DeliverConsultationRequest,
    DeliverNoticeRequest,
    find_personal_data,
)
from activities.config import AgencyDirectory
from cases import Agency, LegalBasis

from .support import SimulatorAdmin, directory_for

CONSULTATION_ID = "case-2024-0001:consultation-1"


def consultation(
    agency: Agency = Agency.POLICE, payload: dict[str, Any] | None = None, **fields: Any
) -> DeliverConsultationRequest:
    return DeliverConsultationRequest(
        consultation_id=fields.pop("consultation_id", CONSULTATION_ID),
        case_number="2024-0001",
        agency=agency,
        legal_basis=fields.pop("legal_basis", LegalBasis.OSL_10_18A),
        payload=payload if payload is not None else {"question": "Risk assessment?"},
        contains_personal_data=fields.pop("contains_personal_data", False),
        **fields,
    )


@pytest_asyncio.fixture
async def agency_activities(simulator: SimulatorAdmin) -> AsyncIterator[AgencyActivities]:
    activities = AgencyActivities(directory_for(simulator.url))
    yield activities
    await activities.aclose()


def attempt(number: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=number)
    return env


async def test_delivery_sends_consultation_id_as_idempotency_key(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    receipt = await ActivityEnvironment().run(
        agency_activities.deliver_consultation, consultation()
    )

    [received] = await simulator.received("police")
    assert received["headers"]["idempotency-key"] == CONSULTATION_ID
    assert received["body"]["payload"] == {"question": "Risk assessment?"}
    assert receipt.agency_reference == (await simulator.created("police"))[0]["reference"]
    assert receipt.attempts == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "AgencyRejected"),
        (409, "AgencyRejected"),
        (422, "AgencyRejected"),
        (404, "AgencyUnknown"),
        (401, "AgencyUnauthorized"),
        (403, "AgencyUnauthorized"),
    ],
)
async def test_4xx_becomes_a_typed_non_retryable_error(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities, status: int, error_type: str
) -> None:
    await simulator.set_behaviour("police", reject=status)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(agency_activities.deliver_consultation, consultation())

    assert caught.value.type == error_type
    assert caught.value.non_retryable
    assert str(status) in caught.value.message


async def test_5xx_is_retryable(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    await simulator.set_behaviour("police", fail_times=1)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(agency_activities.deliver_consultation, consultation())

    assert caught.value.type == "AgencyUnavailable"
    assert not caught.value.non_retryable


async def test_wrong_credentials_are_unauthorized(simulator: SimulatorAdmin) -> None:
    await simulator.set_behaviour("bup", require_bearer="right")
    directory = directory_for(
        simulator.url, agencies={"bup": {"credentials": {"kind": "bearer", "token": "wrong"}}}
    )

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            AgencyActivities(directory).deliver_consultation,
            consultation(Agency.BUP, legal_basis=LegalBasis.CONSENT),
        )

    assert caught.value.type == "AgencyUnauthorized"
    assert "wrong" not in caught.value.message


async def test_agency_not_configured_is_unknown(simulator: SimulatorAdmin) -> None:
    directory = AgencyDirectory({Agency.SCHOOL: directory_for(simulator.url).endpoint("school")})

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            AgencyActivities(directory).deliver_consultation, consultation()
        )

    assert caught.value.type == "AgencyUnknown"
    assert caught.value.non_retryable
    assert await simulator.received() == []


async def test_slow_agency_times_out_retryably_and_the_retry_creates_nothing_new(
    simulator: SimulatorAdmin,
) -> None:
    await simulator.set_behaviour("police", slow=1.0)
    activities = AgencyActivities(
        directory=directory_for(simulator.url, request_timeout_seconds=0.3)
    )

    with pytest.raises(ApplicationError) as caught:
        await attempt(1).run(activities.deliver_consultation, consultation())
    assert caught.value.type == "AgencyTimeout"
    assert not caught.value.non_retryable

    await simulator.set_behaviour("police", slow=0.0)
    receipt = await attempt(2).run(activities.deliver_consultation, consultation())

    created = await simulator.created("police")
    assert len(created) == 1
    assert receipt.agency_reference == created[0]["reference"]
    assert receipt.attempts == 2
    assert len(await simulator.received("police")) == 2
    await activities.aclose()


async def test_long_call_heartbeats(simulator: SimulatorAdmin) -> None:
    await simulator.set_behaviour("police", slow=0.35)
    activities = AgencyActivities(directory_for(simulator.url))
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    await env.run(activities.deliver_consultation, consultation())

    assert len(beats) >= 2
    await activities.aclose()


@pytest.mark.parametrize(
    "payload",
    [
        {"question": "Method advice?", "youth": {"name": "Anna Andersson"}},
        {"question": "Method advice?", "personal_identity_number": "20080512-1234"},
        {"question": "What about 200805121234?"},
        {"notes": ["fine", {"first_name": "Anna"}]},
    ],
)
async def test_personal_data_for_cve_is_refused_and_never_sent(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities, payload: dict[str, Any]
) -> None:
    request = consultation(Agency.CVE, payload, legal_basis=LegalBasis.NONE)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(agency_activities.deliver_consultation, request)

    assert caught.value.type == "PersonalDataRefused"
    assert caught.value.non_retryable
    assert "Anna" not in caught.value.message
    assert "1234" not in caught.value.message
    assert await simulator.received("cve") == []


async def test_cve_request_marked_personal_is_refused(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    request = consultation(Agency.CVE, legal_basis=LegalBasis.NONE, contains_personal_data=True)

    with pytest.raises(ApplicationError, match="marked as containing personal data"):
        await ActivityEnvironment().run(agency_activities.deliver_consultation, request)

    assert await simulator.received("cve") == []


async def test_cve_receives_only_anonymised_questions(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    anonymised = {"question": "Method advice for a 15-year-old in online propaganda circles?"}
    await ActivityEnvironment().run(
        agency_activities.deliver_consultation,
        consultation(Agency.CVE, anonymised, legal_basis=LegalBasis.NONE),
    )

    received = await simulator.received("cve")
    assert len(received) == 1
    assert all(list(find_personal_data(r["body"])) == [] for r in received)


async def test_police_may_receive_personal_data_under_its_legal_basis(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    payload = {"youth": {"name": "Anna Andersson", "personal_identity_number": "20080512-1234"}}

    await ActivityEnvironment().run(
        agency_activities.deliver_consultation,
        consultation(Agency.POLICE, payload, contains_personal_data=True),
    )

    [received] = await simulator.received("police")
    assert received["body"]["payload"] == payload
    assert received["body"]["legal_basis"] == "osl_10_18a"


async def test_notice_is_delivered_once_per_notice_key(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    notice = DeliverNoticeRequest(
        consultation_id=CONSULTATION_ID,
        case_number="2024-0001",
        agency=Agency.SCHOOL,
        kind="reminder",
        notice_key="consultation-due:0",
        rung_name="at due: remind agency",
    )

    first = await attempt(1).run(agency_activities.deliver_agency_notice, notice)
    second = await attempt(2).run(agency_activities.deliver_agency_notice, notice)

    [created] = await simulator.created("school")
    assert created["idempotency_key"] == f"{CONSULTATION_ID}:consultation-due:0"
    assert created["kind"] == "notice"
    assert first.agency_reference == second.agency_reference


async def test_status_follows_the_agency(
    simulator: SimulatorAdmin, agency_activities: AgencyActivities
) -> None:
    await simulator.set_behaviour("sapo", never_answer=True)
    await ActivityEnvironment().run(
        agency_activities.deliver_consultation,
        consultation(Agency.SAPO, legal_basis=LegalBasis.TERRORISM_INFORMATION_SHARING),
    )

    status = await ActivityEnvironment().run(
        agency_activities.fetch_consultation_status,
        ConsultationStatusRequest(consultation_id=CONSULTATION_ID, agency=Agency.SAPO),
    )
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            agency_activities.fetch_consultation_status,
            ConsultationStatusRequest(consultation_id="case-1:consultation-9", agency=Agency.SAPO),
        )

    assert status.state == "received"
    assert status.agency == Agency.SAPO
    assert caught.value.type == "AgencyUnknown"


async def test_unreachable_agency_is_retryable() -> None:
    directory = directory_for("http://127.0.0.1:9")  # discard port: nothing listens

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            AgencyActivities(directory).deliver_consultation, consultation()
        )

    assert caught.value.type == "AgencyUnavailable"
    assert not caught.value.non_retryable
