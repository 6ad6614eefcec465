"""The agency API: authorization, validation, conflicts, idempotency, limits, audit."""

from __future__ import annotations

import itertools

import httpx
import pytest

from cases import Agency
from tests.gateway.conftest import Stack

ANSWER = "Eleven Alva Lindqvist, 20110923-4482, har enligt skolan"
BODIES = {
    "acknowledge": {},
    "answer": {"answer": ANSWER},
    "decline": {"reason": "Uppgifterna finns inte hos oss"},
    "information": {"information": ANSWER},
}
OK = {"acknowledge": 200, "answer": 200, "decline": 200, "information": 202}


def _other(agency: Agency) -> Agency:
    agencies = list(Agency)
    return agencies[(agencies.index(agency) + 1) % len(agencies)]


@pytest.mark.parametrize(("agency", "route"), list(itertools.product(list(Agency), list(BODIES))))
async def test_an_agency_acts_on_its_own_consultation_and_gets_404_on_another_agencys(
    stack: Stack, http: httpx.AsyncClient, agency: Agency, route: str
) -> None:
    own = await stack.consultation(agency)
    others = await stack.consultation(_other(agency))

    foreign = await http.post(
        f"/v1/consultations/{others.id}/{route}", json=BODIES[route], headers=stack.auth(agency)
    )
    unknown = await http.post(
        "/v1/consultations/case-0000-nonexistent:consultation-1/" + route,
        json=BODIES[route],
        headers=stack.auth(agency),
    )
    mine = await http.post(
        f"/v1/consultations/{own.id}/{route}", json=BODIES[route], headers=stack.auth(agency)
    )

    assert foreign.status_code == 404 and unknown.status_code == 404
    assert foreign.json()["error"] == unknown.json()["error"] == "not_found"
    assert mine.status_code == OK[route], mine.text
    assert mine.json()["consultation_id"] == own.id
    status = await others.query("status", result_type=dict)
    assert status["updates"] == 0, "another agency's call changed nothing"


