"""``samverkan cases``: operator shortcuts for opening and following cases from a shell.

The same things can be done in the Temporal Web UI; these commands add validation before
anything is sent and print plain JSON. They never send a case's payloads in plain text:
without the master keys and the database (`samverkan.operator_env.CodecNotConfigured`) they
stop before connecting.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError

from cases.ids import case_workflow_id
from infra.keys import KeyOfAnotherNamespace
from samverkan.commands import fail
from samverkan.operator_env import CodecNotConfigured, operator_client

if TYPE_CHECKING:
    from temporalio.client import Client, WorkflowExecution

cases_app = typer.Typer(help="Open and follow cases (operator shortcuts).", no_args_is_help=True)


def _read_json(value: str) -> Any:
    """Inline JSON, or ``@file.json``."""
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    return json.loads(text)


def _holds_case(execution: WorkflowExecution) -> bool:
    """Whether a run of ``case-<n>`` is (a run of) the case itself: a run that recorded
    anything publishes ``CaseState``; a second start of an existing case records nothing."""
    from workflows.search_attributes import CASE_STATE

    return execution.typed_search_attributes.get(CASE_STATE) is not None


async def case_run(client: Client, case_number: str) -> WorkflowExecution:
    """The run that holds case ``case_number``: the latest run of ``case-<n>`` that recorded
    the case, skipping later starts that found it existing and ended; the latest run when
    none did.

    Raises:
        RPCError: no workflow ``case-<n>`` (``NOT_FOUND``), or Temporal unreachable.
    """
    workflow_id = case_workflow_id(case_number)
    latest: WorkflowExecution = await client.get_workflow_handle(workflow_id).describe()
    if _holds_case(latest):
        return latest
    found = latest
    query = f"WorkflowId = '{workflow_id.replace(chr(39), '')}'"
    async for execution in client.list_workflows(query):
        if _holds_case(execution) and (
            not _holds_case(found) or execution.start_time > found.start_time
        ):
            found = execution
    return found


def _where(execution: WorkflowExecution) -> str:
    """``running`` or ``closed on 2026-11-20 14:02`` (Swedish time)."""
    from temporalio.client import WorkflowExecutionStatus

    from cases import STOCKHOLM

    if execution.status is WorkflowExecutionStatus.RUNNING or execution.close_time is None:
        return "running"
    closed = execution.close_time.astimezone(STOCKHOLM)
    verb = "closed" if _holds_case(execution) else "ended"
    return f"{verb} on {closed:%Y-%m-%d %H:%M} {closed.tzname()}"


@cases_app.command("open")
def open_case(
    case_json: str = typer.Argument(..., help="The OpenCase JSON, inline or as @file.json."),
) -> None:
    """Start a CaseWorkflow with id case-<case number>; refused if that case exists, open or
    closed (a case number is one case for good)."""
    from temporalio.client import WorkflowFailureError
    from temporalio.common import WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from cases import OpenCase
    from infra.settings import get_settings
    from workflows import CaseWorkflow

    try:
        case = OpenCase.model_validate(_read_json(case_json))
    except (ValueError, OSError) as exc:
        fields = (
            ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            if isinstance(exc, ValidationError)
            else str(exc).splitlines()[0]
        )
        raise fail(f"cases open: invalid case input ({fields})") from None

    async def start() -> str:
        settings = get_settings()
        async with operator_client(settings, require_codec=True) as client:
            handle = await client.start_workflow(
                CaseWorkflow.run,
                case,
                id=case_workflow_id(case.case_number),
                task_queue=settings.samverkan_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=f"Case {case.case_number} ({case.municipality})",
                static_details=(
                    f"Report of concern received {case.received_at:%Y-%m-%d %H:%M} from a "
                    f"{case.reporter_kind.value.replace('_', ' ')}"
                    f"{' (mandatory reporter)' if case.mandatory_reporter else ''}; "
                    f"concern: {case.concern_category.value.replace('_', ' ')}."
                ),
            )
            return handle.id

    async def existing() -> str:
        async with operator_client(get_settings(), require_codec=True) as client:
            return _where(await case_run(client, case.case_number))

    try:
        typer.echo(asyncio.run(start()))
    except WorkflowAlreadyStartedError:
        try:
            where = asyncio.run(existing())
        except Exception:  # the refusal is the answer; where the case stands is a courtesy
            where = "state unknown"
        raise fail(
            f"cases open: case {case.case_number} already exists ({where}): nothing started"
        ) from None
    except KeyOfAnotherNamespace:
        raise fail(f"cases open: {_other_namespace(case.case_number)}: nothing started") from None
    except (RuntimeError, WorkflowFailureError) as exc:
        raise fail(f"cases open: {exc}") from None


def _other_namespace(case_number: str) -> str:
    return (
        f"case {case_number} belongs to another municipality's namespace (its data key is "
        "bound there); check TEMPORAL_NAMESPACE"
    )


async def _query(case_number: str, name: str) -> Any:
    from infra.settings import get_settings

    async with operator_client(get_settings(), require_codec=True) as client:
        run = await case_run(client, case_number)
        handle = client.get_workflow_handle(case_workflow_id(case_number), run_id=run.run_id)
        return await handle.query(name)


def _print_query(case_number: str, name: str) -> None:
    try:
        answer = asyncio.run(_query(case_number, name))
    except CodecNotConfigured as exc:
        raise fail(f"cases {name}: {exc}") from None
    except KeyOfAnotherNamespace:
        raise fail(f"cases {name}: {_other_namespace(case_number)}") from None
    typer.echo(json.dumps(answer, indent=2, default=str))


@cases_app.command()
def summary(case_number: str) -> None:
    """Print the case's summary query (no personal data)."""
    _print_query(case_number, "summary")


