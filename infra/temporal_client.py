"""Connecting to Temporal the same way from every process (worker, CLI, gateway, simulator).

Where the connection comes from, each source overriding the one before it:

1. Samverkan's defaults: ``127.0.0.1:7233``, namespace ``default``, no TLS.
2. Temporal's client configuration (`temporalio.envconfig`, the same as the ``temporal``
   CLI and the other SDKs): the profile ``TEMPORAL_PROFILE`` (default ``default``) of the
   TOML file ``TEMPORAL_CONFIG_FILE`` (default ``~/.config/temporalio/temporal.toml``), then
   the standard variables ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
   ``TEMPORAL_TLS``, ``TEMPORAL_TLS_SERVER_CA_CERT_PATH`` / ``_DATA``,
   ``TEMPORAL_TLS_CLIENT_CERT_PATH`` / ``_DATA``, ``TEMPORAL_TLS_CLIENT_KEY_PATH`` / ``_DATA``,
   ``TEMPORAL_TLS_SERVER_NAME`` and ``TEMPORAL_GRPC_META_*``. An API key switches TLS on
   unless TLS is switched off; a certificate or server name switches it on.
3. What `Settings` was given explicitly (environment or code): ``temporal_address``,
   ``temporal_namespace``, ``temporal_api_key``, ``temporal_tls`` and the deprecated
   ``temporal_tls_*_file`` paths (`DEPRECATED_TLS_FILES`; they act as the standard
   variable each names, and every connection that uses them logs one warning line).

An empty API key counts as none (the Kubernetes secret template leaves it empty).

A Temporal with the JWT authorizer (``SAMVERKAN_TEMPORAL_TOKEN_URL`` set): `connect` fetches an
access token from the issuer as a service account (``SAMVERKAN_TEMPORAL_CLIENT_ID`` /
``_CLIENT_SECRET``, optional ``_TOKEN_SCOPE`` / ``_TOKEN_AUDIENCE``) before it connects, uses it
as the API key (so TLS is on unless ``TEMPORAL_TLS=false``, as for any API key), and registers
the client with a refresher that renews it (`infra.credentials`). Every `connect` of one event
loop with the same service account shares one token and one refresher (the worker's one client
per namespace); the refresher ends with the loop (``asyncio.run`` cancels it) or with
`close_token_sources`. A static API key as well is a `TemporalConfigError`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.converter import PayloadCodec
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from infra.converter import data_converter
from infra.credentials import ClientCredentials, ClientCredentialsTokenSource
from infra.settings import Settings

_log = logging.getLogger(__name__)

#: Samverkan's old TLS file settings: field -> (its variable, the standard variable to use).
DEPRECATED_TLS_FILES: Mapping[str, tuple[str, str]] = {
    "temporal_tls_ca_file": ("TEMPORAL_TLS_CA_FILE", "TEMPORAL_TLS_SERVER_CA_CERT_PATH"),
    "temporal_tls_cert_file": ("TEMPORAL_TLS_CERT_FILE", "TEMPORAL_TLS_CLIENT_CERT_PATH"),
    "temporal_tls_key_file": ("TEMPORAL_TLS_KEY_FILE", "TEMPORAL_TLS_CLIENT_KEY_PATH"),
}


#: The service accounts' token sources of each event loop (`token_source_for`).
_TOKEN_SOURCES: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[ClientCredentials, ClientCredentialsTokenSource]
] = weakref.WeakKeyDictionary()


class TemporalConfigError(ValueError):
    """Settings that cannot make a connection; the message says which and what to do."""


@dataclass(frozen=True)
class ConnectOptions:
    """The arguments of ``Client.connect`` that say where and how to connect."""

    target_host: str
    namespace: str
    api_key: str | None = field(default=None, repr=False)
    #: False: plain; True: TLS with the system's roots; `TLSConfig`: certificates and name.
    tls: bool | TLSConfig = field(default=False, repr=False)
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    #: The service account whose access token is the API key (a token source supplies it).
    credentials: ClientCredentials | None = None


def client_credentials(settings: Settings) -> ClientCredentials | None:
    """The service account of ``samverkan_temporal_*``; None without a token URL.

    Raises:
        TemporalConfigError: a token URL without the client id or secret.
    """
    url = (settings.samverkan_temporal_token_url or "").strip()
    if not url:
        return None
    client_id = settings.samverkan_temporal_client_id or ""
    secret = settings.samverkan_temporal_client_secret
    missing = [
        name
        for name, unset in (
            ("SAMVERKAN_TEMPORAL_CLIENT_ID", not client_id),
            ("SAMVERKAN_TEMPORAL_CLIENT_SECRET", secret is None or not secret.get_secret_value()),
        )
        if unset
    ]
    if missing or secret is None:
        raise TemporalConfigError(
            f"SAMVERKAN_TEMPORAL_TOKEN_URL is set but {' and '.join(missing)} not: the token "
            "is fetched as the process's service account, which needs both"
        )
    return ClientCredentials(
        token_url=url,
        client_id=client_id,
        client_secret=secret,
        scope=settings.samverkan_temporal_token_scope or None,
        audience=settings.samverkan_temporal_token_audience or None,
    )


def _given(settings: Settings, name: str) -> bool:
    """Whether ``settings`` was given field ``name`` (from the environment or in code)."""
    return name in settings.model_fields_set and getattr(settings, name) is not None


def _profile(environ: Mapping[str, str]) -> ClientConfigProfile:
    """Temporal's client profile from its TOML file and the ``TEMPORAL_*`` variables."""
    config_file = environ.get("TEMPORAL_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        # envconfig would silently connect with the defaults instead
        raise FileNotFoundError(f"TEMPORAL_CONFIG_FILE names no file: {config_file}")
    return ClientConfigProfile.load(override_env_vars=dict(environ))


def _with_deprecated_files(
    tls: ClientConfigTLS | None, settings: Settings
) -> ClientConfigTLS | None:
    """``tls`` with the files of the deprecated ``temporal_tls_*_file`` settings, and one
    warning line naming the standard variables when any is given."""
    deprecated = [name for name in DEPRECATED_TLS_FILES if _given(settings, name)]
    if not deprecated:
        return tls
    _log.warning(
        "deprecated settings, same meaning under the standard names: %s",
        ", ".join(f"{old} -> {new}" for old, new in (DEPRECATED_TLS_FILES[n] for n in deprecated)),
    )
    tls = tls or ClientConfigTLS()
    if settings.temporal_tls_ca_file is not None:
        tls = replace(tls, server_root_ca_cert=settings.temporal_tls_ca_file)
    if settings.temporal_tls_cert_file is not None:
        tls = replace(tls, client_cert=settings.temporal_tls_cert_file)
    if settings.temporal_tls_key_file is not None:
        tls = replace(tls, client_private_key=settings.temporal_tls_key_file)
    return tls


#: Stands in for the access token while the TLS rule is worked out (never sent).
_TOKEN_PLACEHOLDER = "access-token-from-the-issuer"  # noqa: S105 -- a marker, not a secret


def connect_options(
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    token_source: bool = False,
) -> ConnectOptions:
    """Where and how to connect: ``settings`` over Temporal's profile and environment
    (``environ``, default the process's) over the defaults. Reads the certificate files.

    With a token URL (or ``token_source``, a source given by the caller), the API key is an
    access token that `connect` fetches: ``api_key`` is None here, and TLS follows the rule for
    an API key.

    Raises:
        TemporalConfigError: a token URL and a static API key (or an ``authorization`` header,
            which would hide the token), or a token URL without client id or secret.
    """
    credentials = client_credentials(settings)
    profile = _profile(os.environ if environ is None else environ)
    address = profile.address or settings.temporal_address
    if _given(settings, "temporal_address"):
        address = settings.temporal_address
    namespace = profile.namespace or settings.temporal_namespace
    if _given(settings, "temporal_namespace"):
        namespace = settings.temporal_namespace
    api_key = profile.api_key
    if "temporal_api_key" in settings.model_fields_set:
        api_key = settings.temporal_api_key
    tokens = credentials is not None or token_source
    if tokens:
        if api_key:
            raise TemporalConfigError(
                "TEMPORAL_API_KEY (or the profile's api_key) and SAMVERKAN_TEMPORAL_TOKEN_URL are "
                "both set: unset the static key; the token URL fetches and renews the key itself"
            )
        if any(name.lower() == "authorization" for name in profile.grpc_meta):
            raise TemporalConfigError(
                "TEMPORAL_GRPC_META_AUTHORIZATION (or the profile's authorization header) and "
                "SAMVERKAN_TEMPORAL_TOKEN_URL are both set: the header would hide the access "
                "token; unset it"
            )
        api_key = _TOKEN_PLACEHOLDER
    tls = _with_deprecated_files(profile.tls, settings)
    if settings.temporal_tls is not None:
        tls = replace(tls or ClientConfigTLS(), disabled=not settings.temporal_tls)
    merged = ClientConfigProfile(
        address=address,
        namespace=namespace,
        api_key=api_key or None,
        tls=tls,
        grpc_meta=profile.grpc_meta,
    )
    config = merged.to_client_connect_config()
    return ConnectOptions(
        target_host=address,
        namespace=namespace,
        api_key=None if tokens else config.get("api_key"),
        tls=config.get("tls", False),
        rpc_metadata=dict(config.get("rpc_metadata", {})),
        credentials=credentials,
    )


def token_source_for(credentials: ClientCredentials) -> ClientCredentialsTokenSource:
    """The running event loop's token source for ``credentials``, made on first use: one
    token and one refresher however many clients the process connects."""
    sources = _TOKEN_SOURCES.setdefault(asyncio.get_running_loop(), {})
    source = sources.get(credentials)
    if source is None:
        source = sources[credentials] = ClientCredentialsTokenSource(credentials)
    return source


async def close_token_sources() -> None:
    """Stop the refreshers `connect` started on the running loop (a process's last step;
    ``asyncio.run`` cancels them anyway). Clients keep their last token."""
    sources = _TOKEN_SOURCES.pop(asyncio.get_running_loop(), {})
    for source in sources.values():
        await source.aclose()


async def connect(
    settings: Settings,
    *,
    codec: PayloadCodec | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
    token_source: ClientCredentialsTokenSource | None = None,
) -> Client:
    """A client for the configured Temporal (`connect_options`), with Samverkan's data
    converter.

    Pass the payload ``codec`` (encryption) wherever payloads are read or written: worker,
    gateway, CLI; ``runtime`` carries the Prometheus metrics endpoint. With a token URL, the
    first access token is fetched before connecting and the client is registered with the
    loop's refresher (`token_source_for`); ``token_source`` replaces that shared source.

    Raises:
        TemporalConfigError: contradictory settings (`connect_options`).
        infra.credentials.TokenIssuerError: the issuer gave no first token; one line (its
            status code, or the type of the failure).
    """
    options = connect_options(settings, token_source=token_source is not None)
    if token_source is None and options.credentials is not None:
        token_source = token_source_for(options.credentials)
    api_key = options.api_key
    if token_source is not None:
        api_key = await token_source.token()
    client = await Client.connect(
        options.target_host,
        namespace=options.namespace,
        api_key=api_key,
        tls=options.tls,
        rpc_metadata=options.rpc_metadata,
        data_converter=data_converter(codec),
        runtime=runtime,
        interceptors=list(interceptors),
    )
    if token_source is not None:
        token_source.register(client)
    return client


def with_codec(client: Client, codec: PayloadCodec) -> Client:
    """The same connection as ``client`` with the encrypting data converter."""
    config = client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)
