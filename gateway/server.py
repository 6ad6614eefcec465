"""Build the gateway's real dependencies from settings and serve it with uvicorn.

Before serving, `check_master_keys` unwraps one stored data key per master key that wrapped
any: a wrong or missing master key stops the start with one sentence naming the key id,
instead of a gateway that fails on the first call that needs a key.
"""

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
from infra.keys import KeyError_, MasterKeys, UnknownKey
from infra.temporal_client import with_codec


class MasterKeyMismatch(KeyError_):
    """The configured master keys do not unwrap the stored data keys (names ids only)."""


_ONE_KEY_PER_MASTER = """
SELECT DISTINCT ON (master_key_id) key_id, master_key_id, wrapped_key FROM data_keys
WHERE wrapped_key IS NOT NULL ORDER BY master_key_id, created_at DESC
"""


async def check_master_keys(pool: asyncpg.Pool, master_keys: MasterKeys) -> int:
    """Unwrap the newest live data key of every master key id in ``data_keys``; how many
    master keys were checked (0 in a database without data keys).

    Raises:
        MasterKeyMismatch: one of them does not unwrap (a wrong key under that id), or its
            master key id is not configured.
    """
    rows = await pool.fetch(_ONE_KEY_PER_MASTER)
    for row in rows:
        kid, key_id = row["master_key_id"], row["key_id"]
        try:
            master_keys.unwrap(key_id, kid, bytes(row["wrapped_key"]))
        except UnknownKey:
            problem = (
                f"does not unwrap data key {key_id} (not the key that wrapped it)"
                if kid in master_keys.keys
                else f"is not configured, and data key {key_id} is wrapped by it"
            )
            raise MasterKeyMismatch(
                f"SAMVERKAN_MASTER_KEYS: master key {kid} {problem}; the gateway does not start"
            ) from None
    return len(rows)


async def serve(
    *,
    client: Client,
    pool: asyncpg.Pool,
    master_keys: MasterKeys,
    settings: GatewaySettings | None = None,
    meter: MetricMeter | None = None,
) -> None:
    """Serve the gateway until cancelled. ``client`` may lack the codec; it gets it here.

    Raises:
        MasterKeyMismatch: ``master_keys`` do not unwrap the stored data keys (nothing served).
    """
    await check_master_keys(pool, master_keys)
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
