"""The Samverkan worker: the one composition root that registers workflows and activities.

Run it with ``python worker.py`` or ``samverkan worker``. It reads its settings from the
environment (README, "Settings"), connects to Temporal with the shared data converter,
opens the event store's connection pool, and polls task queue ``samverkan-cases`` until
SIGTERM or SIGINT, when it stops taking new tasks and lets running ones finish.

Tests build the same worker with `build_worker` and fake activities registered under the
production names (STYLE rule 7).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from infra.sandbox import workflow_runner
from workflows import WORKFLOWS

if TYPE_CHECKING:
    from infra.keys import CaseKeys

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
    max_cached_workflows: int = 1000,
    max_concurrent_activities: int = MAX_CONCURRENT_ACTIVITIES,
) -> Worker:
    """The worker with both workflows and the given activities (real ones or fakes)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=list(activities),
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def production_activities(
    stack: AsyncExitStack, pool: asyncpg.Pool, keys: CaseKeys
) -> list[Callable[..., Any]]:
    """The real activities, wired to settings: PostgreSQL, agency systems, notifications.

    Events go through the encrypting store: personal fields are sealed with the case key.
    """
    from activities.agencies import AgencyActivities, load_agency_directory
    from activities.deadlines import DeadlineActivities
    from activities.eventstore import EventStoreActivities
    from activities.notifications import NotificationActivities
    from eventstore import PostgresEventStore
    from eventstore.encrypted import EncryptingEventStore, PostgresPersonalDataVault
    from infra.settings import get_settings

    settings = get_settings()
    store = EventStoreActivities(
        EncryptingEventStore(
            PostgresEventStore(pool), keys=keys, vault=PostgresPersonalDataVault(pool)
        )
    )
    directory = load_agency_directory(settings.samverkan_agencies_file)
    agencies = AgencyActivities(directory)
    stack.push_async_callback(agencies.aclose)
    notifications = NotificationActivities(settings.samverkan_notify_url)
    stack.push_async_callback(notifications.aclose)
    deadlines = DeadlineActivities(policy_file=settings.samverkan_policy_file)
    return [
        store.append_events,
        store.read_case_events,
        agencies.deliver_consultation,
        agencies.deliver_agency_notice,
        agencies.fetch_consultation_status,
        notifications.notify_escalation,
        deadlines.load_policy,
        deadlines.compute_deadline,
    ]


async def run_worker() -> None:
    """Run the production worker until SIGTERM or SIGINT."""
    from eventstore import create_pool
    from infra.codec import build_codec
    from infra.keys import KeyError_, MasterKeys
    from infra.logging import configure_logging, get_logger
    from infra.metrics import runtime_with_metrics, tracing_interceptors
    from infra.settings import get_settings
    from infra.temporal_client import connect

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
    runtime = runtime_with_metrics(settings.samverkan_metrics_bind)
    async with AsyncExitStack() as stack:
        pool = await create_pool(settings.database_url)
        stack.push_async_callback(pool.close)
        codec = build_codec(pool, namespace=settings.temporal_namespace, master_keys=master_keys)
        client = await connect(
            settings,
            codec=codec,
            runtime=runtime,
            interceptors=tracing_interceptors(settings.samverkan_tracing),
        )
        activities = await production_activities(stack, pool, codec.keys)
        worker = build_worker(
            client, task_queue=settings.samverkan_task_queue, activities=activities
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info(
            "worker started",
            task_queue=settings.samverkan_task_queue,
            temporal_address=settings.temporal_address,
            namespace=settings.temporal_namespace,
        )
        async with worker:
            await stop.wait()
            log.info("worker stopping: finishing running tasks")
    log.info("worker stopped")


def main() -> None:
    """Entry point of ``python worker.py``."""
    asyncio.run(run_worker())


if __name__ == "__main__":
    main()
