"""A local OIDC issuer for tests: keys made here with `cryptography`, tokens signed here with
PyJWT, and the JWKS served over HTTP on loopback by a thread of this process. Nothing is
fetched from the internet.

`ISSUER` is shared by the test modules; `ISSUER.jwks_url` starts its server on first use.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER_NAME = "https://sso.samverkan.test/realms/region"
AUDIENCE = "temporal-ui"


class LocalIssuer:
    """An RSA and an EC signing key, their JWKS on loopback, and a token minter."""

    def __init__(self) -> None:
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.jwks: dict[str, Any] = {
            "keys": [
                {**_public_jwk(self.rsa_key, "RS256"), "kid": "rsa-1"},
                {**_public_jwk(self.ec_key, "ES256"), "kid": "ec-1"},
            ]
        }
        self.fetches = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def jwks_url(self) -> str:
        """The JWKS URL (the server starts on first use and lives as long as the process)."""
        with self._lock:
            if self._server is None:
                self._server = self._serve()
            host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/jwks"

    def settings(self) -> dict[str, str]:
        """`GatewaySettings` fields that make the codec endpoint trust this issuer."""
        return {
            "samverkan_codec_oidc_issuer": ISSUER_NAME,
            "samverkan_codec_oidc_audience": AUDIENCE,
            "samverkan_codec_oidc_jwks_url": self.jwks_url,
        }

    def token(
        self,
        permissions: Sequence[str] | None = ("default:read",),
        *,
        subject: str = "operator-7f3a",
        issuer: str = ISSUER_NAME,
        audience: str | list[str] = AUDIENCE,
        expires_in: float = 3600,
        kid: str = "rsa-1",
        algorithm: str = "RS256",
        key: Any = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token (RS256 with the RSA key unless told otherwise)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + int(expires_in),
            **(extra or {}),
        }
        if permissions is not None:
            claims["permissions"] = list(permissions)
        if key is None:
            key = self.ec_key if algorithm.startswith("ES") else self.rsa_key
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})

    def _serve(self) -> ThreadingHTTPServer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks":
                    self.send_error(404)
                    return
                issuer.fetches += 1
                body = json.dumps(issuer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def _public_jwk(private_key: Any, algorithm: str) -> dict[str, Any]:
    algo = jwt.get_algorithm_by_name(algorithm)
    jwk: dict[str, Any] = json.loads(algo.to_jwk(private_key.public_key()))
    return {**jwk, "alg": algorithm, "use": "sig"}


ISSUER = LocalIssuer()