@pytest.mark.parametrize("route", ["answer", "decline", "acknowledge", "information"])
async def test_another_agencys_ended_consultation_is_404_not_its_outcome(
    stack: Stack, http: httpx.AsyncClient, route: str
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    answered = await http.post(
        f"/v1/consultations/{handle.id}/answer",
        json={"answer": "a"},
        headers=stack.auth(Agency.POLICE),
    )
    assert answered.status_code == 200
    assert await handle.result() == "answered"  # the workflow has ended: updates hit the server

    foreign = await http.post(
        f"/v1/consultations/{handle.id}/{route}",
        json=BODIES[route],
        headers=stack.auth(_other(Agency.POLICE)),
    )
    own = await http.post(
        f"/v1/consultations/{handle.id}/decline",
        json={"reason": "r"},
        headers=stack.auth(Agency.POLICE),
    )

    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    assert "answered" not in foreign.text
    assert own.status_code == 409 and own.json()["code"] == "already_answered"


async def test_a_kept_idempotent_result_and_its_audit_row_are_written_together(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.SCHOOL)
    headers = {**stack.auth(Agency.SCHOOL), "Idempotency-Key": "together-1"}

    first = await http.post(
        f"/v1/consultations/{handle.id}/answer", json={"answer": "a"}, headers=headers
    )
    retry = await http.post(
        f"/v1/consultations/{handle.id}/answer", json={"answer": "a"}, headers=headers
    )

    kept = await stack.pool.fetchrow(
        "SELECT route, consultation_id, status FROM idempotency_records"
        " WHERE idempotency_key = 'together-1'"
    )
    assert tuple(kept) == ("answer", handle.id, 200)
    audit = [
        tuple(
            await stack.pool.fetchrow(
                "SELECT route, status, outcome FROM gateway_audit WHERE request_id = $1",
                r.headers["X-Request-Id"],
            )
        )
        for r in (first, retry)
    ]
    assert audit == [("answer", 200, "ok"), ("answer", 200, "idempotent_replay")]


async def test_a_second_answer_is_a_conflict_naming_why(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    url = f"/v1/consultations/{handle.id}/answer"

    first = await http.post(url, json={"answer": "a"}, headers=stack.auth(Agency.POLICE))
    second = await http.post(url, json={"answer": "b"}, headers=stack.auth(Agency.POLICE))
    decline = await http.post(
        f"/v1/consultations/{handle.id}/decline",
        json={"reason": "r"},
        headers=stack.auth(Agency.POLICE),
    )

    assert first.status_code == 200 and first.json()["result"] == "answered"
    assert second.status_code == 409 and second.json()["code"] == "already_answered"
    assert decline.status_code == 409
    assert await handle.result() == "answered"


async def test_a_retried_call_with_an_idempotency_key_returns_the_first_result(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.SCHOOL)
    url = f"/v1/consultations/{handle.id}/answer"
    headers = {**stack.auth(Agency.SCHOOL), "Idempotency-Key": "answer-42"}

    first = await http.post(url, json={"answer": "a"}, headers=headers)
    retry = await http.post(url, json={"answer": "a"}, headers=headers)
    reused = await http.post(
        f"/v1/consultations/{handle.id}/decline", json={"reason": "r"}, headers=headers
    )

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert (await handle.query("status", result_type=dict))["updates"] == 1
    assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"


async def test_an_acknowledge_retried_after_a_lost_response_is_applied_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.BUP)
    url = f"/v1/consultations/{handle.id}/acknowledge"
    headers = {**stack.auth(Agency.BUP), "Idempotency-Key": "ack-1"}
    await http.post(url, headers=headers)
    # The response was lost before the record was kept: Temporal's update id still dedupes.
    await stack.pool.execute("DELETE FROM idempotency_records WHERE idempotency_key = 'ack-1'")

    retry = await http.post(url, headers=headers)

    assert retry.status_code == 200 and retry.json()["result"] == "acknowledged"
    assert (await handle.query("status", result_type=dict))["updates"] == 1


async def test_an_invalid_body_is_422_with_field_details_and_no_echo(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    url = f"/v1/consultations/{handle.id}/answer"

    empty = await http.post(url, json={"answer": ""}, headers=stack.auth(Agency.POLICE))
    extra = await http.post(
        url, json={"answer": "x", "agency": "sapo"}, headers=stack.auth(Agency.POLICE)
    )
    not_json = await http.post(
        url, content=b"{" + ANSWER.encode(), headers=stack.auth(Agency.POLICE)
    )
    too_long = await http.post(
        url, json={"answer": ANSWER * 400}, headers=stack.auth(Agency.POLICE)
    )

    assert empty.status_code == 422
    assert empty.json()["fields"][0]["field"] == "answer"
    assert extra.status_code == 422 and extra.json()["fields"] == [
        {"field": "<body>", "problem": "1 unknown property", "type": "extra_forbidden"}
    ]
    assert not_json.status_code == 422
    assert too_long.status_code == 422
    for response in (empty, extra, not_json, too_long):
        assert "Lindqvist" not in response.text
    assert (await handle.query("status", result_type=dict))["updates"] == 0


async def test_missing_unknown_and_revoked_keys_are_401(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    from gateway import AgencyCredentials

    credentials = AgencyCredentials(stack.pool)
    key = await credentials.issue(Agency.CVE)
    ok = await http.get("/v1/consultations", headers={"Authorization": f"Bearer {key}"})
    await credentials.revoke(Agency.CVE)
    revoked = await http.get("/v1/consultations", headers={"Authorization": f"Bearer {key}"})
    stack.keys[Agency.CVE] = await credentials.issue(Agency.CVE)
    missing = await http.get("/v1/consultations")
    wrong = await http.get("/v1/consultations", headers={"Authorization": "Bearer svk_police_x"})

    assert ok.status_code == 200
    assert revoked.status_code == missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    stored = await stack.pool.fetchval(
        "SELECT count(*) FROM agency_credentials WHERE key_hash = $1 OR key_prefix = $1", key
    )
    assert stored == 0, "the key itself is never stored"


async def test_reissuing_every_agencys_key_revokes_the_old_ones(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    from gateway import AgencyCredentials

    credentials = AgencyCredentials(stack.pool)
    old_police = stack.keys[Agency.POLICE]
    fresh = await credentials.reissue_all()
    stack.keys.update({Agency(name): key for name, key in fresh.items()})

    assert set(fresh) == {a.value for a in Agency}
    for name, key in fresh.items():
        assert await credentials.authenticate(key) == Agency(name)
    assert await credentials.authenticate(old_police) is None
    old = await http.get("/v1/consultations", headers={"Authorization": f"Bearer {old_police}"})
    assert old.status_code == 401


async def test_a_body_over_the_limit_is_413(stack: Stack) -> None:
    handle = await stack.consultation(Agency.POLICE)
    async with stack.make_app(samverkan_gateway_max_body_bytes=100) as http:
        response = await http.post(
            f"/v1/consultations/{handle.id}/answer",
            json={"answer": "x" * 200},
            headers=stack.auth(Agency.POLICE),
        )
    assert response.status_code == 413


async def test_each_agency_is_rate_limited_on_its_own(stack: Stack) -> None:
    async with stack.make_app(
        samverkan_gateway_burst=2, samverkan_gateway_rate_per_minute=1
    ) as http:
        police = [
            (await http.get("/v1/consultations", headers=stack.auth(Agency.POLICE))).status_code
            for _ in range(3)
        ]
        school = await http.get("/v1/consultations", headers=stack.auth(Agency.SCHOOL))
        limited = await http.get("/v1/consultations", headers=stack.auth(Agency.POLICE))

    assert police == [200, 200, 429]
    assert school.status_code == 200
    assert int(limited.headers["Retry-After"]) >= 1


async def test_the_list_shows_only_the_callers_open_consultations(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await stack.pool.executemany(
        "INSERT INTO open_consultations (case_id, consultation_id, agency, status, legal_basis, "
        "acute, requested_at, due) VALUES ($1, $2, $3, 'requested', 'osl_10_18a', false, now(), "
        "now() + interval '10 days')",
        [
            ("L-1", "case-L-1:consultation-1", "sapo"),
            ("L-2", "case-L-2:consultation-1", "sspf"),
        ],
    )

    response = await http.get("/v1/consultations", headers=stack.auth(Agency.SAPO))

    assert response.status_code == 200
    ids = [c["consultation_id"] for c in response.json()["consultations"]]
    assert ids == ["case-L-1:consultation-1"]


async def test_every_call_is_audited_without_personal_data(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.SSPF)
    response = await http.post(
        f"/v1/consultations/{handle.id}/answer",
        json={"answer": ANSWER},
        headers=stack.auth(Agency.SSPF),
    )

    row = await stack.pool.fetchrow(
        "SELECT * FROM gateway_audit WHERE request_id = $1", response.headers["X-Request-Id"]
    )
    assert row is not None
    assert (row["agency"], row["route"], row["consultation_id"], row["status"], row["outcome"]) == (
        "sspf",
        "answer",
        handle.id,
        200,
        "ok",
    )
    dump = await stack.pool.fetchval(
        "SELECT string_agg(row, ' ') FROM (SELECT a::text AS row FROM gateway_audit a "
        "UNION ALL SELECT i::text FROM idempotency_records i) t"
    )
    assert "Lindqvist" not in dump and "20110923" not in dump


async def test_health_and_openapi_are_served(http: httpx.AsyncClient) -> None:
    health = await http.get("/healthz")
    document = (await http.get("/v1/openapi.json")).json()

    assert health.json() == {"status": "ok"}
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/v1/consultations",
        "/v1/consultations/{consultation_id}",
        "/v1/consultations/{consultation_id}/acknowledge",
        "/v1/consultations/{consultation_id}/answer",
        "/v1/consultations/{consultation_id}/decline",
        "/v1/consultations/{consultation_id}/information",
    }
    refs = {
        r["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for p in document["paths"].values()
        for op in p.values()
        for r in op["responses"].values()
    }
    assert refs <= set(document["components"]["schemas"])


async def test_a_malformed_consultation_id_is_404_and_never_audited_as_given(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        "/v1/consultations/%C2%8E%22C%C3%A8DH/decline",
        json={"reason": "x"},
        headers=stack.auth(Agency.POLICE),
    )
    assert response.status_code == 404
    row = await stack.pool.fetchrow(
        "SELECT * FROM gateway_audit WHERE request_id = $1", response.headers["X-Request-Id"]
    )
    assert row is not None and row["consultation_id"] is None and row["agency"] == "police"
