"""A worker process for the baselines, with the production worker's settings.

``python -m bench.bare_worker ADDRESS TASK_QUEUE [--memory FILE [--trace]]``: the bare
workflows and the `noop` activity, on the same sandbox (`infra.sandbox.workflow_runner`, with the
same pass-through modules), cache size, activity slots and executor as
`worker.build_worker`; prints ``ready`` once polling. ``--memory`` writes
`bench.memory.report` to FILE on SIGUSR1, as `bench.worker_probe` does for Samverkan's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare import BARE_WORKFLOWS, noop
from infra.converter import data_converter
from infra.sandbox import workflow_runner
from worker import MAX_CONCURRENT_ACTIVITIES


async def main(address: str, task_queue: str) -> None:
    client = await Client.connect(address, data_converter=data_converter())
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=BARE_WORKFLOWS,
        activities=[noop],
        workflow_runner=workflow_runner("bench"),
        max_cached_workflows=1000,
        max_concurrent_activities=MAX_CONCURRENT_ACTIVITIES,
        activity_executor=ThreadPoolExecutor(4),
        graceful_shutdown_timeout=timedelta(seconds=10),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.bare_worker")
    parser.add_argument("address")
    parser.add_argument("task_queue")
    parser.add_argument("--memory", type=Path)
    parser.add_argument("--trace", action="store_true", help="with --memory: tracemalloc too")
    args = parser.parse_args()
    if args.memory is not None:
        from bench.memory import report_on_sigusr1

        report_on_sigusr1(args.memory, trace=args.trace)
    asyncio.run(main(args.address, args.task_queue))
