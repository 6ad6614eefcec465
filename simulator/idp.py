"""The dev stack's identity provider: a stand-in for the region's OIDC issuer (``samverkan dev
--auth``), so sign-on can be tried on one machine with the same tokens production uses.

In production the region's IdP (Keycloak, Entra ID, …) issues every token; Temporal's own
authorizer, the codec endpoint and the board verify them against its JWKS. Here the agency
simulator serves, under ``/idp``:

| route | what |
|---|---|
| ``GET /idp/.well-known/openid-configuration`` | issuer, ``jwks_uri``, ``token_endpoint`` |
| ``GET /idp/jwks`` | the public signing key (ES256) |
| ``POST /idp/token`` | OAuth 2.0 client credentials (RFC 6749 §4.4): the dev stack's service accounts |

Tokens look like production's: ``iss`` the issuer URL, ``aud`` `AUDIENCE`, ``sub`` the
client or operator id, ``exp``, and ``permissions``, a list of ``"<namespace>:<role>"``
(Temporal's default claim mapper). The signing key is made on first use and kept in the data
folder (``idp-key.pem``, mode 0600) with the service accounts (``idp-clients.json``, 0600), so
tokens survive a restart of the stack. Operators get a token from ``samverkan dev-token``,
which signs with the same key (`DevIdentityProvider.mint`): the dev equivalent of signing in.

Nothing here is fit for production: one key, no rotation, client secrets in a file.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

#: The audience of every dev token (the codec endpoint, the board and the front door check it).
AUDIENCE = "samverkan-dev"
ALGORITHM = "ES256"
KEY_ID = "dev-1"
KEY_FILE = "idp-key.pem"
CLIENTS_FILE = "idp-clients.json"
#: Lifetime of a token, in seconds (service accounts renew at three quarters of it).
DEFAULT_LIFETIME_SECONDS = 900
PATH = "/idp"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A client of the token endpoint: its secret and the grants its tokens carry."""

    client_id: str
    secret: str
    permissions: tuple[str, ...]


class DevIdentityProvider:
    """Signs tokens with the data folder's dev key; knows the dev stack's service accounts."""

    def __init__(self, data_dir: Path, issuer: str, *, lifetime_seconds: int | None = None):
        self.data_dir = data_dir
        self.issuer = issuer.rstrip("/")
        self.lifetime = lifetime_seconds or DEFAULT_LIFETIME_SECONDS
        self._key = _load_or_create_key(data_dir / KEY_FILE)

    @property
    def jwks_url(self) -> str:
        """Where the public key is served."""
        return f"{self.issuer}/jwks"

    @property
    def token_url(self) -> str:
        """The client-credentials token endpoint."""
        return f"{self.issuer}/token"

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWKS document."""
        public = jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KEY_ID, "alg": ALGORITHM, "use": "sig"}]}

    def mint(
        self,
        subject: str,
        permissions: Iterable[str],
        *,
        lifetime_seconds: int | None = None,
        now: float | None = None,
    ) -> str:
        """A signed access token for ``subject`` with these ``"<namespace>:<role>"`` grants."""
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": issued,
            "exp": issued + (lifetime_seconds or self.lifetime),
            "permissions": list(permissions),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": KEY_ID})

    # -- service accounts ---------------------------------------------------------------------

    def register_service_accounts(
        self, grants: Mapping[str, Sequence[str]]
    ) -> dict[str, ServiceAccount]:
        """Create (or keep) a service account per client id with these grants; returns them.

        Secrets already in the clients file are kept, grants are replaced (the namespaces of
        this start of the stack)."""
        known = self.service_accounts()
        accounts = {
            client_id: ServiceAccount(
                client_id,
                known[client_id].secret if client_id in known else secrets.token_urlsafe(32),
                tuple(permissions),
            )
            for client_id, permissions in grants.items()
        }
        document = {
            a.client_id: {"secret": a.secret, "permissions": list(a.permissions)}
            for a in accounts.values()
        }
        _write_private(self.data_dir / CLIENTS_FILE, json.dumps(document, indent=2) + "\n")
        return accounts

    def service_accounts(self) -> dict[str, ServiceAccount]:
        """The service accounts in the clients file (none if there is no file)."""
        path = self.data_dir / CLIENTS_FILE
        if not path.is_file():
            return {}
        document = json.loads(path.read_text())
        return {
            client_id: ServiceAccount(client_id, entry["secret"], tuple(entry["permissions"]))
            for client_id, entry in document.items()
        }

    def client_credentials(self, authorization: str | None, form: Mapping[str, str]) -> str:
        """The token for a client-credentials request, or `TokenRequestRefused`."""
        if form.get("grant_type") != "client_credentials":
            raise TokenRequestRefused(400, "unsupported_grant_type")
        client_id, secret = _basic_credentials(authorization)
        account = self.service_accounts().get(client_id)
        if account is None or not hmac.compare_digest(account.secret.encode(), secret.encode()):
            raise TokenRequestRefused(401, "invalid_client")
        return self.mint(account.client_id, account.permissions)

    # -- HTTP -----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """The ``/idp`` routes for the simulator's app."""

        async def configuration(_: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "jwks_uri": self.jwks_url,
                    "token_endpoint": self.token_url,
                    "grant_types_supported": ["client_credentials"],
                    "id_token_signing_alg_values_supported": [ALGORITHM],
                }
            )

        async def jwks(_: Request) -> Response:
            return JSONResponse(self.jwks())

        async def token(request: Request) -> Response:
            # application/x-www-form-urlencoded (RFC 6749 §4.4.2), parsed here: starlette's
            # form parser needs python-multipart, a dependency for one dev-only route.
            body = (await request.body()).decode("utf-8", errors="replace")
            fields = {k: v[0] for k, v in parse_qs(body, max_num_fields=16).items()}
            try:
                access_token = self.client_credentials(request.headers.get("authorization"), fields)
            except TokenRequestRefused as refused:
                headers = {"WWW-Authenticate": "Basic"} if refused.status == 401 else None
                return JSONResponse({"error": refused.error}, refused.status, headers=headers)
            return JSONResponse(
                {
                    "access_token": access_token,
                    "token_type": "Bearer",
                    "expires_in": self.lifetime,
                },
                headers={"Cache-Control": "no-store"},
            )

        return [
            Route(f"{PATH}/.well-known/openid-configuration", configuration, methods=["GET"]),
            Route(f"{PATH}/jwks", jwks, methods=["GET"]),
            Route(f"{PATH}/token", token, methods=["POST"]),
        ]


class TokenRequestRefused(Exception):
    """A token request the endpoint refuses: HTTP status and OAuth error code."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise TokenRequestRefused(401, "invalid_client")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise TokenRequestRefused(401, "invalid_client") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        raise TokenRequestRefused(401, "invalid_client")
    # RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.is_file():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} does not hold an EC private key")
        return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(path, pem.decode())
    return key


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
