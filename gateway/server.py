"""Build the gateway's real dependencies from settings and serve it with uvicorn."""

from __future__ import annotations

import asyncpg
import uvicorn
from temporalio.client import Client
from temporalio.common import MetricMeter

from gateway.app import GatewayDeps, create_app
from gateway.config import GatewaySettings
from gateway.consultations import Consultations
from gateway.credentials import AgencyCredentials
from gateway.records import GatewayRecords
from samverkan.codec import EncryptionCodec
from samverkan.converter import data_converter
from samverkan.keys import CaseKeys, MasterKeys, PostgresDataKeyStore


def build_codec(pool: asyncpg.Pool, *, namespace: str, master_keys: MasterKeys) -> EncryptionCodec:
    """The payload codec on the data keys in ``pool``'s database."""
    keys = CaseKeys(master_keys=master_keys, store=PostgresDataKeyStore(pool))
    return EncryptionCodec(keys=keys, namespace=namespace)


def with_codec(client: Client, codec: EncryptionCodec) -> Client:
    """The same connection as ``client`` with the encrypting data converter."""
    config = client.config()
    config["data_converter"] = data_converter(codec)
    return Client(**config)


async def serve(
    *,
    client: Client,
    pool: asyncpg.Pool,
    master_keys: MasterKeys,
    settings: GatewaySettings | None = None,
    meter: MetricMeter | None = None,
) -> None:
    """Serve the gateway until cancelled. ``client`` may lack the codec; it gets it here."""
    settings = settings or GatewaySettings()
    codec = build_codec(pool, namespace=settings.temporal_namespace, master_keys=master_keys)
    deps = GatewayDeps(
        consultations=Consultations(client=with_codec(client, codec), pool=pool),
        credentials=AgencyCredentials(pool),
        records=GatewayRecords(pool),
        settings=settings,
        codec=codec,
        meter=meter,
    )
    config = uvicorn.Config(
        create_app(deps),
        host=settings.samverkan_gateway_host,
        port=settings.samverkan_gateway_port,
        log_level="warning",
        access_log=False,  # our own audit row and log line replace it, without bodies
        lifespan="off",
    )
    await uvicorn.Server(config).serve()
