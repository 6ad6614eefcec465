"""``samverkan migrate``, ``samverkan projections …`` and ``samverkan verify``: the event store
from the command line.

- ``migrate [--status]`` applies the SQL migrations (or lists them);
- ``projections status | rebuild [NAME] | run`` shows lag, rebuilds with a progress bar,
  or follows new events until Ctrl-C;
- ``verify CASE_NUMBER`` folds the case from PostgreSQL and compares it with the running
  workflow's ``summary`` query; prints each difference and exits 1 if there is any.

The database comes from ``DATABASE_URL``, Temporal from ``TEMPORAL_ADDRESS`` /
``TEMPORAL_NAMESPACE`` (`infra.settings`). A database or Temporal that cannot be reached
ends in one sentence on stderr and exit code 2, never a traceback; the DSN is never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from cases.ids import case_workflow_id
from eventstore import EventStoreError, PostgresEventStore, Projector, create_pool
from samverkan.commands import database_url, fail

T = TypeVar("T")
DIFFERENT = 1
NOT_COMPARED = ("overdue_count", "overdue")
"""Summary fields that depend on the reader's clock, so the two sides may differ honestly."""


#: Where a developer finds the value.
_DEV_HINT = " (samverkan dev prints it)"


def _database_sentence(exc: BaseException) -> str:
    if isinstance(exc, asyncpg.UndefinedTableError):
        return "The event store's tables are missing: run `samverkan migrate` first."
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "The database named in DATABASE_URL does not exist."
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return "PostgreSQL refused the credentials in DATABASE_URL."
    if isinstance(exc, EventStoreError):
        return f"{exc}."
    if isinstance(exc, asyncpg.PostgresError):
        return f"PostgreSQL refused the request ({type(exc).__name__})."
    return (
        f"Cannot reach the event store's PostgreSQL ({type(exc).__name__}): "
        "is DATABASE_URL right and the server running?"
    )


