"""The one data converter shared by worker, clients, test environments and the replayer.

Payloads are JSON through pydantic (plain JSON an operator can type in the Web UI).
The payload codec that encrypts them plugs in here, so every user of this function gets it.
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """The pydantic data converter, with ``codec`` (encryption) when given."""
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
