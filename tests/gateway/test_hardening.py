"""The gateway's answers to the outside review (issue 16, item 4): bounded bodies, bounded
JSON nesting, Idempotency-Key reuse, no data key for an unknown case, a shredded case like
an unknown one, failed logins limited, the master keys checked at start-up, no echo of
unknown property names, and a trusted-host check."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import typer
import uvicorn
from temporalio.service import RPCError, RPCStatusCode
from typer.testing import CliRunner

from cases import AcknowledgeConsultation, Agency
from gateway import GatewayRecords, openapi_document, serve
from gateway.codec_routes import create_codec_app
from gateway.config import GatewaySettings
from gateway.consultations import ConsultationNotFound, Consultations
from gateway.ratelimit import RateLimiter
from gateway.records import AuditEntry, IdempotentResult
from infra import temporal_client
from infra.keys import CaseKeys, KeyError_, MasterKeys, PostgresDataKeyStore, scope_for_workflow_id
from infra.settings import get_settings
from samverkan.commands.gateway import register
from tests.agency_attestation import TEST_ATTESTATION_ENTRY, TEST_ATTESTATION_KEYS
from tests.gateway.conftest import CODEC_TOKEN, Stack
from tests.oidc_issuer import ISSUER

CHUNK = b"x" * (64 * 1024)
ONE_CHUNK = len(CHUNK)
CODEC_LIMIT = GatewaySettings().samverkan_codec_max_body_bytes


class _CountingBody:
    """A request body streamed in 64 KiB chunks that counts how much the app pulled."""

    def __init__(self, size: int) -> None:
        self.chunks = -(-size // ONE_CHUNK)
        self.pulled = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += ONE_CHUNK
            yield CHUNK


def _codec_headers(stack: Stack) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {CODEC_TOKEN}",
        "X-Namespace": stack.client.namespace,
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("route", ["/codec/encode", "/codec/decode"])
async def test_a_codec_body_declared_over_the_limit_is_413_before_any_of_it_is_read(
    stack: Stack, route: str
) -> None:
    body = _CountingBody(size=2 * CODEC_LIMIT)
    async with stack.make_app() as http:
        response = await http.post(
            route,
            content=body.stream(),
            headers={**_codec_headers(stack), "Content-Length": str(200 * 1024 * 1024)},
        )

    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert body.pulled == 0


@pytest.mark.parametrize("route", ["/codec/encode", "/codec/decode"])
async def test_a_streamed_codec_body_stops_being_read_once_past_the_limit(
    stack: Stack, route: str
) -> None:
    body = _CountingBody(size=3 * CODEC_LIMIT)  # chunked: no Content-Length
    async with stack.make_app() as http:
        response = await http.post(route, content=body.stream(), headers=_codec_headers(stack))

    assert response.status_code == 413
    assert body.pulled <= CODEC_LIMIT + ONE_CHUNK, "read no further than one chunk past it"


async def test_the_codec_limit_is_a_setting(stack: Stack) -> None:
    body = _CountingBody(size=4 * ONE_CHUNK)
    async with stack.make_app(samverkan_codec_max_body_bytes=ONE_CHUNK) as http:
        response = await http.post(
            "/codec/decode", content=body.stream(), headers=_codec_headers(stack)
        )

    assert response.status_code == 413
    assert body.pulled <= 2 * ONE_CHUNK


async def test_an_agency_body_over_the_limit_is_not_read_either(stack: Stack) -> None:
    handle = await stack.consultation(Agency.POLICE)
    declared, streamed = _CountingBody(size=10 * ONE_CHUNK), _CountingBody(size=10 * ONE_CHUNK)
    async with stack.make_app(samverkan_gateway_max_body_bytes=ONE_CHUNK) as http:
        url = f"/v1/consultations/{handle.id}/answer"
        too_large = await http.post(
            url,
            content=declared.stream(),
            headers={**stack.auth(Agency.POLICE), "Content-Length": str(10**9)},
        )
        chunked = await http.post(url, content=streamed.stream(), headers=stack.auth(Agency.POLICE))

    assert too_large.status_code == chunked.status_code == 413
    assert declared.pulled == 0
    assert streamed.pulled <= 2 * ONE_CHUNK
    assert (await handle.query("status", result_type=dict))["updates"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 20_000 + b"]" * 20_000,  # the JSON decoder's RecursionError
        b'{"answer": ' + b"[" * 40 + b"]" * 40 + b"}",  # deeper than the bound, still decodable
    ],
    ids=["recursion", "over-bound"],
)
async def test_deeply_nested_json_is_422_naming_the_bound(
    stack: Stack, http: httpx.AsyncClient, body: bytes
) -> None:
    handle = await stack.consultation(Agency.POLICE)

    response = await http.post(
        f"/v1/consultations/{handle.id}/answer", content=body, headers=stack.auth(Agency.POLICE)
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_body"
    assert response.json()["fields"] == [
        {"field": "<body>", "problem": "nested deeper than 32 levels", "type": "json_too_deep"}
    ]


async def test_deeply_nested_json_at_the_codec_is_its_invalid_body_answer(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        "/codec/decode", content=b"[" * 20_000 + b"]" * 20_000, headers=_codec_headers(stack)
    )

    assert response.status_code == 400 and response.json()["error"] == "invalid"


async def test_unknown_property_names_are_counted_never_echoed(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    body = {"answer": "", "Alva Lindqvist": 1, "20110923-4482": {"x": 1}}

    response = await http.post(
        f"/v1/consultations/{handle.id}/answer", json=body, headers=stack.auth(Agency.POLICE)
    )

    assert response.status_code == 422
    assert "Lindqvist" not in response.text and "20110923" not in response.text
    assert sorted(response.json()["fields"], key=lambda f: f["type"]) == [
        {"field": "<body>", "problem": "2 unknown properties", "type": "extra_forbidden"},
        {
            "field": "answer",
            "problem": "String should have at least 1 character",
            "type": "string_too_short",
        },
    ]


async def test_a_host_header_the_gateway_does_not_serve_is_400_before_any_route(
    stack: Stack,
) -> None:
    async with stack.make_app(samverkan_gateway_allowed_hosts="") as http:  # the default
        evil = {"Host": "evil.example"}
        listed = await http.get("/v1/consultations", headers={**stack.auth(Agency.CVE), **evil})
        decoded = await http.post(
            "/codec/decode", json={"payloads": []}, headers={**_codec_headers(stack), **evil}
        )
        served = [
            await http.get("/v1/consultations", headers={**stack.auth(Agency.CVE), "Host": host})
            for host in ("127.0.0.1:8250", "localhost:8250", "[::1]:8250", "LOCALHOST")
        ]
        web_ui = await http.post(
            "/codec/decode",
            json={"payloads": []},
            headers={
                **_codec_headers(stack),
                "Host": "localhost:8250",
                "Origin": "http://localhost:8233",
            },
        )
        probe = await http.get("/healthz", headers={"Host": "10.42.0.17:8250"})  # a kubelet's

    assert listed.status_code == decoded.status_code == 400
    assert "X-Request-Id" not in listed.headers, "refused before the agency route ran"
    assert [r.status_code for r in served] == [200, 200, 200, 200]
    assert web_ui.status_code == 200
    assert web_ui.headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
    assert probe.status_code == 200


async def test_the_allowed_hosts_are_the_configured_host_or_the_setting(stack: Stack) -> None:
    async def status(host: str, **settings: str) -> int:
        async with stack.make_app(**settings) as http:
            headers = {**stack.auth(Agency.CVE), "Host": host}
            return (await http.get("/v1/consultations", headers=headers)).status_code

    bound = {"samverkan_gateway_allowed_hosts": "", "samverkan_gateway_host": "gw.internal"}
    listed = {"samverkan_gateway_allowed_hosts": "api.samverkan.example, *.region.example"}

    assert await status("gw.internal:8250", **bound) == 200
    assert await status("other.internal", **bound) == 400
    assert await status("api.samverkan.example", **listed) == 200
    assert await status("bup.region.example:443", **listed) == 200
    assert await status("localhost", **listed) == 400, "the setting replaces the default"


BODIES = {
    "acknowledge": {},
    "answer": {"answer": "a"},
    "decline": {"reason": "r"},
    "information": {"information": "i"},
}


@pytest.mark.parametrize("route", list(BODIES))
async def test_a_made_up_consultation_is_404_and_gets_no_data_key(
    stack: Stack, http: httpx.AsyncClient, route: str
) -> None:
    case_number = f"2025-madeup{uuid.uuid4().hex[:8]}"

    response = await http.post(
        f"/v1/consultations/case-{case_number}:consultation-1/{route}",
        json=BODIES[route],
        headers=stack.auth(Agency.POLICE),
    )

    assert response.status_code == 404 and response.json()["error"] == "not_found"
    keys = await stack.pool.fetchval(
        "SELECT count(*) FROM data_keys WHERE scope = $1", f"case-{case_number}"
    )
    assert keys == 0


async def test_an_unknown_consultation_of_a_known_case_gets_no_new_key_either(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    case_id = handle.id.split(":", 1)[0]
    before = await stack.pool.fetch("SELECT key_id FROM data_keys WHERE scope = $1", case_id)

    response = await http.post(
        f"/v1/consultations/{case_id}:consultation-9/answer",
        json={"answer": "a"},
        headers=stack.auth(Agency.POLICE),
    )

    assert response.status_code == 404
    after = await stack.pool.fetch("SELECT key_id FROM data_keys WHERE scope = $1", case_id)
    assert after == before and len(before) == 1


class _RecordingHandle:
    def __init__(self, client: _RecordingClient, workflow_id: str) -> None:
        self._client, self._id = client, workflow_id

    async def query(self, name: str, result_type: object = None) -> dict[str, object]:
        self._client.calls.append(("query", self._id))
        if self._id not in self._client.owners:
            raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")
        return {"agency": self._client.owners[self._id]}

    async def execute_update(self, name: str, arg: object, **kwargs: object) -> str:
        self._client.calls.append(("update", self._id))
        return "acknowledged"


class _RecordingClient:
    """Stands in for the Temporal client: which workflows exist, what was asked of them."""

    def __init__(self, owners: dict[str, str]) -> None:
        self.owners = owners
        self.calls: list[tuple[str, str]] = []

    def get_workflow_handle(self, workflow_id: str) -> _RecordingHandle:
        return _RecordingHandle(self, workflow_id)


async def test_an_update_for_a_case_without_a_key_row_asks_the_status_query_first(
    stack: Stack,
) -> None:
    keyless = f"case-2025-nokey{uuid.uuid4().hex[:8]}:consultation-1"
    keyed = (await stack.consultation(Agency.BUP)).id
    client = _RecordingClient({keyless: Agency.BUP.value, keyed: Agency.BUP.value})
    consultations = Consultations(client=client, pool=stack.pool)  # type: ignore[arg-type]
    made_up = f"case-2025-madeup{uuid.uuid4().hex[:8]}:consultation-1"

    async def acknowledge(cid: str, agency: Agency) -> str:
        command = AcknowledgeConsultation(agency=agency, consultation_id=cid)
        return await consultations.update(cid, "acknowledge", command, agency=agency, update_id="u")

    for cid, agency in ((made_up, Agency.BUP), (keyless, Agency.SCHOOL)):
        with pytest.raises(ConsultationNotFound):
            await acknowledge(cid, agency)
    assert client.calls == [("query", made_up), ("query", keyless)], "no update sent"
    client.calls.clear()

    assert await acknowledge(keyless, Agency.BUP) == "acknowledged"
    assert await acknowledge(keyed, Agency.BUP) == "acknowledged"
    assert client.calls == [("query", keyless), ("update", keyless), ("update", keyed)]


def _without_request_id(response: httpx.Response) -> tuple[int, dict[str, object], set[str]]:
    body = {k: v for k, v in response.json().items() if k != "request_id"}
    return response.status_code, body, set(response.headers) - {"x-request-id"}


@pytest.mark.parametrize("shredder", ["this process", "another process"])
@pytest.mark.parametrize("route", list(BODIES))
async def test_a_shredded_case_answers_exactly_like_an_unknown_consultation(
    stack: Stack, http: httpx.AsyncClient, route: str, shredder: str
) -> None:
    handle = await stack.consultation(Agency.SSPF)
    url = f"/v1/consultations/{handle.id}/{route}"
    warm = await http.post(
        f"/v1/consultations/{handle.id}/information",
        json={"information": "i"},
        headers=stack.auth(Agency.SSPF),
    )
    assert warm.status_code == 202  # the gateway's key cache holds the case's key now
    scope = scope_for_workflow_id(handle.id) or ""
    if shredder == "this process":
        await stack.codec.keys.shred(scope)
    else:  # `samverkan keys shred` elsewhere: this process's cached key is still warm
        other = CaseKeys(
            master_keys=stack.codec.keys.master_keys, store=PostgresDataKeyStore(stack.pool)
        )
        await other.shred(scope)

    shredded = await http.post(url, json=BODIES[route], headers=stack.auth(Agency.SSPF))
    unknown = await http.post(
        f"/v1/consultations/case-2025-nothere{uuid.uuid4().hex[:6]}:consultation-1/{route}",
        json=BODIES[route],
        headers=stack.auth(Agency.SSPF),
    )

    assert _without_request_id(shredded) == _without_request_id(unknown)
    assert shredded.status_code == 404


def _client_at(app: object, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")


async def test_repeated_failed_logins_from_one_address_are_429_other_callers_unaffected(
    stack: Stack,
) -> None:
    app = stack.make_asgi(
        samverkan_gateway_auth_failure_burst=3, samverkan_gateway_auth_failures_per_minute=1
    )
    wrong = {"Authorization": "Bearer svk_police_not-a-key"}
    async with _client_at(app, "203.0.113.7") as prober, _client_at(app, "198.51.100.2") as other:
        failures = [(await prober.get("/v1/consultations", headers=wrong)) for _ in range(4)]
        no_header = await prober.get("/v1/consultations")
        agency_there = await prober.get("/v1/consultations", headers=stack.auth(Agency.POLICE))
        elsewhere_wrong = await other.get("/v1/consultations", headers=wrong)
        elsewhere_agency = await other.get("/v1/consultations", headers=stack.auth(Agency.SAPO))

    assert [r.status_code for r in failures] == [401, 401, 401, 429]
    limited = failures[-1]
    assert limited.json()["error"] == "rate_limited"
    assert limited.json()["code"] == "authentication_failures"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert no_header.status_code == 429
    assert agency_there.status_code == 200, "a valid key is served even from that address"
    assert elsewhere_wrong.status_code == 401 and elsewhere_agency.status_code == 200
    row = await stack.pool.fetchrow(
        "SELECT agency, status, outcome FROM gateway_audit WHERE request_id = $1",
        limited.headers["X-Request-Id"],
    )
    assert tuple(row or ()) == (None, 429, "authentication_failures")


async def test_repeated_wrong_codec_tokens_lock_that_address_out_for_a_while(
    stack: Stack,
) -> None:
    app = stack.make_asgi(
        samverkan_gateway_auth_failure_burst=3, samverkan_gateway_auth_failures_per_minute=1
    )
    good = _codec_headers(stack)
    bad = {**good, "Authorization": "Bearer guess"}
    async with _client_at(app, "203.0.113.9") as prober, _client_at(app, "192.0.2.4") as operator:
        guesses = [
            (await prober.post("/codec/decode", json={"payloads": []}, headers=bad)).status_code
            for _ in range(4)
        ]
        right_guess = await prober.post("/codec/decode", json={"payloads": []}, headers=good)
        operator_call = await operator.post("/codec/decode", json={"payloads": []}, headers=good)

    assert guesses == [401, 401, 401, 429]
    assert right_guess.status_code == 429, "a guessable token: no answer while locked out"
    assert int(right_guess.headers["Retry-After"]) >= 1
    assert operator_call.status_code == 200


async def test_codec_calls_are_audited_with_who_where_and_how_many_never_content(
    stack: Stack,
) -> None:
    subject = f"operator-{uuid.uuid4().hex[:8]}"
    ns = stack.client.namespace
    plain = {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IkFsdmEgTGluZHF2aXN0Ig=="}
    reader = ISSUER.token([f"{ns}:read"], subject=subject)
    headers = {**_codec_headers(stack), "Authorization": f"Bearer {reader}"}
    settings = GatewaySettings(
        temporal_namespace=ns, samverkan_codec_allowed_hosts="codec.test", **ISSUER.settings()
    )
    app = create_codec_app(stack.codec, settings, records=GatewayRecords(stack.pool))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
    ) as http:
        decoded = await http.post(
            "/codec/decode", json={"payloads": [plain, plain, plain]}, headers=headers
        )
        not_granted = await http.post("/codec/encode", json={"payloads": [plain]}, headers=headers)
        elsewhere = await http.post(
            "/codec/decode",
            json={"payloads": [plain]},
            headers={**headers, "X-Namespace": "Alva Lindqvist"},
        )

    assert (decoded.status_code, not_granted.status_code, elsewhere.status_code) == (200, 403, 403)
    rows = await stack.pool.fetch(
        "SELECT * FROM gateway_audit WHERE subject = $1 ORDER BY id", subject
    )
    assert [
        (r["agency"], r["route"], r["namespace"], r["payload_count"], r["status"], r["outcome"])
        for r in rows
    ] == [
        (None, "/codec/decode", ns, 3, 200, "ok"),
        (None, "/codec/encode", ns, 0, 403, "refused"),
        (None, "/codec/decode", None, 0, 403, "refused"),  # a namespace not served: not recorded
    ]
    dump = repr([dict(r) for r in rows])
    assert "Lindqvist" not in dump and plain["data"] not in dump


async def test_an_agency_call_is_audited_under_its_agency_with_no_codec_fields(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    response = await http.get("/v1/consultations", headers=stack.auth(Agency.POLICE))

    row = await stack.pool.fetchrow(
        "SELECT agency, subject, payload_count FROM gateway_audit WHERE request_id = $1",
        response.headers["X-Request-Id"],
    )
    assert tuple(row or ()) == ("police", None, None), "the agency is who; no OIDC subject"


def test_the_limiter_keeps_a_bounded_number_of_buckets() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=1, burst=1, clock=lambda: now[0], max_keys=2)

    assert limiter.take("a") == 0.0 and limiter.take("a") > 0 and limiter.wait("a") > 0
    limiter.take("b")
    limiter.take("c")  # "a" is the least recently used of three: forgotten

    assert limiter.wait("a") == 0.0 and limiter.wait("c") > 0


async def test_an_idempotency_key_reused_with_another_body_is_422_and_acts_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.SCHOOL)
    url = f"/v1/consultations/{handle.id}/answer"
    key = f"reuse-{uuid.uuid4().hex}"
    headers = {**stack.auth(Agency.SCHOOL), "Idempotency-Key": key}

    first = await http.post(url, json={"answer": "Känd sedan 2024"}, headers=headers)
    reformatted = await http.post(
        url,
        content='{ "answer" :\n "Känd sedan 2024" }'.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    other_body = await http.post(url, json={"answer": "Inte känd"}, headers=headers)

    assert first.status_code == 200
    assert reformatted.status_code == 200 and reformatted.json() == first.json()
    assert other_body.status_code == 422
    assert other_body.json()["error"] == "idempotency_key_reused"
    assert (await handle.query("status", result_type=dict))["updates"] == 1
    audit = await stack.pool.fetchrow(
        "SELECT status, outcome FROM gateway_audit WHERE request_id = $1",
        other_body.headers["X-Request-Id"],
    )
    assert tuple(audit or ()) == (422, "idempotency_key_reused")
    digest = await stack.pool.fetchval(
        "SELECT request_digest FROM idempotency_records WHERE idempotency_key = $1", key
    )
    plain = hashlib.sha256(b'{"answer":"K\\u00e4nd sedan 2024"}').hexdigest()
    assert digest and digest.startswith("t1:") and plain not in digest, "a keyed digest"


async def test_the_same_key_of_another_agency_is_another_call(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    key = f"shared-{uuid.uuid4().hex}"
    mine, theirs = await stack.consultation(Agency.BUP), await stack.consultation(Agency.CVE)

    bup = await http.post(
        f"/v1/consultations/{mine.id}/decline",
        json={"reason": "r"},
        headers={**stack.auth(Agency.BUP), "Idempotency-Key": key},
    )
    cve = await http.post(
        f"/v1/consultations/{theirs.id}/answer",
        json={"answer": "a"},
        headers={**stack.auth(Agency.CVE), "Idempotency-Key": key},
    )

    assert bup.status_code == cve.status_code == 200
    assert cve.json()["result"] == "answered"


async def test_a_concurrent_call_that_kept_its_result_first_with_another_body_wins(
    stack: Stack,
) -> None:
    records = GatewayRecords(stack.pool)
    key = f"race-{uuid.uuid4().hex}"
    ours = IdempotentResult("answer", "case-R-1:consultation-1", 200, {"result": "answered"})

    def entry(request_id: str) -> AuditEntry:
        return AuditEntry("police", "POST", "answer", ours.consultation_id, 200, "ok", request_id)

    first = await records.audit_and_remember(
        entry("race-1"), key, dataclasses.replace(ours, request_digest="t1:aaaa")
    )
    same = await records.audit_and_remember(
        entry("race-2"), key, dataclasses.replace(ours, request_digest="t1:aaaa")
    )
    other = await records.audit_and_remember(
        entry("race-3"), key, dataclasses.replace(ours, request_digest="t1:bbbb")
    )

    assert (first.outcome, same.outcome, other.outcome) == (
        "ok",
        "idempotent_replay",
        "idempotency_key_reused",
    )
    rows = await stack.pool.fetch(
        "SELECT request_id, status, outcome FROM gateway_audit WHERE request_id LIKE 'race-%' "
        "ORDER BY request_id"
    )
    assert [tuple(r) for r in rows] == [
        ("race-1", 200, "ok"),
        ("race-2", 200, "idempotent_replay"),
        ("race-3", 422, "idempotency_key_reused"),
    ]


def test_the_openapi_document_states_the_idempotency_keys_scope_and_lifetime() -> None:
    [parameter] = [
        p
        for p in openapi_document()["paths"]["/v1/consultations/{consultation_id}/answer"]["post"][
            "parameters"
        ]
        if p["name"] == "Idempotency-Key"
    ]
    text = parameter["description"]
    assert "per agency" in text and "idempotency_key_reused" in text
    assert "Lifetime" in text and "never expire" in text


@pytest.fixture
def uvicorn_started(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Stands in for uvicorn's serve loop: records that the gateway got that far."""
    started: list[object] = []

    async def serve(self: uvicorn.Server, sockets: object = None) -> None:
        started.append(self)

    monkeypatch.setattr(uvicorn.Server, "serve", serve)
    return started


