"""``samverkan demo seed``: fictitious demo cases on a dev stack, so the coordinator board has
something to show.

Every case is opened and moved through the real case workflow, as ``samverkan cases open``
and ``cases update`` do (sealed by the stack's codec; the workflow records every event in the
event store and the projector brings it onto the board): nothing is written to a table
directly. What the cases are and how far each goes is `samverkan.demo`.

Only for a dev stack: the command refuses to run without the stack's ``endpoints.json``, or
when the environment points Temporal or the database anywhere else. The dev simulator
answers every consultation within a second; for the police consultations that are to stay
waiting it is told, for the moments the requests take, to acknowledge police requests and
never answer them (``PUT /_admin/agencies/police/behaviour``), and then put back as it was.
A case number that exists already is skipped, so a second run adds nothing (``--cases``
larger than before adds the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from samverkan.commands import fail

if TYPE_CHECKING:
    import httpx
    from temporalio.client import Client

    from infra.settings import Settings
    from samverkan.demo import DemoCase, Step

#: how long to wait for the simulator to receive a held request, or for a case's
#: consultations to be answered before a step that needs them answered
WAIT_SECONDS = 30.0
#: cases moved at once (each update waits for its events to be appended)
CONCURRENCY = 3
_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,19}$")

SEED_HELP = (
    "Open fictitious demo cases on the dev stack and move them through the case workflow."
    "\n\n"
    "The cases are received on days over the past months and left in a mix of states: "
    "received only (overdue), protection assessed (pre-assessment due within a week), an "
    "investigation with a police consultation waiting, an extended investigation, closed "
    "without investigation, concluded and closed. Cases received in the past fire their "
    "escalation ladders at once (notices in the simulator's log). Existing case numbers are "
    "skipped. Prints one line per case: case number, day received, what it shows."
)

demo_app = typer.Typer(help="Demo data for a dev stack (fictitious cases).", no_args_is_help=True)


@dataclass
class _Progress:
    """One case's run: the steps left for the held phase, and what to print."""

    case: DemoCase
    left: list[Step] = field(default_factory=list)
    outcome: str = ""
    held: list[str] = field(default_factory=list)  # consultation ids left waiting

    @property
    def failed(self) -> bool:
        return self.outcome.startswith("FAILED")


@demo_app.command("seed", help=SEED_HELP)
def seed(
    cases: Annotated[int, typer.Option("--cases", min=1, max=9999, help="How many.")] = 6,
    municipality: Annotated[
        str, typer.Option(help="The municipality the cases belong to (its board shows them).")
    ] = "Malmö",
    prefix: Annotated[
        str, typer.Option(help="Case numbers <PREFIX>-<year>-<nnnn> (capitals and digits).")
    ] = "DEMO",
) -> None:
    from infra.settings import get_settings
    from samverkan.demo import demo_cases

    if not _PREFIX.fullmatch(prefix):
        raise fail("demo seed: --prefix takes 1 to 20 capital letters and digits, e.g. DEMO")
    if not municipality.strip() or len(municipality) > 100:
        raise fail("demo seed: --municipality takes a municipality's name, e.g. Malmö")
    settings = get_settings()
    endpoints = _dev_stack(settings)
    from cases import STOCKHOLM

    plan = demo_cases(cases, now=datetime.now(STOCKHOLM), municipality=municipality, prefix=prefix)
    try:
        done = asyncio.run(_seed(plan, settings, str(endpoints.get("simulator_url") or "")))
    except (RuntimeError, OSError) as exc:  # no codec; Temporal or database unreachable
        raise fail(f"demo seed: {exc}") from None
    opened = sum(1 for p in done if not p.failed and p.outcome != "exists: skipped")
    failed = sum(1 for p in done if p.failed)
    typer.echo(
        f"{opened} opened, {len(done) - opened - failed} skipped (existing), {failed} failed; "
        f"the board: {endpoints.get('board_url', 'samverkan board')} (the projector brings "
        "them on within seconds)"
    )
    if failed:
        raise typer.Exit(1)


def _dev_stack(settings: Settings) -> dict[str, Any]:
    """The running dev stack's endpoints; refuses anything that is not one."""
    folder = Path(os.environ.get("SAMVERKAN_DATA_DIR", ".samverkan"))
    try:
        endpoints: dict[str, Any] = json.loads(
            (folder / "endpoints.json").read_text(encoding="utf-8")
        )
    except (OSError, ValueError):
        raise fail(
            f"demo seed: no running dev stack ({folder}/endpoints.json is missing); demo "
            "cases are for a dev stack only: start it with `make dev` (or set "
            "SAMVERKAN_DATA_DIR to the folder of the one that runs)"
        ) from None
    namespaces = endpoints.get("namespaces") or [endpoints.get("namespace")]
    if (
        settings.temporal_address != endpoints.get("temporal_address")
        or settings.temporal_namespace not in namespaces
        or settings.database_url != endpoints.get("database_url")
    ):
        raise fail(
            "demo seed: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE or DATABASE_URL points somewhere "
            f"else than the dev stack of {folder}: demo cases go to a dev stack only"
        )
    return endpoints


