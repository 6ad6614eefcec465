"""Who may use the codec endpoint: the Web UI user's OIDC access token, checked per namespace.

The Temporal Web UI forwards the signed-in user's access token
(``TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true``) as ``Authorization: Bearer <token>``; the
``temporal`` CLI sends the same with ``--codec-auth "Bearer $TOKEN"``. `OidcVerifier` checks
it the way Temporal's own default JWT authorizer does, so one token serves both:

- the signature, with a key from the issuer's JWKS (fetched over HTTPS from
  ``SAMVERKAN_CODEC_OIDC_JWKS_URL``, cached, re-fetched for an unknown ``kid`` at most every
  `MIN_REFETCH_SECONDS`), and only with an algorithm on the allow-list (asymmetric only:
  ``none`` and the HMAC algorithms are never accepted, whatever the token's header says);
- ``iss`` equal to the configured issuer, ``aud`` containing the configured audience, ``exp``
  in the future (``nbf`` respected), ``sub`` present;
- the permissions claim (``permissions`` by default, Temporal's ``permissionsClaimName``):
  a list of ``"<namespace>:<role>"`` strings, roles ``read``, ``write``, ``worker``,
  ``admin`` as in Temporal. Decoding needs ``read``, ``write`` or ``admin`` on the
  namespace; encoding (what an operator types into a start/signal/update form) needs
  ``write`` or ``admin``. ``worker`` grants neither (workers decode in-process), and a
  system-wide ``temporal-system:admin`` grants no namespace's payloads here: reading
  children's personal data needs a grant for that municipality's namespace.

A refused token raises `TokenRefused` with a fixed reason word, never the token or its
claims; `Principal.subject` (the ``sub`` claim, a pseudonymous id from the IdP) is what the
audit log names. `Principal.officer` is the officer identifier the codec endpoint stamps into
what the operator seals (`Principal.sealed_by`): the claim ``SAMVERKAN_CODEC_OFFICER_CLAIM``
(``sub`` by default) when its value is an identifier (`cases.models.ACTOR_PATTERN`), else
none (never a name or an e-mail address put in the stamp); it refuses no token.

`DevOpenAccess` is the dev stack's stand-in: every call is the user ``dev``, allowed on every
served namespace. `gateway.server` refuses it on anything but a loopback address.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
import jwt

from cases.models import is_actor_id

Action = Literal["decode", "encode"]

#: Temporal's namespace roles (default claim mapper); which of them allow each codec action.
ROLES = frozenset({"read", "write", "worker", "admin"})
_ALLOWS: Mapping[Action, frozenset[str]] = {
    "decode": frozenset({"read", "write", "admin"}),
    "encode": frozenset({"write", "admin"}),
}
#: Asymmetric algorithms only: a JWKS holds public keys, and a symmetric "key" there would let
#: anyone who can read the JWKS sign tokens.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MIN_REFETCH_SECONDS = 30.0
MAX_JWKS_AGE_SECONDS = 600.0


class TokenRefused(Exception):
    """The bearer token is not accepted; ``reason`` is a fixed word, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksUnavailable(Exception):
    """The issuer's keys cannot be fetched (names the error type only)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated codec user: the ``sub`` claim and roles per namespace."""

    subject: str
    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: Every namespace with every role (the dev stack's unauthenticated user only).
    everything: bool = False
    #: The officer identifier of the sign-on (the officer claim, when it is an identifier).
    officer: str | None = None

    @property
    def sealed_by(self) -> str | None:
        """What ``/codec/encode`` stamps into this user's payloads: the officer identifier,
        ``""`` when the sign-on carries none (then no actor field is accepted from them), and
        ``None`` (no stamp) for the dev stack's unauthenticated user."""
        if self.everything:
            return None
        return self.officer or ""

    def may(self, namespace: str, action: Action) -> bool:
        """Whether this user may ``action`` payloads of ``namespace``."""
        if self.everything:
            return True
        return bool(self.roles.get(namespace, frozenset()) & _ALLOWS[action])


def parse_permissions(claim: object) -> dict[str, frozenset[str]]:
    """``{"<namespace>": {roles}}`` from a Temporal-style permissions claim; entries that are
    not ``"<namespace>:<known role>"`` strings are ignored (they grant nothing)."""
    entries: Iterable[object]
    if isinstance(claim, str):
        entries = claim.split()
    elif isinstance(claim, list | tuple):
        entries = claim
    else:
        return {}
    roles: dict[str, set[str]] = {}
    for entry in entries:
        if not isinstance(entry, str):
            continue
        namespace, sep, role = entry.strip().rpartition(":")
        role = role.lower()
        if sep and namespace and role in ROLES:
            roles.setdefault(namespace, set()).add(role)
    return {ns: frozenset(r) for ns, r in roles.items()}


class CodecAccess(Protocol):
    """Turns a request's ``Authorization`` header into a `Principal`."""

    async def principal(self, authorization: str | None) -> Principal:
        """The caller, or `TokenRefused`; `JwksUnavailable` when keys cannot be fetched."""
        ...


class DevOpenAccess:
    """No authentication: the dev stack's loopback-only codec endpoint."""

    async def principal(self, authorization: str | None) -> Principal:
        return Principal(subject="dev", everything=True)


class OidcVerifier:
    """Verifies OIDC access tokens against the issuer's JWKS (module docstring)."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        algorithms: Iterable[str] = ("RS256", "PS256", "ES256"),
        permissions_claim: str = "permissions",
        officer_claim: str = "sub",
        leeway_seconds: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        allowed = frozenset(a.strip() for a in algorithms if a.strip())
        if not allowed or not allowed <= ASYMMETRIC_ALGORITHMS:
            bad = ", ".join(sorted(allowed - ASYMMETRIC_ALGORITHMS)) or "none given"
            raise ValueError(f"codec token algorithms must be asymmetric JWS algorithms ({bad})")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.algorithms = sorted(allowed)
        self.permissions_claim = permissions_claim
        self.officer_claim = officer_claim
        self.leeway = leeway_seconds
        self._http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def principal(self, authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRefused("missing")
        return await self.verify(token)

    async def verify(self, token: str) -> Principal:
        """The token's `Principal`.

        Raises:
            TokenRefused: malformed, unknown key, algorithm not allowed, bad signature,
                expired, wrong issuer or audience, no subject.
            JwksUnavailable: the issuer's keys could not be fetched.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise TokenRefused("algorithm_not_allowed")
        key = await self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRefused("not_yet_valid") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("wrong_issuer") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("wrong_audience") from None
        except jwt.MissingRequiredClaimError:
            raise TokenRefused("missing_claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("bad_signature") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRefused("invalid") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenRefused("missing_claim")
        officer = claims.get(self.officer_claim)
        return Principal(
            subject=subject,
            roles=parse_permissions(claims.get(self.permissions_claim)),
            officer=officer if isinstance(officer, str) and is_actor_id(officer) else None,
        )

    async def _key(self, kid: object) -> jwt.PyJWK:
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("no_key_id")
        now = time.monotonic()
        stale = now - self._fetched_at > MAX_JWKS_AGE_SECONDS
        if (kid not in self._keys and now - self._fetched_at > MIN_REFETCH_SECONDS) or stale:
            async with self._lock:
                if time.monotonic() - self._fetched_at > MIN_REFETCH_SECONDS or stale:
                    await self._fetch()
        try:
            return self._keys[kid]
        except KeyError:
            raise TokenRefused("unknown_key") from None

    async def _fetch(self) -> None:
        try:
            response = await self._http.get(self.jwks_url)
            response.raise_for_status()
            jwks = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            if self._keys:  # keep serving with the keys we have; try again later
                self._fetched_at = time.monotonic()
                return
            raise JwksUnavailable(type(exc).__name__) from None
        self._keys = {k.key_id: k for k in jwks.keys if k.key_id}
        self._fetched_at = time.monotonic()
