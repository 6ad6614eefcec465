"""The codec endpoint's trust boundary: its own listener, OIDC access tokens checked against
the issuer's keys (a local issuer: keys made here, JWKS served on loopback), grants per
namespace, an audit line per call, and no codec endpoint at all without the settings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway import GatewaySettings
from gateway.codec_routes import CodecNotConfigured, codec_access, create_codec_app
from gateway.oidc import DevOpenAccess, OidcVerifier, TokenRefused, parse_permissions
from gateway.server import serve
from tests.agency_attestation import TEST_ATTESTATION_KEYS
from tests.gateway.conftest import Stack
from tests.oidc_issuer import AUDIENCE, ISSUER, ISSUER_NAME

PLAIN = {
    "payloads": [
        {
            "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
            "data": base64.b64encode(b'{"note":"Alva Lindqvist"}').decode(),
        }
    ]
}


def _verifier() -> OidcVerifier:
    return OidcVerifier(issuer=ISSUER_NAME, audience=AUDIENCE, jwks_url=ISSUER.jwks_url)


async def test_a_token_signed_by_the_issuer_gives_its_subject_and_grants() -> None:
    principal = await _verifier().verify(
        ISSUER.token(["samverkan-malmo:read", "samverkan-eskilstuna:admin"], subject="op-1")
    )
    ec_principal = await _verifier().verify(
        ISSUER.token(["samverkan-malmo:write"], kid="ec-1", algorithm="ES256")
    )

    assert principal.subject == "op-1"
    assert principal.may("samverkan-malmo", "decode")
    assert not principal.may("samverkan-malmo", "encode"), "read is not write"
    assert principal.may("samverkan-eskilstuna", "encode")
    assert not principal.may("samverkan-other", "decode")
    assert ec_principal.may("samverkan-malmo", "encode")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: ISSUER.token(expires_in=-120), "expired"),
        (lambda: ISSUER.token(issuer="https://evil.example"), "wrong_issuer"),
        (lambda: ISSUER.token(audience="another-client"), "wrong_audience"),
        (lambda: ISSUER.token(kid="rsa-unknown"), "unknown_key"),
        (
            lambda: ISSUER.token(
                key=rsa.generate_private_key(public_exponent=65537, key_size=2048)
            ),
            "bad_signature",
        ),
        # HS256 keyed with the issuer's *public* key (the classic confusion attack)
        (
            lambda: jwt.encode(
                {"iss": ISSUER_NAME, "aud": AUDIENCE, "sub": "x", "exp": 4_000_000_000},
                "public-key-as-secret-" * 3,
                algorithm="HS256",
                headers={"kid": "rsa-1"},
            ),
            "algorithm_not_allowed",
        ),
        (
            lambda: jwt.encode(
                {"iss": ISSUER_NAME, "aud": AUDIENCE, "sub": "x", "exp": 4_000_000_000},
                None,
                algorithm="none",
            ),
            "algorithm_not_allowed",
        ),
        (lambda: "not.a.token", "malformed"),
    ],
)
async def test_tokens_the_issuer_did_not_sign_for_this_audience_now_are_refused(
    token: object, reason: str
) -> None:
    with pytest.raises(TokenRefused) as refused:
        await _verifier().verify(token())  # type: ignore[operator]
    assert refused.value.reason == reason


async def test_a_token_without_subject_or_expiry_is_refused() -> None:
    now = 1_900_000_000
    without_exp = jwt.encode(
        {"iss": ISSUER_NAME, "aud": AUDIENCE, "sub": "x", "iat": now},
        ISSUER.rsa_key,
        algorithm="RS256",
        headers={"kid": "rsa-1"},
    )
    without_sub = jwt.encode(
        {"iss": ISSUER_NAME, "aud": AUDIENCE, "exp": 4_000_000_000},
        ISSUER.rsa_key,
        algorithm="RS256",
        headers={"kid": "rsa-1"},
    )
    for token in (without_exp, without_sub):
        with pytest.raises(TokenRefused) as refused:
            await _verifier().verify(token)
        assert refused.value.reason == "missing_claim"


def test_permissions_are_temporal_namespace_role_pairs_and_nothing_else() -> None:
    assert parse_permissions(["a:read", "a:WRITE", "b:admin", "c:owner", "nocolon", 7]) == {
        "a": frozenset({"read", "write"}),
        "b": frozenset({"admin"}),
    }
    assert parse_permissions("a:read b:worker") == {
        "a": frozenset({"read"}),
        "b": frozenset({"worker"}),
    }
    assert parse_permissions(None) == {}


def test_symmetric_algorithms_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="HS256"):
        OidcVerifier(issuer="i", audience="a", jwks_url="http://x", algorithms=["RS256", "HS256"])


def test_without_oidc_settings_there_is_no_codec_endpoint() -> None:
    with pytest.raises(CodecNotConfigured, match="SAMVERKAN_CODEC_OIDC_ISSUER"):
        codec_access(GatewaySettings())
    with pytest.raises(CodecNotConfigured, match="no longer accepted"):
        codec_access(GatewaySettings(samverkan_codec_token="static", **ISSUER.settings()))
    with pytest.raises(CodecNotConfigured, match="loopback"):
        codec_access(GatewaySettings(samverkan_codec_dev_open=True, samverkan_codec_host="0.0.0.0"))
    dev = GatewaySettings(samverkan_codec_dev_open=True, samverkan_codec_host="127.0.0.1")
    assert isinstance(codec_access(dev), DevOpenAccess)
    assert isinstance(codec_access(GatewaySettings(**ISSUER.settings())), OidcVerifier)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _serving(stack: Stack, settings: GatewaySettings) -> AsyncIterator[None]:
    task = asyncio.create_task(
        serve(
            attestation_keys=TEST_ATTESTATION_KEYS,
            client=stack.client,
            pool=stack.pool,
            master_keys=stack.codec.keys.master_keys,
            settings=settings,
        )
    )
    try:
        for port in (settings.samverkan_gateway_port, settings.samverkan_codec_port):
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_gateway_serves_the_codec_on_its_own_listener_only_with_a_token(
    stack: Stack,
) -> None:
    ns = stack.client.namespace
    settings = GatewaySettings(
        temporal_namespace=ns,
        samverkan_gateway_port=_free_port(),
        samverkan_codec_port=_free_port(),
        **ISSUER.settings(),
    )
    api = f"http://127.0.0.1:{settings.samverkan_gateway_port}"
    codec = f"http://127.0.0.1:{settings.samverkan_codec_port}"
    token = ISSUER.token([f"{ns}:write"])
    headers = {"X-Namespace": ns, "Content-Type": "application/json"}
    with structlog.testing.capture_logs() as logs:
        async with _serving(stack, settings), httpx.AsyncClient() as http:
            on_api = await http.post(
                f"{api}/codec/encode", json=PLAIN, headers={**headers, "Authorization": token}
            )
            anonymous = await http.post(f"{codec}/codec/encode", json=PLAIN, headers=headers)
            encoded = await http.post(
                f"{codec}/codec/encode",
                json=PLAIN,
                headers={**headers, "Authorization": f"Bearer {token}"},
            )
            decoded = await http.post(
                f"{codec}/codec/decode",
                json=encoded.json(),
                headers={**headers, "Authorization": f"Bearer {token}"},
            )
            agency_api_elsewhere = await http.get(f"{codec}/v1/consultations")

    assert on_api.status_code == 404, "the agency API's listener has no /codec"
    assert agency_api_elsewhere.status_code == 404, "and the codec's has no /v1"
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert encoded.status_code == 200 and decoded.status_code == 200
    assert decoded.json() == PLAIN
    audited = [e for e in logs if e["event"] == "gateway.codec"]
    assert [(e["action"], e["namespace"], e["payloads"], e["status"]) for e in audited] == [
        ("encode", ns, 1, 200),
        ("decode", ns, 1, 200),
    ]
    assert {e["subject"] for e in audited} == {"operator-7f3a"}
    assert "Lindqvist" not in repr(logs), "never content"
    rows = await stack.pool.fetch(
        "SELECT * FROM gateway_audit WHERE request_id = ANY($1::text[])",
        [e["request_id"] for e in audited],
    )
    assert sorted(
        (r["route"], r["subject"], r["namespace"], r["payload_count"], r["status"], r["outcome"])
        for r in rows
    ) == [
        ("/codec/decode", "operator-7f3a", ns, 1, 200, "ok"),
        ("/codec/encode", "operator-7f3a", ns, 1, 200, "ok"),
    ]
    dump = repr([dict(r) for r in rows])
    assert "Lindqvist" not in dump and PLAIN["payloads"][0]["data"] not in dump, "never content"


async def test_the_gateway_refuses_to_start_a_codec_listener_without_oidc(
    stack: Stack,
) -> None:
    settings = GatewaySettings(
        temporal_namespace=stack.client.namespace,
        samverkan_gateway_port=_free_port(),
        samverkan_codec_port=_free_port(),
    )
    with pytest.raises(CodecNotConfigured):
        await serve(
            attestation_keys=TEST_ATTESTATION_KEYS,
            client=stack.client,
            pool=stack.pool,
            master_keys=stack.codec.keys.master_keys,
            settings=settings,
        )
    with (
        contextlib.suppress(OSError),
        socket.create_connection(("127.0.0.1", settings.samverkan_gateway_port), timeout=0.5),
    ):
        pytest.fail("nothing listens when the codec cannot be served")


async def test_the_codec_app_answers_only_its_own_host_names(stack: Stack) -> None:
    settings = GatewaySettings(
        temporal_namespace=stack.client.namespace,
        samverkan_codec_allowed_hosts="codec.region.test",
        **ISSUER.settings(),
    )
    app = create_codec_app(stack.codec, settings)
    token = ISSUER.token([f"{stack.client.namespace}:read"])
    headers = {"X-Namespace": stack.client.namespace, "Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://codec.region.test"
        ) as right,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://evil.test"
        ) as wrong,
    ):
        ok = await right.post("/codec/decode", json={"payloads": []}, headers=headers)
        refused = await wrong.post("/codec/decode", json={"payloads": []}, headers=headers)
        health = await wrong.get("/healthz")
    assert ok.status_code == 200
    assert refused.status_code == 400
    assert health.status_code == 200
