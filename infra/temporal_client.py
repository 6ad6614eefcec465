"""Connecting to Temporal the same way from every process (worker, CLI, gateway, simulator)."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.converter import PayloadCodec
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from infra.converter import data_converter
from infra.settings import Settings


def _tls(settings: Settings) -> TLSConfig | bool:
    if not settings.temporal_tls:
        return False
    if not (settings.temporal_tls_ca_file or settings.temporal_tls_cert_file):
        return True
    return TLSConfig(
        server_root_ca_cert=(
            settings.temporal_tls_ca_file.read_bytes() if settings.temporal_tls_ca_file else None
        ),
        client_cert=(
            settings.temporal_tls_cert_file.read_bytes()
            if settings.temporal_tls_cert_file
            else None
        ),
        client_private_key=(
            settings.temporal_tls_key_file.read_bytes() if settings.temporal_tls_key_file else None
        ),
    )


async def connect(
    settings: Settings,
    *,
    codec: PayloadCodec | None = None,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client for the configured address and namespace, with Samverkan's data converter.

    Pass the payload ``codec`` (encryption) wherever payloads are read or written: worker,
    gateway, CLI; ``runtime`` carries the Prometheus metrics endpoint.
    """
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(codec),
        runtime=runtime,
        interceptors=list(interceptors),
        tls=_tls(settings),
        api_key=settings.temporal_api_key,
    )


def with_codec(client: Client, codec: PayloadCodec) -> Client:
    """The same connection as ``client`` with the encrypting data converter."""
    config = client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)