def _wrong_key_named(kid: str) -> MasterKeys:
    return MasterKeys.parse(MasterKeys.generate_entry(kid))


async def test_serve_refuses_master_keys_that_do_not_unwrap_the_stored_data_keys(
    stack: Stack, uvicorn_started: list[object]
) -> None:
    await stack.consultation(Agency.POLICE)  # at least one data key, wrapped by "t1"

    with pytest.raises(KeyError_) as same_id:
        await serve(
            attestation_keys=TEST_ATTESTATION_KEYS,
            client=stack.client,
            pool=stack.pool,
            master_keys=_wrong_key_named("t1"),
        )
    with pytest.raises(KeyError_) as other_id:
        await serve(
            attestation_keys=TEST_ATTESTATION_KEYS,
            client=stack.client,
            pool=stack.pool,
            master_keys=_wrong_key_named("t2"),
        )
    assert uvicorn_started == []
    await serve(
        attestation_keys=TEST_ATTESTATION_KEYS,
        client=stack.client,
        pool=stack.pool,
        master_keys=stack.codec.keys.master_keys,
        codec=False,
    )

    assert len(uvicorn_started) == 1, "the right keys start it"
    assert "master key t1" in str(same_id.value) and "does not unwrap" in str(same_id.value)
    assert "master key t1" in str(other_id.value) and "not configured" in str(other_id.value)


