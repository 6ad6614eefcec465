"""The gateway's settings, read from environment variables (each listed in docs/security.md)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.oidc import OidcVerifier

#: Always allowed when SAMVERKAN_GATEWAY_ALLOWED_HOSTS is unset (IPv6 literals in brackets,
#: as in a Host header).
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
#: Bind addresses that name no host a client would send.
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", "[::]"})  # noqa: S104  (compared, never bound)


class GatewaySettings(BaseSettings):
    """Gateway and codec-endpoint configuration. Field ``x`` is environment variable ``X``."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    samverkan_gateway_host: str = "127.0.0.1"
    samverkan_gateway_port: int = 8250
    #: Host names (no port) the gateway answers to, comma-separated; ``*.example.se`` matches
    #: its subdomains, ``*`` any host. Empty: the loopback names and the configured host.
    #: Another Host header is 400 (``/healthz`` answers any, for probes by address).
    samverkan_gateway_allowed_hosts: str = ""
    temporal_namespace: str = "default"
    #: Largest request body accepted, in bytes (413 beyond).
    samverkan_gateway_max_body_bytes: int = 64 * 1024
    #: Sustained calls per minute per agency, and the burst allowed on top (429 beyond).
    samverkan_gateway_rate_per_minute: float = 120.0
    samverkan_gateway_burst: int = 30
    #: Failed authentications (401) per client address: sustained per minute and the burst
    #: on top; beyond, 429 + Retry-After (on /v1 for failures only; on /codec for any call).
    samverkan_gateway_auth_failures_per_minute: float = 10.0
    samverkan_gateway_auth_failure_burst: int = 20
    #: Deployment option (mTLS at a proxy): the header in which a trusted TLS-terminating proxy
    #: puts the verified client certificate's agency name. Unset: API keys only.
    samverkan_gateway_identity_header: str | None = None
    #: Largest /codec/* body accepted, in bytes (413 beyond; a history page of payloads).
    samverkan_codec_max_body_bytes: int = 8 * 1024 * 1024
    #: Removed (one static token for every operator): set, the gateway refuses to start and
    #: names the OIDC settings that replace it.
    samverkan_codec_token: str | None = None
    #: The codec endpoint's own listener, never the agency API's (docs/security.md).
    samverkan_codec_host: str = "127.0.0.1"
    samverkan_codec_port: int = 8251
    #: Host names the codec listener answers to (as SAMVERKAN_GATEWAY_ALLOWED_HOSTS).
    samverkan_codec_allowed_hosts: str = ""
    #: The OIDC issuer of the Web UI's sign-on: ``iss`` must equal it.
    samverkan_codec_oidc_issuer: str | None = None
    #: ``aud`` must contain it (the audience the IdP puts in the Web UI's access tokens).
    samverkan_codec_oidc_audience: str | None = None
    #: The issuer's JWKS (public keys), e.g. ``https://sso.example/realms/x/protocol/openid-connect/certs``.
    samverkan_codec_oidc_jwks_url: str | None = None
    #: Signature algorithms accepted, comma-separated (asymmetric only).
    samverkan_codec_oidc_algorithms: str = "RS256,PS256,ES256"
    #: The claim listing ``<namespace>:<role>`` grants (Temporal's permissionsClaimName).
    samverkan_codec_permissions_claim: str = "permissions"
    #: The claim holding the operator's officer identifier (what ``decided_by`` /
    #: ``requested_by`` must equal in what they seal through the codec endpoint).
    samverkan_codec_officer_claim: str = "sub"
    #: ``samverkan dev`` only: no authentication on the codec listener, which must then be on
    #: a loopback address (the gateway refuses to start otherwise).
    samverkan_codec_dev_open: bool = False
    #: Origins allowed to call /codec/* from a browser (the Web UI), comma-separated.
    samverkan_codec_cors_origins: str = "http://localhost:8233,http://127.0.0.1:8233"
    #: Namespaces the codec endpoint serves, comma-separated; empty means SAMVERKAN_NAMESPACES,
    #: else temporal_namespace.
    samverkan_codec_namespaces: str = ""
    #: The municipalities' namespaces (one per municipality, as the worker's setting).
    samverkan_namespaces: str = ""

    def allowed_hosts(self) -> list[str]:
        """The Host header names the gateway answers to (`samverkan_gateway_allowed_hosts`)."""
        return _hosts(self.samverkan_gateway_allowed_hosts, self.samverkan_gateway_host)

    def codec_allowed_hosts(self) -> list[str]:
        """The Host header names the codec listener answers to."""
        return _hosts(self.samverkan_codec_allowed_hosts, self.samverkan_codec_host)

    def codec_oidc_configured(self) -> bool:
        """Whether issuer, audience and JWKS URL are all set."""
        return all(
            (
                self.samverkan_codec_oidc_issuer,
                self.samverkan_codec_oidc_audience,
                self.samverkan_codec_oidc_jwks_url,
            )
        )

    def oidc_verifier(self) -> OidcVerifier | None:
        """The operators' sign-on check (the codec endpoint's and the board's); ``None``
        while issuer, audience or JWKS URL is unset."""
        if not self.codec_oidc_configured():
            return None
        return OidcVerifier(
            issuer=self.samverkan_codec_oidc_issuer or "",
            audience=self.samverkan_codec_oidc_audience or "",
            jwks_url=self.samverkan_codec_oidc_jwks_url or "",
            algorithms=self.samverkan_codec_oidc_algorithms.split(","),
            permissions_claim=self.samverkan_codec_permissions_claim,
            officer_claim=self.samverkan_codec_officer_claim,
        )

    def codec_origins(self) -> frozenset[str]:
        """The allowed browser origins of the codec endpoint."""
        return frozenset(
            o.strip() for o in self.samverkan_codec_cors_origins.split(",") if o.strip()
        )

    def codec_namespaces(self) -> frozenset[str]:
        """The namespaces the codec endpoint serves."""
        listed = _names(self.samverkan_codec_namespaces) or _names(self.samverkan_namespaces)
        return frozenset(listed or {self.temporal_namespace})


def _names(text: str) -> set[str]:
    return {n.strip() for n in text.split(",") if n.strip()}


def _hosts(listed_text: str, bound: str) -> list[str]:
    listed = [h.strip() for h in listed_text.split(",") if h.strip()]
    if listed:
        return listed
    hosts = [*_LOOPBACK_HOSTS]
    bound = bound.strip()
    if bound and bound not in _ANY_ADDRESS:
        hosts.append(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
    return hosts


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is a loopback address or ``localhost``."""
    import ipaddress

    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
