"""Build the gateway's real dependencies from settings and serve it with uvicorn: the agency
API (/v1) on ``SAMVERKAN_GATEWAY_HOST:PORT`` and the codec endpoint (/codec) on a listener of
its own, ``SAMVERKAN_CODEC_HOST:PORT``, so the two are exposed (and firewalled) separately.
The codec listener needs its OIDC settings (`gateway.codec_routes.codec_access`): without them
`serve` refuses to start, unless told to serve the agency API alone (``codec=False``).

Before serving, `check_master_keys` unwraps one stored data key per master key that wrapped
any: a wrong or missing master key stops the start with one sentence naming the key id,
instead of a gateway that fails on the first call that needs a key.

Every agency update the gateway sends carries its attestation of the calling agency
(`infra.attestation_interceptors.attesting` with ``attestation_keys``): the workers accept
acknowledge, answer and decline only with it, so an operator with write access to the
namespace cannot send one in an agency's name (docs/security.md).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
import uvicorn
from temporalio.client import Client
from temporalio.common import MetricMeter

from gateway.app import GatewayDeps, create_app
from gateway.codec_routes import CodecNotConfigured, codec_access, create_codec_app
from gateway.config import GatewaySettings
from gateway.consultations import Consultations
from gateway.credentials import AgencyCredentials
from gateway.oidc import DevOpenAccess
from gateway.records import GatewayRecords
from infra.attestation import AttestationKeys
from infra.attestation_interceptors import attesting
from infra.codec import build_codec
from infra.keys import KeyError_, MasterKeys, PostgresDataKeyStore, UnknownKey
from infra.temporal_client import with_codec

log = structlog.get_logger("samverkan.gateway")

__all__ = ["CodecNotConfigured", "MasterKeyMismatch", "check_master_keys", "serve"]


class MasterKeyMismatch(KeyError_):
    """The configured master keys do not unwrap the stored data keys (names ids only)."""


async def check_master_keys(pool: asyncpg.Pool, master_keys: MasterKeys) -> int:
    """Unwrap the newest live data key of every master key id in ``data_keys``; how many
    master keys were checked (0 in a database without data keys).

    Raises:
        MasterKeyMismatch: one of them does not unwrap (a wrong key under that id), or its
            master key id is not configured.
    """
    rows = await PostgresDataKeyStore(pool).newest_live_per_master()
    for row in rows:
        kid, key_id = row.master_key_id or "", row.key_id
        try:
            master_keys.unwrap(key_id, kid, row.wrapped or b"")
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


def _uvicorn(app: object, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        access_log=False,  # our own audit row and log line replace it, without bodies
        lifespan="off",
    )
    return uvicorn.Server(config)


async def serve(
    *,
    client: Client,
    pool: asyncpg.Pool,
    master_keys: MasterKeys,
    attestation_keys: AttestationKeys,
    settings: GatewaySettings | None = None,
    meter: MetricMeter | None = None,
    codec: bool = True,
) -> None:
    """Serve the gateway until cancelled or either listener stops. ``client`` may lack the
    codec; it gets it here, and signs agency updates with ``attestation_keys``.
    ``codec=False`` serves the agency API alone.

    Raises:
        MasterKeyMismatch: ``master_keys`` do not unwrap the stored data keys (nothing served).
        CodecNotConfigured: the codec listener has no authentication configured (nothing
            served).
    """
    await check_master_keys(pool, master_keys)
    settings = settings or GatewaySettings()
    access = codec_access(settings) if codec else None  # before anything listens
    payload_codec = build_codec(
        pool, namespace=settings.temporal_namespace, master_keys=master_keys
    )
    records = GatewayRecords(pool)
    deps = GatewayDeps(
        consultations=Consultations(
            client=with_codec(attesting(client, attestation_keys), payload_codec), pool=pool
        ),
        credentials=AgencyCredentials(pool),
        records=records,
        settings=settings,
        codec=None,  # the agency API's listener never serves /codec
        meter=meter,
        master_keys=master_keys,
    )
    servers = [
        _uvicorn(create_app(deps), settings.samverkan_gateway_host, settings.samverkan_gateway_port)
    ]
    if access is not None:
        if isinstance(access, DevOpenAccess):
            log.warning(
                "gateway.codec_open",
                detail="codec endpoint WITHOUT authentication (samverkan dev), loopback only",
                host=settings.samverkan_codec_host,
                port=settings.samverkan_codec_port,
            )
        servers.append(
            _uvicorn(
                create_codec_app(payload_codec, settings, access=access, records=records),
                settings.samverkan_codec_host,
                settings.samverkan_codec_port,
            )
        )
    tasks = [asyncio.ensure_future(server.serve()) for server in servers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