async def test_the_gateway_command_says_which_master_key_is_wrong_in_one_line(
    stack: Stack, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await stack.consultation(Agency.POLICE)
    wrong = MasterKeys.generate_entry("t1")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SAMVERKAN_MASTER_KEYS", wrong)
    monkeypatch.setenv("SAMVERKAN_AGENCY_ATTESTATION_KEYS", TEST_ATTESTATION_ENTRY)
    connected: list[object] = []

    async def connect(*args: object, **kwargs: object) -> object:
        connected.append(args)
        raise AssertionError("the gateway went on to connect to Temporal")

    monkeypatch.setattr(temporal_client, "connect", connect)
    get_settings.cache_clear()
    cli = typer.Typer()
    register(cli)
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["gateway", "--port", "0", "--no-codec"]
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert "master key t1" in line and "Traceback" not in result.output
    assert wrong.split(":", 1)[1] not in result.output, "never the key material"
    assert connected == []


async def test_a_key_store_failure_at_the_codec_is_503_without_details(
    stack: Stack, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "e30="}]}
    encoded = await http.post("/codec/encode", json=plain, headers=_codec_headers(stack))
    assert encoded.status_code == 200

    async def unavailable(*args: object) -> object:
        raise OSError("connection refused by 10.0.0.5:5432")

    keys = stack.codec.keys
    monkeypatch.setattr(keys, "by_id", unavailable)
    monkeypatch.setattr(keys, "new_intake", unavailable)
    decoded = await http.post("/codec/decode", json=encoded.json(), headers=_codec_headers(stack))
    sealed = await http.post("/codec/encode", json=plain, headers=_codec_headers(stack))

    for response in (decoded, sealed):
        assert response.status_code == 503 and response.json() == {"error": "unavailable"}
