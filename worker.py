"""The Samverkan worker: the one composition root that registers workflows and activities.

Run it with ``python worker.py`` or ``samverkan worker``. It reads its settings from the
environment (README, "Settings"), connects to Temporal with the shared data converter,
opens the event store's connection pool, and polls task queue ``samverkan-cases`` until
SIGTERM or SIGINT, when it stops taking new tasks and lets running ones finish.

`compose` is the one place that builds the activities from their adapters (event store,
agency systems, notification endpoint, policy file); `production_activities` feeds it the
production adapters from the settings, and the workflow and end-to-end tests feed it an
in-memory store, the agency simulator or fakes. `build_worker` registers what it returns
(or fake activities under the production names, STYLE rule 7) beside both workflows.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from infra.attestation_interceptors import AgencyAttestationCheck
from infra.sandbox import workflow_runner
from workflows import WORKFLOWS

if TYPE_CHECKING:
    from activities.agencies import SystemFactory
    from activities.config import AgencyDirectory
    from eventstore import EventStore
    from infra.attestation import AttestationKeys
    from infra.keys import CaseKeys
    from infra.settings import Settings

#: Activity tasks one worker takes at a time. An activity counts as started (its
#: start-to-close clock runs) as soon as the worker has polled it, so slots beyond what the
#: process can work through leave tasks waiting inside it, where another replica cannot take
#: them: with 100, benchmark 5's burst of openings (32 at once, 1,200 cases) kept appends
#: waiting up to 25 s in the worker and ~1 in 12 ran past its 30 s timeout and ran again;
#: with 32, none did, at the same start rate (docs/benchmarks.md).
MAX_CONCURRENT_ACTIVITIES = 32


def build_worker(
    client: Client,
    *,
    task_queue: str,
    activities: Sequence[Callable[..., Any]],
    attestation_keys: AttestationKeys | None = None,
    max_cached_workflows: int = 1000,
    max_concurrent_activities: int = MAX_CONCURRENT_ACTIVITIES,
) -> Worker:
    """The worker with both workflows and the given activities (real ones or fakes).

    A consultation's agency updates (acknowledge, answer, decline) are accepted only with the
    agency gateway's attestation under ``attestation_keys``; without keys, none is
    (`infra.attestation_interceptors`).
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=list(activities),
        interceptors=[AgencyAttestationCheck(attestation_keys)],
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


def compose(
    stack: AsyncExitStack,
    *,
    events: EventStore,
    agencies: AgencyDirectory,
    notify_url: str | None,
    policy_file: Path | None = None,
    agency_systems: SystemFactory | None = None,
) -> list[Callable[..., Any]]:
    """Every activity the workflows call, built on the given adapters.

    Args:
        stack: closes the HTTP clients of the agency and notification activities.
        events: the event store (PostgreSQL or in memory, encrypting or not).
        agencies: where each agency's system is and how to call it.
        notify_url: where escalation notices to people go (``SAMVERKAN_NOTIFY_URL``).
        policy_file: the operator's policy; ``None`` is the built-in default.
        agency_systems: builds each agency's system from its endpoint; ``None`` calls it
            over HTTP (tests may pass fakes).

    Raises:
        NotificationConfigError: ``notify_url`` is not set or not an http(s) URL.
    """
    from activities.agencies import AgencyActivities, HttpAgencySystem
    from activities.deadlines import DeadlineActivities
    from activities.eventstore import EventStoreActivities
    from activities.notifications import NotificationActivities

    store = EventStoreActivities(events)
    notifications = NotificationActivities(notify_url)
    stack.push_async_callback(notifications.aclose)
    agency_calls = AgencyActivities(
        agencies, system_factory=agency_systems or HttpAgencySystem.for_endpoint
    )
    stack.push_async_callback(agency_calls.aclose)
    deadlines = DeadlineActivities(policy_file=policy_file)
    return [
        store.append_events,
        store.read_case_events,
        *agency_calls.activities(),
        notifications.notify_escalation,
        deadlines.load_policy,
        deadlines.compute_deadline,
    ]


