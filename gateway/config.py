"""The gateway's settings, read from environment variables (each listed in docs/security.md)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

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
    #: Bearer token operators' tools send to /codec/*; unset means no auth (dev only).
    samverkan_codec_token: str | None = None
    #: Origins allowed to call /codec/* from a browser (the Web UI), comma-separated.
    samverkan_codec_cors_origins: str = "http://localhost:8233,http://127.0.0.1:8233"
    #: Namespaces the codec endpoint serves, comma-separated; empty means temporal_namespace.
    samverkan_codec_namespaces: str = ""

    def allowed_hosts(self) -> list[str]:
        """The Host header names the gateway answers to (`samverkan_gateway_allowed_hosts`)."""
        listed = [h.strip() for h in self.samverkan_gateway_allowed_hosts.split(",") if h.strip()]
        if listed:
            return listed
        hosts = [*_LOOPBACK_HOSTS]
        bound = self.samverkan_gateway_host.strip()
        if bound and bound not in _ANY_ADDRESS:
            hosts.append(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
        return hosts

    def codec_origins(self) -> frozenset[str]:
        """The allowed browser origins of the codec endpoint."""
        return frozenset(
            o.strip() for o in self.samverkan_codec_cors_origins.split(",") if o.strip()
        )

    def codec_namespaces(self) -> frozenset[str]:
        """The namespaces the codec endpoint serves."""
        listed = {n.strip() for n in self.samverkan_codec_namespaces.split(",") if n.strip()}
        return frozenset(listed or {self.temporal_namespace})
