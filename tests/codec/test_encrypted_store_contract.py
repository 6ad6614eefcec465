"""The event store's contract suite, run against `EncryptingEventStore` over both stores."""

from __future__ import annotations

import asyncpg
import pytest

from eventstore import EventStore, InMemoryEventStore, PostgresEventStore
from eventstore.encrypted import (
    EncryptingEventStore,
    InMemoryPersonalDataVault,
    PostgresPersonalDataVault,
)
from infra.keys import CaseKeys
from tests.eventstore.test_store_contract import *  # noqa: F403 - the suite itself


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest, case_keys: CaseKeys) -> EventStore:
    if request.param == "memory":
        return EncryptingEventStore(
            InMemoryEventStore(), keys=case_keys, vault=InMemoryPersonalDataVault()
        )
    pool: asyncpg.Pool = request.getfixturevalue("pool")
    return EncryptingEventStore(
        PostgresEventStore(pool), keys=case_keys, vault=PostgresPersonalDataVault(pool)
    )