@cases_app.command()
def timeline(case_number: str) -> None:
    """Print the case's timeline query (events without personal data)."""
    _print_query(case_number, "timeline")


@cases_app.command()
def update(
    case_number: str,
    name: str = typer.Argument(..., help="Update name, e.g. record_protection_assessment."),
    body: str = typer.Argument(..., help="The update's JSON input, inline or as @file.json."),
) -> None:
    """Send an update to a case and print its result, or the rejection."""
    from temporalio.client import WorkflowUpdateFailedError

    from infra.settings import get_settings

    async def send() -> Any:
        async with operator_client(get_settings(), require_codec=True) as client:
            handle = client.get_workflow_handle(case_workflow_id(case_number))
            return await handle.execute_update(name, _read_json(body))

    try:
        typer.echo(json.dumps(asyncio.run(send()), indent=2, default=str))
    except WorkflowUpdateFailedError as exc:
        raise fail(f"cases update: rejected: {exc.cause}") from None
    except CodecNotConfigured as exc:
        raise fail(f"cases update: {exc}") from None
    except KeyOfAnotherNamespace:
        raise fail(f"cases update: {_other_namespace(case_number)}: nothing sent") from None


@cases_app.command()
def example(
    number: str = typer.Option("MAL-2026-0042", help="The case number (e.g. MAL-2026-0100)."),
    municipality: str = typer.Option("Malmö", help="The municipality the report concerns."),
) -> None:
    """Print an example report of concern (a fictitious child), received now, as one line of
    JSON: the input of a CaseWorkflow start in the Web UI or 'temporal workflow start'."""
    import re
    from datetime import datetime

    from cases import STOCKHOLM
    from cases.examples import EXAMPLE_OPEN_CASE
    from cases.ids import CASE_NUMBER_PATTERN

    if not re.fullmatch(CASE_NUMBER_PATTERN, number):
        raise fail(
            f"cases example: --number {number!r} is not a case number ({CASE_NUMBER_PATTERN})"
        )
    received_at = datetime.now(STOCKHOLM).replace(microsecond=0).isoformat()
    report = {
        **EXAMPLE_OPEN_CASE,
        "case_number": number,
        "municipality": municipality,
        "received_at": received_at,
    }
    typer.echo(json.dumps(report, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the ``cases`` group to ``app``."""
    app.add_typer(cases_app, name="cases")
