"""Access tokens for Temporal from the region's OIDC issuer, as a service account.

With the JWT authorizer on (deploy/helm/temporal-values.yaml, ``server.config.authorization``)
every call to Temporal's frontend carries an access token. A Samverkan process gets one with
the OAuth 2.0 client credentials grant (RFC 6749 §4.4): it POSTs ``grant_type=client_credentials``
(and ``scope`` / ``audience`` when configured) to the issuer's token endpoint, authenticated by
HTTP Basic with its client id and secret, each form-urlencoded first (RFC 6749 §2.3.1), and
reads ``access_token`` and ``expires_in`` (RFC 6749 §5.1).

`ClientCredentialsTokenSource` keeps the token and renews it in the background at 75 % of its
lifetime, and never later than a minute before it expires (`refresh_delay`). A refresh that
fails is retried with a doubling delay capped at 30 s; meanwhile the old token stays in use
as long as it is valid. Each new token is pushed to every registered client by setting
``client.api_key``. That reaches calls already under way on the same connection:

- ``temporalio.client.Client.api_key``'s setter (temporalio 1.35.0,
  ``temporalio/client/_client.py``) sets ``service_client.config.api_key`` and calls
  ``service_client.update_api_key``; for the bridge service client
  (``temporalio/service.py``, ``_BridgeServiceClient.update_api_key``) that updates the
  connected Core client, whose ``update_api_key`` (``temporalio/bridge/src/client.rs``) calls
  ``Connection::set_api_key``, which replaces the key in the connection's shared headers
  (``sdk-core/crates/client/src/lib.rs``, ``set_api_key``: ``inner.headers.write().api_key``).
- Every request on that connection, a worker's long polls included, reads those headers when it
  is sent (the same file: the header interceptor calls ``headers.read().apply_to_metadata``,
  which adds ``authorization: Bearer <key>``). A ``temporalio.worker.Worker`` polls through
  ``client.service_client`` (``temporalio/worker/_worker.py``,
  ``_extract_bridge_client_for_worker``): the same Core connection, so its next poll carries
  the new token. Clients made from another's config (``infra.temporal_client.with_codec``)
  share its service client, so they follow too.
- The header is only added when the call's metadata has no ``authorization`` of its own, so a
  ``TEMPORAL_GRPC_META_AUTHORIZATION`` header would hide the token (``infra.temporal_client``
  refuses that combination).

Neither the token nor the client secret ever appears in an error message or a log line: errors
name the issuer's status code or the type of the failure, nothing from the response body.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote_plus

import httpx
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.service import ServiceClient

from infra.logging import get_logger

#: The lifetime assumed when the issuer's answer has no ``expires_in`` (RFC 6749 only
#: recommends it).
DEFAULT_LIFETIME = 300.0
#: Renew at this fraction of a token's lifetime ...
REFRESH_FRACTION = 0.75
#: ... and at least this many seconds before it expires (`refresh_delay`).
EXPIRY_MARGIN = 60.0
#: A failed refresh is retried after 1 s, 2 s, 4 s, ... up to this many seconds apart.
RETRY_INITIAL = 1.0
RETRY_MAX = 30.0
#: Seconds for one request to the token endpoint.
REQUEST_TIMEOUT = 10.0


class TokenIssuerError(Exception):
    """No token from the issuer. The message is one line and holds neither secret nor token."""


class TokenRefused(TokenIssuerError):
    """The token endpoint answered with an error status (wrong secret: 401; down: 5xx)."""

    def __init__(self, token_url: str, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(
            f"the token issuer {token_url} refused Samverkan's client credentials "
            f"(HTTP {status_code})"
        )


class TokenIssuerUnreachable(TokenIssuerError):
    """No answer from the token endpoint (connection refused, timeout, TLS failure)."""

    def __init__(self, token_url: str, cause: BaseException) -> None:
        self.error_type = type(cause).__name__
        super().__init__(f"the token issuer {token_url} cannot be reached ({self.error_type})")


class TokenResponseInvalid(TokenIssuerError):
    """The token endpoint answered 200 without a usable bearer token."""

    def __init__(self, token_url: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the token issuer {token_url} answered without a usable token ({reason})")


@dataclass(frozen=True)
class ClientCredentials:
    """A service account at the issuer: where to ask and who asks."""

    token_url: str
    client_id: str
    client_secret: SecretStr = field(repr=False)
    scope: str | None = None
    audience: str | None = None


@dataclass(frozen=True)
class AccessToken:
    """A token and when it stops being valid, on the source's (monotonic) clock."""

    value: str = field(repr=False)
    lifetime: float
    expires_at: float

    def remaining(self, now: float) -> float:
        """Seconds until it expires (negative once expired)."""
        return self.expires_at - now


