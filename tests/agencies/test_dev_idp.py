"""The dev stack's identity provider (``samverkan dev --auth``): its tokens are what the
codec endpoint and the front door verify, served over real HTTP by the simulator."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import httpx
import pytest

from gateway.oidc import OidcVerifier, TokenRefused
from simulator.app import running_simulator
from simulator.idp import AUDIENCE, CLIENTS_FILE, KEY_FILE, DevIdentityProvider


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _issuer(port: int) -> str:
    return f"http://127.0.0.1:{port}/idp"


def _verifier(idp: DevIdentityProvider) -> OidcVerifier:
    return OidcVerifier(
        issuer=idp.issuer, audience=AUDIENCE, jwks_url=idp.jwks_url, algorithms=["ES256"]
    )


async def test_service_account_gets_a_token_the_codec_check_accepts(tmp_path: Path) -> None:
    port = _free_port()
    idp = DevIdentityProvider(tmp_path, _issuer(port))
    worker = idp.register_service_accounts({"samverkan-worker": ["samverkan-malmo:write"]})[
        "samverkan-worker"
    ]
    async with running_simulator(port=port, idp=idp), httpx.AsyncClient() as http:
        discovery = (await http.get(f"{idp.issuer}/.well-known/openid-configuration")).json()
        assert discovery["token_endpoint"] == idp.token_url
        assert discovery["jwks_uri"] == idp.jwks_url
        response = await http.post(
            idp.token_url,
            data={"grant_type": "client_credentials"},
            auth=(worker.client_id, worker.secret),
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == idp.lifetime
        verifier = _verifier(idp)
        principal = await verifier.verify(body["access_token"])
        await verifier.aclose()
    assert principal.subject == "samverkan-worker"
    assert principal.may("samverkan-malmo", "encode")
    assert not principal.may("samverkan-eskilstuna", "decode")


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        (
            ("samverkan-worker", "not-the-secret"),
            {"grant_type": "client_credentials"},
            401,
            "invalid_client",
        ),
        (("nobody", "x"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
        (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
        ("ok", {"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
async def test_token_endpoint_refuses_bad_requests_without_echoing_them(
    tmp_path: Path, auth: object, form: dict[str, str], status: int, error: str
) -> None:
    port = _free_port()
    idp = DevIdentityProvider(tmp_path, _issuer(port))
    account = idp.register_service_accounts({"samverkan-worker": ["default:write"]})[
        "samverkan-worker"
    ]
    if auth == "ok":
        auth = (account.client_id, account.secret)
    async with running_simulator(port=port, idp=idp), httpx.AsyncClient() as http:
        response = await http.post(idp.token_url, data=form, auth=auth)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json() == {"error": error}
    assert "not-the-secret" not in response.text


async def test_key_and_secrets_survive_a_restart_and_are_private(tmp_path: Path) -> None:
    first = DevIdentityProvider(tmp_path, _issuer(1))
    secret = first.register_service_accounts({"samverkan-gateway": ["default:write"]})[
        "samverkan-gateway"
    ].secret
    token = first.mint("operator-malmo", ["samverkan-malmo:read"])

    port = _free_port()
    again = DevIdentityProvider(tmp_path, _issuer(port))
    kept = again.register_service_accounts({"samverkan-gateway": ["samverkan-malmo:write"]})
    assert kept["samverkan-gateway"].secret == secret
    assert kept["samverkan-gateway"].permissions == ("samverkan-malmo:write",)
    for name in (KEY_FILE, CLIENTS_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600

    # Same key after the restart: a token minted before verifies against the new JWKS, once
    # the issuer matches (the port is part of the issuer URL).
    rewritten = DevIdentityProvider(tmp_path, _issuer(port)).mint("x", [])
    async with running_simulator(port=port, idp=again):
        verifier = _verifier(again)
        assert (await verifier.verify(rewritten)).subject == "x"
        with pytest.raises(TokenRefused, match="wrong_issuer"):
            await verifier.verify(token)
        await verifier.aclose()


async def test_expired_dev_token_is_refused(tmp_path: Path) -> None:
    port = _free_port()
    idp = DevIdentityProvider(tmp_path, _issuer(port))
    old = idp.mint("operator-malmo", ["samverkan-malmo:read"], lifetime_seconds=60, now=1000.0)
    async with running_simulator(port=port, idp=idp):
        verifier = _verifier(idp)
        with pytest.raises(TokenRefused, match="expired"):
            await verifier.verify(old)
        await verifier.aclose()
