"""The simulator's admin API and its idempotency, over real HTTP."""

from __future__ import annotations

import httpx

from simulator.app import SimulatorConfig, running_simulator

from .support import SimulatorAdmin


def _consultation(consultation_id: str = "case-2024-0001:consultation-1") -> dict[str, object]:
    return {"consultation_id": consultation_id, "case_number": "2024-0001", "payload": {}}


async def test_behaviour_set_by_admin_call_is_read_back(simulator: SimulatorAdmin) -> None:
    put = await simulator.set_behaviour("police", fail_times=2, slow=0.0)
    got = await simulator.http.get("/_admin/agencies/police/behaviour")

    assert put.status_code == 200
    assert got.json()["fail_times"] == 2


async def test_invalid_behaviour_is_refused_with_the_field(simulator: SimulatorAdmin) -> None:
    response = await simulator.set_behaviour("police", reject=503)

    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "reject"


async def test_conflicting_outcomes_are_refused(simulator: SimulatorAdmin) -> None:
    response = await simulator.set_behaviour("school", never_answer=True, decline=True)

    assert response.status_code == 422


async def test_unknown_agency_is_404(simulator: SimulatorAdmin) -> None:
    call = await simulator.http.post(
        "/agencies/polis/consultations", json=_consultation(), headers={"Idempotency-Key": "k"}
    )
    admin = await simulator.set_behaviour("polis", fail_times=1)

    assert call.status_code == 404
    assert admin.status_code == 404


async def test_fail_times_fails_exactly_that_many_calls(simulator: SimulatorAdmin) -> None:
    await simulator.set_behaviour("police", fail_times=2)
    headers = {"Idempotency-Key": "case-2024-0001:consultation-1"}

    statuses = [
        (
            await simulator.http.post(
                "/agencies/police/consultations", json=_consultation(), headers=headers
            )
        ).status_code
        for _ in range(4)
    ]

    assert statuses == [500, 500, 201, 201]
    assert len(await simulator.received("police")) == 4
    assert len(await simulator.created("police")) == 1


async def test_repeat_delivery_returns_the_first_response(simulator: SimulatorAdmin) -> None:
    headers = {"Idempotency-Key": "case-2024-0001:consultation-1"}
    url = "/agencies/school/consultations"

    first = await simulator.http.post(url, json=_consultation(), headers=headers)
    second = await simulator.http.post(url, json=_consultation(), headers=headers)

    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await simulator.created("school")) == 1


async def test_delivery_without_idempotency_key_is_refused(simulator: SimulatorAdmin) -> None:
    response = await simulator.http.post("/agencies/school/consultations", json=_consultation())

    assert response.status_code == 400
    assert await simulator.created() == []


async def test_received_log_holds_headers_and_body_as_received(simulator: SimulatorAdmin) -> None:
    await simulator.http.post(
        "/agencies/bup/notices",
        json={"consultation_id": "case-1:consultation-2", "kind": "reminder"},
        headers={"Idempotency-Key": "case-1:consultation-2:due:0", "X-Trace": "abc"},
    )

    [record] = await simulator.received("bup")

    assert record["method"] == "POST"
    assert record["path"] == "/agencies/bup/notices"
    assert record["headers"]["x-trace"] == "abc"
    assert record["body"] == {"consultation_id": "case-1:consultation-2", "kind": "reminder"}
    assert record["received_at"]


async def test_reset_forgets_records_and_restores_configured_behaviour() -> None:
    config = SimulatorConfig.from_toml("[agencies.police]\nreject = 409\n")
    async with running_simulator(config) as url:
        admin = SimulatorAdmin(url)
        await admin.set_behaviour("police")
        await admin.http.post(
            "/agencies/police/consultations", json=_consultation(), headers={"Idempotency-Key": "a"}
        )
        assert len(await admin.created("police")) == 1

        await admin.reset()

        assert await admin.received() == []
        assert await admin.created() == []
        after = await admin.http.post(
            "/agencies/police/consultations", json=_consultation(), headers={"Idempotency-Key": "a"}
        )
        assert after.status_code == 409
        await admin.aclose()


async def test_status_of_unknown_consultation_is_404(simulator: SimulatorAdmin) -> None:
    async with httpx.AsyncClient(base_url=simulator.url) as http:
        response = await http.get("/agencies/sapo/consultations/case-9:consultation-1")

    assert response.status_code == 404