def refresh_delay(
    lifetime: float, *, fraction: float = REFRESH_FRACTION, margin: float = EXPIRY_MARGIN
) -> float:
    """Seconds after a token was asked for to ask for the next: at ``fraction`` of its
    ``lifetime`` and at least ``margin`` before it expires. A token too short-lived for both
    (under two margins) is renewed halfway through its life."""
    return max(min(fraction * lifetime, lifetime - margin), lifetime / 2)


def retry_delay(
    failures: int, *, initial: float = RETRY_INITIAL, maximum: float = RETRY_MAX
) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling, capped."""
    return min(initial * 2.0 ** max(failures - 1, 0), maximum)


class ClientCredentialsTokenSource:
    """A service account's access token for Temporal, renewed before it expires and pushed to
    every registered client.

    Use it as an async context manager, or call `aclose` when done; ``asyncio.run`` also
    cancels the refresher when the process's loop ends. `token` fetches the first token;
    `register` starts the background refresher.

    Args:
        credentials: the service account.
        http: the HTTP client to call the issuer with (default: one of its own, closed by
            `aclose`).
        refresh_fraction, expiry_margin: when to renew (`refresh_delay`).
        retry_initial, retry_max: how soon to retry a failed renewal (`retry_delay`).
        clock: seconds on a monotonic clock.
    """

    def __init__(
        self,
        credentials: ClientCredentials,
        *,
        http: httpx.AsyncClient | None = None,
        refresh_fraction: float = REFRESH_FRACTION,
        expiry_margin: float = EXPIRY_MARGIN,
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self._http = http
        self._owns_http = http is None
        self._refresh_fraction = refresh_fraction
        self._expiry_margin = expiry_margin
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._clock = clock
        self._token: AccessToken | None = None
        #: The connections the token is set on. Clients made from another's config (with_codec,
        #: the gateway's attesting client) share its service client, so holding the connection
        #: keeps renewal going for as long as any of those clients lives.
        self._connections: weakref.WeakSet[ServiceClient] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """Tokens fetched by the background refresher (not counting the first)."""

    def __repr__(self) -> str:
        return f"ClientCredentialsTokenSource({self.credentials!r})"

    @property
    def current(self) -> AccessToken | None:
        """The token in use, if any (possibly expired while the issuer is down)."""
        return self._token

    async def token(self) -> str:
        """The access token in use; fetches one first when there is none or it has expired.

        Raises:
            TokenIssuerError: the issuer gave no token.
        """
        async with self._lock:
            if self._token is None or self._token.remaining(self._clock()) <= 0:
                self._install(await self.fetch())
            return self._token.value  # type: ignore[union-attr]  # set just above

    def register(self, client: Client) -> None:
        """Keep ``client.api_key`` set to the token in use, and start the refresher.

        Its connection (``client.service_client``, shared by every client made from its
        config) is held weakly: a connection no client uses any more is not kept alive here."""
        self._connections.add(client.service_client)
        if self._token is not None:
            client.api_key = self._token.value
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._refresh_forever(), name="temporal-token-refresher"
            )

    async def fetch(self) -> AccessToken:
        """One client-credentials request to the issuer (no retry).

        Raises:
            TokenRefused: an error status. TokenIssuerUnreachable: no answer.
            TokenResponseInvalid: 200 without a usable bearer token.
        """
        credentials = self.credentials
        form = {"grant_type": "client_credentials"}
        if credentials.scope:
            form["scope"] = credentials.scope
        if credentials.audience:
            form["audience"] = credentials.audience
        auth = httpx.BasicAuth(
            quote_plus(credentials.client_id, safe=""),
            quote_plus(credentials.client_secret.get_secret_value(), safe=""),
        )
        asked_at = self._clock()
        try:
            response = await self._client().post(
                credentials.token_url,
                data=form,
                auth=auth,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise TokenIssuerUnreachable(credentials.token_url, exc) from None
        if response.status_code != httpx.codes.OK:
            raise TokenRefused(credentials.token_url, response.status_code)
        return _parse_token(credentials.token_url, response, asked_at)

    async def aclose(self) -> None:
        """Stop the refresher and close the HTTP client it owns. Registered clients keep the
        last token."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT)
        return self._http

    def _install(self, token: AccessToken) -> None:
        self._token = token
        for connection in list(self._connections):
            # what `Client.api_key`'s setter does, once per shared connection
            connection.config.api_key = token.value
            connection.update_api_key(token.value)

    def _until_refresh(self) -> float:
        token = self._token
        if token is None:
            return 0.0
        delay = refresh_delay(
            token.lifetime, fraction=self._refresh_fraction, margin=self._expiry_margin
        )
        asked_at = token.expires_at - token.lifetime
        return max(asked_at + delay - self._clock(), 0.0)

    async def _refresh_forever(self) -> None:
        failures = 0
        delay = self._until_refresh()
        while True:
            await asyncio.sleep(delay)
            try:
                token = await self.fetch()
            except Exception as exc:  # anything: the refresher must outlive one bad answer
                failures += 1
                delay = retry_delay(failures, initial=self._retry_initial, maximum=self._retry_max)
                self._log_failure(exc, delay)
                continue
            async with self._lock:
                self._install(token)
            self.refreshes += 1
            if failures:
                _logger().info("temporal access token renewed again", failures=failures)
            else:
                _logger().debug("temporal access token renewed", expires_in=round(token.lifetime))
            failures = 0
            delay = self._until_refresh()

    def _log_failure(self, exc: Exception, retry_in: float) -> None:
        token = self._token
        remaining = token.remaining(self._clock()) if token is not None else 0.0
        fields: dict[str, Any] = {
            "error": type(exc).__name__,
            "token_url": self.credentials.token_url,
            "retry_in": round(retry_in, 1),
        }
        if isinstance(exc, TokenRefused):
            fields["status_code"] = exc.status_code
        elif isinstance(exc, TokenIssuerUnreachable):
            fields["cause"] = exc.error_type
        log = _logger()
        if remaining > 0:
            log.warning(
                "temporal access token renewal failed; the current one stays in use",
                valid_for=math.floor(remaining),
                **fields,
            )
        else:
            log.error(
                "temporal access token renewal failed and the current one has expired; "
                "Temporal refuses calls until the issuer answers",
                **fields,
            )


def _logger() -> Any:
    # a fresh proxy per line, so a logger cached by the process's configuration never hides
    # these lines from structlog.testing.capture_logs
    return get_logger("infra.credentials")


def _parse_token(token_url: str, response: httpx.Response, asked_at: float) -> AccessToken:
    try:
        body = response.json()
    except ValueError:
        raise TokenResponseInvalid(token_url, "not JSON") from None
    if not isinstance(body, dict):
        raise TokenResponseInvalid(token_url, "not a JSON object")
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenResponseInvalid(token_url, "no access_token")
    token_type = body.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenResponseInvalid(token_url, "token_type is not Bearer")
    raw = body.get("expires_in")
    if raw is None:
        lifetime = DEFAULT_LIFETIME
    else:
        try:
            lifetime = float(raw)
        except (TypeError, ValueError):
            raise TokenResponseInvalid(token_url, "expires_in is not a number") from None
        if not math.isfinite(lifetime) or lifetime <= 0:
            raise TokenResponseInvalid(token_url, "expires_in is not positive")
    return AccessToken(value=value, lifetime=lifetime, expires_at=asked_at + lifetime)
