"""Settings from environment variables (pydantic-settings). Every one is listed in the README."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TASK_QUEUE = "samverkan-cases"


class Settings(BaseSettings):
    """Samverkan's configuration. Field ``x`` is read from environment variable ``X``."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    # Temporal's connection: these override Temporal's own client configuration (profile
    # file and the standard TEMPORAL_* variables) when given; see infra.temporal_client.
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    samverkan_namespaces: str = Field(
        default="",
        description="the municipalities' Temporal namespaces the worker serves, comma-separated; "
        "empty means temporal_namespace alone",
    )
    temporal_tls: bool | None = Field(
        default=None,
        description="true/false forces TLS on/off; unset means Temporal's configuration decides",
    )
    temporal_tls_ca_file: Path | None = Field(
        default=None, description="deprecated: TEMPORAL_TLS_SERVER_CA_CERT_PATH"
    )
    temporal_tls_cert_file: Path | None = Field(
        default=None, description="deprecated: TEMPORAL_TLS_CLIENT_CERT_PATH"
    )
    temporal_tls_key_file: Path | None = Field(
        default=None, description="deprecated: TEMPORAL_TLS_CLIENT_KEY_PATH"
    )
    temporal_api_key: str | None = None
    # A Temporal with the JWT authorizer: an access token from the region's OIDC issuer,
    # fetched as a service account (client credentials) and renewed; see infra.credentials.
    # Empty counts as unset (the Kubernetes secret template leaves them empty).
    samverkan_temporal_token_url: str | None = Field(
        default=None,
        description="the issuer's token endpoint; set means every connection to Temporal "
        "carries a refreshed access token instead of TEMPORAL_API_KEY",
    )
    samverkan_temporal_client_id: str | None = None
    samverkan_temporal_client_secret: SecretStr | None = None
    samverkan_temporal_token_scope: str | None = None
    samverkan_temporal_token_audience: str | None = None
    samverkan_task_queue: str = TASK_QUEUE
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL DSN; unset means the embedded pgserver of the dev stack",
    )
    samverkan_data_dir: Path = Path(".samverkan")
    samverkan_log_format: Literal["auto", "json", "console"] = "auto"
    samverkan_log_level: str = "INFO"
    samverkan_policy_file: Path | None = None
    samverkan_agencies_file: Path | None = None
    samverkan_notify_url: str | None = None
    samverkan_ui_port: int = 8233
    samverkan_temporal_port: int = 7233
    samverkan_simulator_port: int = 8240
    samverkan_gateway_port: int = 8250
    samverkan_codec_port: int = 8251
    samverkan_metrics_bind: str | None = Field(
        default=None, description="host:port of the Prometheus endpoint; unset means none"
    )
    samverkan_tracing: bool = False
    samverkan_agency_attestation_keys: SecretStr | None = Field(
        default=None,
        description="kid:base64key,... (first signs, all verify): the key the agency gateway "
        "signs agency updates with and the worker checks them with (infra.attestation); "
        "gateway and worker only",
    )

    def namespaces(self) -> list[str]:
        """The namespaces to serve, in order, each once: ``samverkan_namespaces``, else
        ``temporal_namespace``."""
        listed = [n.strip() for n in self.samverkan_namespaces.split(",") if n.strip()]
        return list(dict.fromkeys(listed)) or [self.temporal_namespace]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