async def _seed(plan: list[DemoCase], settings: Settings, simulator_url: str) -> list[_Progress]:
    import httpx

    from samverkan.operator_env import operator_client

    runs = [_Progress(case) for case in plan]
    limit = asyncio.Semaphore(CONCURRENCY)
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(operator_client(settings, require_codec=True))
        http = (
            await stack.enter_async_context(httpx.AsyncClient(base_url=simulator_url, timeout=10))
            if simulator_url
            else None
        )

        async def first_phase(run: _Progress) -> None:
            async with limit:
                await _open_and_move(client, settings, run)
            if not run.left:
                _report(run)

        await asyncio.gather(*(first_phase(run) for run in runs))
        held = [run for run in runs if run.left]
        agencies = {s.hold for run in held for s in run.left if s.hold is not None}
        async with _Hold(http, agencies) as hold:
            for run in held:
                await _move(client, run, run.left)
            await hold.received([c for run in held for c in run.held])
        for run in held:
            _report(run)
    return runs


async def _open_and_move(client: Client, settings: Settings, run: _Progress) -> None:
    """Open the case, then send its steps up to the first whose agency must be held."""
    from temporalio.common import WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from cases import OpenCase
    from cases.ids import case_workflow_id
    from workflows import CaseWorkflow

    case = OpenCase.model_validate(run.case.opening)
    try:
        await client.start_workflow(
            CaseWorkflow.run,
            case,
            id=case_workflow_id(case.case_number),
            task_queue=settings.samverkan_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Demo case {case.case_number} ({case.municipality})",
            static_details=f"Fictitious demo case (samverkan demo seed): {run.case.shows}.",
        )
    except WorkflowAlreadyStartedError:
        run.outcome = "exists: skipped"
        return
    steps = list(run.case.steps)
    first_held = next((i for i, s in enumerate(steps) if s.hold is not None), len(steps))
    if await _move(client, run, steps[:first_held]):
        run.left = steps[first_held:]


async def _move(client: Client, run: _Progress, steps: list[Step]) -> bool:
    """Send ``steps`` in order; False (and the outcome says where) at the first refused."""
    from temporalio.client import WorkflowUpdateFailedError

    from cases.ids import case_workflow_id

    handle = client.get_workflow_handle(case_workflow_id(run.case.case_number))
    for step in steps:
        try:
            if step.after_answers:
                await _answered(handle)
            result = await handle.execute_update(step.update, step.body)
        except (WorkflowUpdateFailedError, TimeoutError) as exc:
            cause = getattr(exc, "cause", None) or exc
            run.outcome = f"FAILED at {step.update}: {cause}"
            return False
        if step.hold is not None and isinstance(result, str):
            run.held.append(result)
    run.outcome = run.case.shows
    return True


async def _answered(handle: Any) -> None:
    """Wait until the case has no open consultation (the simulator answers within seconds)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (await handle.query("summary"))["open_consultations"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"a consultation was not answered within {WAIT_SECONDS:.0f} s")
        await asyncio.sleep(0.3)


class _Hold:
    """The dev simulator telling ``agencies`` to leave requests unanswered for a while."""

    def __init__(self, http: httpx.AsyncClient | None, agencies: set[Any]) -> None:
        self.http = http
        self.agencies = sorted(a.value for a in agencies)
        self.saved: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> _Hold:
        import httpx

        if self.http is None:
            return self
        for agency in self.agencies:
            path = f"/_admin/agencies/{agency}/behaviour"
            try:
                current = (await self.http.get(path)).raise_for_status().json()
                if current.get("never_answer") or current.get("acknowledge_only"):
                    continue  # left to a person (`samverkan dev --manual`) or held already
                held = {**current, "acknowledge_only": True, "decline": False}
                (await self.http.put(path, json=held)).raise_for_status()
                self.saved[path] = current
            except httpx.HTTPError:
                typer.echo(f"demo seed: the simulator may answer the {agency} consultations")
        return self

    async def received(self, consultation_ids: list[str]) -> None:
        """Wait until the simulator has received each held consultation (the consultation
        workflow delivers it moments after the request), so it is held as it arrives."""
        if self.http is None or not self.saved or not consultation_ids:
            return
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            rows = (await self.http.get("/_admin/created")).json()
            if set(consultation_ids) <= {r.get("consultation_id") for r in rows}:
                return
            await asyncio.sleep(0.3)
        typer.echo("demo seed: the simulator did not receive every held request in time")

    async def __aexit__(self, *_: object) -> None:
        import httpx

        if self.http is None:
            return
        for path, behaviour in self.saved.items():  # put back as it was
            with contextlib.suppress(httpx.HTTPError):
                await self.http.put(path, json=behaviour)


def _report(run: _Progress) -> None:
    received = run.case.received_at.date().isoformat()
    typer.echo(f"{run.case.case_number}  received {received}  {run.outcome}")


def register(app: typer.Typer) -> None:
    """Add the ``demo`` group to ``app``."""
    app.add_typer(demo_app, name="demo")
