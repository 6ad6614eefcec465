"""A client-credentials token endpoint on loopback for tests (RFC 6749 §4.4), signing with the
local OIDC issuer's RSA key (`tests.oidc_issuer.ISSUER`), so a token it issues passes anything
that trusts that issuer's JWKS.

Each service account has a secret and the ``permissions`` its tokens carry
(``"<namespace>:<role>"``). The endpoint checks HTTP Basic auth with form-urlencoded id and
secret (RFC 6749 §2.3.1), answers 401 ``invalid_client`` to a wrong one, and can be told to
answer 503 (``down``) to stand in for an outage. It records each request's arrival (monotonic
clock, the one `ClientCredentialsTokenSource` uses) and the tokens it issued.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from tests.oidc_issuer import ISSUER

AUDIENCE = "temporal"


@dataclass(frozen=True)
class TokenRequest:
    """One request the endpoint received."""

    at: float
    client_id: str | None
    form: dict[str, str]
    status: int


@dataclass
class TokenEndpoint:
    """Service accounts, how long their tokens live, and what the endpoint saw and issued."""

    accounts: dict[str, tuple[str, Sequence[str]]]
    expires_in: float = 60
    down: bool = False
    requests: list[TokenRequest] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, status: int) -> list[TokenRequest]:
        with self._lock:
            return [r for r in self.requests if r.status == status]

    def handle(self, authorization: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client_id, secret = _basic(authorization)
        with self._lock:
            if self.down:
                status, answer = 503, {"error": "temporarily_unavailable"}
            elif form.get("grant_type") != "client_credentials":
                status, answer = 400, {"error": "unsupported_grant_type"}
            elif client_id not in self.accounts or self.accounts[client_id][0] != secret:
                status, answer = 401, {"error": "invalid_client"}
            else:
                permissions = self.accounts[client_id][1]
                token = ISSUER.token(
                    permissions,
                    subject=f"service-account-{client_id}",
                    audience=form.get("audience", AUDIENCE),
                    expires_in=max(self.expires_in, 1),
                    extra={"jti": uuid.uuid4().hex, "azp": client_id},
                )
                self.issued.append(token)
                status = 200
                answer = {
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": self.expires_in,
                }
            self.requests.append(TokenRequest(time.monotonic(), client_id, form, status))
        return status, answer


def _basic(authorization: str | None) -> tuple[str | None, str | None]:
    if not authorization or not authorization.startswith("Basic "):
        return None, None
    user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)


@contextmanager
def token_endpoint(
    accounts: dict[str, tuple[str, Sequence[str]]], *, expires_in: float = 60
) -> Iterator[TokenEndpoint]:
    """A running endpoint at ``.url`` (``http://127.0.0.1:<port>/token``), stopped afterwards."""
    endpoint = TokenEndpoint(accounts=accounts, expires_in=expires_in)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/token":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            status, answer = endpoint.handle(
                self.headers.get("Authorization"), self.rfile.read(length)
            )
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    endpoint.url = f"http://{host!s}:{port}/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