def _run(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` and turn database failures into one sentence and exit code 2."""

    async def guarded() -> T:
        return await work()

    try:
        return asyncio.run(guarded())
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, EventStoreError) as exc:
        raise fail(_database_sentence(exc)) from None


@asynccontextmanager
async def _pool(max_size: int = 4) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url(_DEV_HINT), min_size=1, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


def migrate_command(
    status: Annotated[
        bool, typer.Option("--status", help="List migrations; apply nothing.")
    ] = False,
) -> None:
    """Apply the event store's SQL migrations (harmless to re-run)."""
    from eventstore import migrate, migration_status

    url = database_url(_DEV_HINT)
    if status:
        rows = _run(lambda: migration_status(url))
        for row in rows:
            when = row.applied_at.isoformat(timespec="seconds") if row.applied_at else "pending"
            typer.echo(f"{row.version:04d}_{row.name:<30} {when}")
        return
    applied = _run(lambda: migrate(url))
    typer.echo(f"Applied {', '.join(applied)}." if applied else "Nothing to apply: up to date.")


projections_app = typer.Typer(
    help="Read models in PostgreSQL: status, rebuild, run.", no_args_is_help=True
)


@projections_app.command("status")
def projections_status() -> None:
    """Each projection's checkpoint (global position) and lag (events not yet projected)."""

    async def work() -> list[tuple[str, int, int, str]]:
        async with _pool() as pool:
            return [
                (
                    s.name,
                    s.position,
                    s.lag,
                    s.updated_at.isoformat(timespec="seconds") if s.updated_at else "-",
                )
                for s in await Projector(pool).status()
            ]

    typer.echo(f"{'projection':<20} {'position':>10} {'lag':>8}  updated")
    for name, position, lag, updated in _run(work):
        typer.echo(f"{name:<20} {position:>10} {lag:>8}  {updated}")


@projections_app.command("rebuild")
def projections_rebuild(
    name: Annotated[
        str | None, typer.Argument(help="The projection to rebuild; all when left out.")
    ] = None,
) -> None:
    """Empty a projection and replay every event into it, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    async def work() -> list[tuple[str, int]]:
        async with _pool() as pool:
            projector = Projector(pool)
            names = [projector.projection(name).name] if name else projector.names
            done: list[tuple[str, int]] = []
            with Progress(
                TextColumn("{task.description:<20}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=False,
            ) as bar:
                for each in names:
                    task = bar.add_task(each, total=None)

                    def advance(count: int, total: int, task: Any = task) -> None:
                        bar.update(task, completed=count, total=total)

                    done.append((each, await projector.rebuild(each, advance)))
            return done

    for each, count in _run(work):
        typer.echo(f"Rebuilt {each} from {count} events.")


@projections_app.command("run")
def projections_run(
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between polls when no notification arrives.")
    ] = 2.0,
) -> None:
    """Catch up, then keep the projections up to date until Ctrl-C."""

    async def work() -> None:
        from infra.metrics import runtime_with_metrics
        from infra.settings import get_settings

        bind = get_settings().samverkan_metrics_bind
        runtime = runtime_with_metrics(bind)
        async with _pool() as pool:
            projector = Projector(pool, poll_interval=poll_interval)
            typer.echo("Projecting new events (Ctrl-C stops).")
            if bind is None:
                await projector.run()
                return
            reporting = asyncio.create_task(_report_metrics(projector, runtime))
            try:
                await projector.run()
            finally:
                reporting.cancel()

    with contextlib.suppress(KeyboardInterrupt):
        _run(work)


async def _report_metrics(projector: Projector, runtime: Any, every: float = 15.0) -> None:
    """Publish each projection's lag and the cases per state, every ``every`` seconds."""
    from infra.metrics import set_cases_by_state, set_projection_lag

    meter = runtime.metric_meter
    while True:
        for status in await projector.status():
            set_projection_lag(meter, projection=status.name, events=status.lag)
        counts: dict[object, int] = {}
        counts.update(await projector.cases_by_state())
        set_cases_by_state(meter, counts)
        await asyncio.sleep(every)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list | tuple):
        if not value:
            return {prefix: []}
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def summary_differences(stored: dict[str, Any], running: dict[str, Any]) -> list[str]:
    """One line per field where the folded case and the workflow's summary disagree."""
    ours, theirs = _flatten(json.loads(json.dumps(stored))), _flatten(running)
    lines = []
    for path in sorted(set(ours) | set(theirs)):
        if path.split(".")[0].split("[")[0] in NOT_COMPARED:
            continue
        left, right = ours.get(path, "<missing>"), theirs.get(path, "<missing>")
        if left != right:
            lines.append(f"{path}: event store {json.dumps(left)} != workflow {json.dumps(right)}")
    return lines


def verify_command(
    case_number: Annotated[str, typer.Argument(help="The case number (workflow id case-<n>).")],
) -> None:
    """Fold the case from PostgreSQL and compare it with the running workflow's summary."""
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from cases import fold, open_envelope
    from infra.settings import get_settings

    async def stored_summary() -> dict[str, Any] | None:
        async with _pool(max_size=1) as pool:
            envelopes = await PostgresEventStore(pool).read_case(case_number)
        if not envelopes:
            return None
        return fold(open_envelope(e) for e in envelopes).to_summary(datetime.now(UTC))

    ours = _run(stored_summary)
    if ours is None:
        raise fail(f"The event store has no events for case {case_number}.")

    async def running_summary() -> Any:
        from samverkan.commands.cases import case_run
        from samverkan.operator_env import operator_client

        async with operator_client(get_settings()) as client:
            # The run that holds the case, not a later start that found it existing.
            run = await case_run(client, case_number)
            handle = client.get_workflow_handle(case_workflow_id(case_number), run_id=run.run_id)
            return await handle.query("summary")

    try:
        theirs = asyncio.run(running_summary())
    except (RPCError, WorkflowQueryFailedError, RuntimeError, OSError) as exc:
        raise fail(
            f"Cannot query workflow case-{case_number} ({type(exc).__name__}): is Temporal "
            "reachable and the case's workflow running?"
        ) from None
    if not isinstance(theirs, dict):
        raise fail(f"Workflow case-{case_number} answered the summary query with no object.")
    differences = summary_differences(ours, theirs)
    if differences:
        typer.echo(f"Case {case_number}: {len(differences)} difference(s).")
        for line in differences:
            typer.echo(f"  {line}")
        raise typer.Exit(DIFFERENT)
    compared = len(_flatten(ours)) - sum(1 for p in _flatten(ours) if p.startswith(NOT_COMPARED))
    typer.echo(
        f"Case {case_number}: the event store and the workflow agree "
        f"({compared} fields; not compared: {', '.join(NOT_COMPARED)})."
    )


def register(app: typer.Typer) -> None:
    """Add ``migrate``, ``projections`` and ``verify`` to ``app``."""
    app.command("migrate")(migrate_command)
    app.add_typer(projections_app, name="projections")
    app.command("verify")(verify_command)
