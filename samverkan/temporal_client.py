"""Connecting to Temporal the same way from every process (worker, CLI, gateway, simulator)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from samverkan.converter import data_converter
from samverkan.settings import Settings


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
            settings.temporal_tls_cert_file.read_bytes() if settings.temporal_tls_cert_file else None
        ),
        client_private_key=(
            settings.temporal_tls_key_file.read_bytes() if settings.temporal_tls_key_file else None
        ),
    )


async def connect(settings: Settings) -> Client:
    """A client for the configured address and namespace, with Samverkan's data converter."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
        tls=_tls(settings),
        api_key=settings.temporal_api_key,
    )