async def production_activities(
    stack: AsyncExitStack, pool: asyncpg.Pool, keys: CaseKeys, settings: Settings | None = None
) -> list[Callable[..., Any]]:
    """`compose` on the production adapters: the encrypting PostgreSQL event store (personal
    fields sealed with the case key), and the agencies file, notification endpoint and
    policy file of ``settings`` (default: the process's).

    Raises:
        AgencyConfigError: the agencies file is not set, unreadable or invalid.
        NotificationConfigError: the notification endpoint is not set or not a URL.
    """
    from activities.config import load_agency_directory
    from eventstore import PostgresEventStore
    from eventstore.encrypted import EncryptingEventStore, PostgresPersonalDataVault
    from infra.settings import get_settings

    settings = settings or get_settings()
    return compose(
        stack,
        events=EncryptingEventStore(
            PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
        ),
        agencies=load_agency_directory(settings.samverkan_agencies_file),
        notify_url=settings.samverkan_notify_url,
        policy_file=settings.samverkan_policy_file,
    )


async def run_worker() -> None:
    """Run the production worker until SIGTERM or SIGINT."""
    from activities.config import AgencyConfigError
    from activities.notifications import NotificationConfigError
    from eventstore import create_pool
    from infra.attestation import KEYS_ENV, AttestationConfigError, AttestationKeys
    from infra.codec import EncryptionCodec, build_codec
    from infra.credentials import TokenIssuerError
    from infra.keys import KeyError_, MasterKeys
    from infra.logging import configure_logging, get_logger
    from infra.metrics import runtime_with_metrics, tracing_interceptors
    from infra.settings import get_settings
    from infra.temporal_client import TemporalConfigError, close_token_sources, connect

    settings = get_settings()
    configure_logging(log_format=settings.samverkan_log_format, level=settings.samverkan_log_level)
    log = get_logger("samverkan.worker")
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set: the worker needs the event store's PostgreSQL.")
    try:
        master_keys = MasterKeys.from_env()
    except KeyError_ as exc:
        raise SystemExit(
            f"{exc}: the worker encrypts every payload and needs the master keys."
        ) from None
    secret = settings.samverkan_agency_attestation_keys
    try:
        attestation_keys = AttestationKeys.from_setting(
            secret.get_secret_value() if secret else None
        )
    except AttestationConfigError as exc:
        raise SystemExit(f"{exc}.") from None
    if attestation_keys is None:
        log.warning(
            "agency updates refused: no attestation keys",
            setting=KEYS_ENV,
            detail="every acknowledge, answer and decline is refused; give the worker the "
            "agency gateway's key",
        )
    runtime = runtime_with_metrics(settings.samverkan_metrics_bind)
    namespaces = settings.namespaces()
    async with AsyncExitStack() as stack:
        pool = await create_pool(settings.database_url)
        stack.push_async_callback(pool.close)
        keys = build_codec(pool, namespace=namespaces[0], master_keys=master_keys).keys
        try:
            activities = await production_activities(stack, pool, keys, settings)
        except (AgencyConfigError, NotificationConfigError) as exc:
            raise SystemExit(f"{exc}.") from None
        # One Temporal worker per municipality's namespace (SAMVERKAN_NAMESPACES), each on its
        # own client, sharing the activities and the data keys (docs/security.md,
        # "Municipalities").
        workers = []
        stack.push_async_callback(close_token_sources)
        for namespace in namespaces:
            try:
                client = await connect(
                    settings.model_copy(update={"temporal_namespace": namespace}),
                    codec=EncryptionCodec(keys=keys, namespace=namespace),
                    runtime=runtime,
                    interceptors=tracing_interceptors(settings.samverkan_tracing),
                )
            except (TokenIssuerError, TemporalConfigError) as exc:
                # one line, never the token or the secret (infra.credentials)
                raise SystemExit(f"{exc}.") from None
            workers.append(
                build_worker(
                    client,
                    task_queue=settings.samverkan_task_queue,
                    activities=activities,
                    attestation_keys=attestation_keys,
                )
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info(
            "worker started",
            task_queue=settings.samverkan_task_queue,
            temporal_address=settings.temporal_address,
            namespaces=namespaces,
        )
        async with AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
            await stop.wait()
            log.info("worker stopping: finishing running tasks")
    log.info("worker stopped")


def main() -> None:
    """Entry point of ``python worker.py``."""
    asyncio.run(run_worker())


if __name__ == "__main__":
    main()
