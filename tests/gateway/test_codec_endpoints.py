"""The codec endpoints in Temporal's remote-codec protocol, as the Web UI and CLI call them."""

from __future__ import annotations

import base64
import json

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from cases import Agency
from gateway.codec_routes import SHREDDED_MARKER
from infra.codec import ENCODING
from infra.keys import scope_for_workflow_id
from tests.gateway.conftest import CODEC_TOKEN, Stack

UI = "http://localhost:8233"


def _headers(namespace: str = "default", token: str | None = CODEC_TOKEN) -> dict[str, str]:
    headers = {"X-Namespace": namespace, "Origin": UI, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def test_preflight_on_both_routes_allows_the_web_ui(http: httpx.AsyncClient) -> None:
    for route in ("/codec/encode", "/codec/decode"):
        response = await http.options(
            route,
            headers={
                "Origin": UI,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )
        assert response.status_code == 204
        assert response.headers["Access-Control-Allow-Origin"] == UI
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert {"authorization", "content-type", "x-namespace"} <= {
            h.strip() for h in allowed.split(",")
        }
    stranger = await http.options("/codec/decode", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


async def test_the_codec_decodes_a_case_history_that_is_stored_encrypted(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    await http.post(
        f"/v1/consultations/{handle.id}/answer",
        json={"answer": "Alva Lindqvist 20110923-4482"},
        headers=stack.auth(Agency.POLICE),
    )
    history = await handle.fetch_history()
    accepted = "workflow_execution_update_accepted_event_attributes"
    stored = [
        p
        for e in history.events
        if e.HasField(accepted)
        for p in getattr(e, accepted).accepted_request.input.args.payloads
    ]
    assert stored and all(p.metadata["encoding"] == ENCODING for p in stored)
    assert b"Lindqvist" not in history.to_json().encode()

    body = json_format.MessageToJson(Payloads(payloads=stored))
    ns = stack.client.namespace
    decoded = await http.post("/codec/decode", content=body, headers=_headers(ns))
    unauthenticated = await http.post("/codec/decode", content=body, headers=_headers(ns, None))
    other_namespace = await http.post("/codec/decode", content=body, headers=_headers("other"))

    assert decoded.status_code == 200
    assert decoded.headers["Access-Control-Allow-Origin"] == UI
    [payload] = decoded.json()["payloads"]
    assert "Lindqvist" in base64.b64decode(payload["data"]).decode()
    assert unauthenticated.status_code == 401
    assert other_namespace.status_code == 403

    # After shredding, the endpoint says so instead of showing ciphertext or failing.
    await stack.codec.keys.shred(scope_for_workflow_id(handle.id) or "")
    after = await http.post("/codec/decode", content=body, headers=_headers(ns))
    [marker] = after.json()["payloads"]
    assert json.loads(base64.b64decode(marker["data"])) == SHREDDED_MARKER


async def test_encode_then_decode_round_trips(stack: Stack, http: httpx.AsyncClient) -> None:
    plain = {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(b'{"x":1}').decode(),
            }
        ]
    }
    ns = stack.client.namespace
    encoded = await http.post("/codec/encode", json=plain, headers=_headers(ns))
    decoded = await http.post("/codec/decode", json=encoded.json(), headers=_headers(ns))
    bad = await http.post("/codec/decode", content=b"not json", headers=_headers(ns))

    assert encoded.status_code == 200
    assert encoded.json()["payloads"][0]["data"] != plain["payloads"][0]["data"]
    assert decoded.json() == plain
    assert bad.status_code == 400
