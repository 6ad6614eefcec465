"""What a command-line tool needs to read and write a running stack's payloads.

Payloads in Temporal are encrypted (DESIGN §6), so every tool that reads or writes them —
``samverkan replay``, ``samverkan cases``, ``samverkan verify`` — needs the same codec as
the worker: the master keys (``SAMVERKAN_MASTER_KEYS``) and the event store's database,
where the wrapped case keys live (``DATABASE_URL``).

For the dev stack, `apply_dev_stack_defaults` fills unset variables from the data folder
that ``samverkan dev`` wrote (``endpoints.json``, ``master.key``), so commands typed in a
second shell just work. Variables that are set always win.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client

from infra.codec import EncryptionCodec
from infra.keys import MASTER_KEYS_ENV, MasterKeys
from infra.settings import Settings
from infra.temporal_client import connect


def apply_dev_stack_defaults(
    environ: MutableMapping[str, str] | None = None, data_dir: Path | None = None
) -> bool:
    """Fill unset Temporal, database and master-key variables from a dev stack's data folder.

    Returns True when a dev stack's ``endpoints.json`` was found.
    """
    env = os.environ if environ is None else environ
    folder = data_dir or Path(env.get("SAMVERKAN_DATA_DIR", ".samverkan"))
    endpoints_file = folder / "endpoints.json"
    if not endpoints_file.is_file():
        return False
    try:
        endpoints = json.loads(endpoints_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for variable, key in (
        ("TEMPORAL_ADDRESS", "temporal_address"),
        ("TEMPORAL_NAMESPACE", "namespace"),
        ("DATABASE_URL", "database_url"),
    ):
        if key in endpoints:
            env.setdefault(variable, str(endpoints[key]))
    master_file = folder / "master.key"
    if MASTER_KEYS_ENV not in env and master_file.is_file():
        env[MASTER_KEYS_ENV] = master_file.read_text(encoding="utf-8").strip()
    return True


@asynccontextmanager
async def payload_codec(settings: Settings) -> AsyncIterator[EncryptionCodec | None]:
    """The stack's payload codec, or None when no master keys or database are configured."""
    if not os.environ.get(MASTER_KEYS_ENV) or not settings.database_url:
        yield None
        return
    from eventstore import create_pool
    from infra.codec import build_codec

    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        yield build_codec(
            pool, namespace=settings.temporal_namespace, master_keys=MasterKeys.from_env()
        )
    finally:
        await pool.close()


class CodecNotConfigured(RuntimeError):
    """An operator command that sends or reads case payloads has no codec to seal them with."""

    def __init__(self) -> None:
        super().__init__(
            f"no payload codec: set {MASTER_KEYS_ENV} and DATABASE_URL (or run `samverkan dev`, "
            "whose data folder supplies them); case payloads are only ever sent sealed under "
            "their case's key, never in plain text"
        )


@asynccontextmanager
async def operator_client(
    settings: Settings, *, require_codec: bool = False
) -> AsyncIterator[Client]:
    """A Temporal client with the stack's codec, so inputs are encrypted and results readable.

    Args:
        require_codec: refuse to connect without the codec (``samverkan cases``, which sends
            case payloads); otherwise a stack without keys gets a plain client (read-only
            checks of unencrypted dev stacks, such as ``samverkan eventstore verify``).

    Raises:
        CodecNotConfigured: ``require_codec`` and no master keys or database.
    """
    async with payload_codec(settings) as codec:
        if codec is None and require_codec:
            raise CodecNotConfigured()
        yield await connect(settings, codec=codec)
