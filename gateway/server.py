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
from infra.codec import build_codec
from infra.keys import MasterKeys
from infra.temporal_client import with_codec


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
        master_keys=master_keys,
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
