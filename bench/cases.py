"""Benchmarks 1, 4, 5 and 6: everything that runs on the Temporal dev server.

One stack for all four: the dev server, a migrated database, the agency simulator answering
with Temporal updates, Samverkan's production worker (``python worker.py``: encrypting
codec and event store, real agency and notification activities) and the baseline's worker
(`bench.bare_worker`), each in its own process so that the driver does not share their CPU.

1. Complete cases per second (open, both assessments, two consultations the simulator
   answers, conclude, close) against `bench.bare.BareCase` shaped like a recorded case.
4. Histories replayed per second: recorded case histories through a replayer configured as
   ``samverkan replay``'s, against `Replayer` on the bare histories.
5. Worker RSS with N open cases waiting on their deadlines against N `BareSleeper`s, and
   how fast they were started (growing passes through the sizes: one by default, whose
   repetitions are RSS samples of that pass, said so in the row).
6. Agency answer round trip through the gateway (uvicorn on loopback) against the same
   update sent with a Temporal client: the tail percentile the answers per repetition
   support (`bench.stats.tail_statistic`: p99 from 100 answers, p90 from 10, else the max).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from bench import infra
from bench.bare import BARE_WORKFLOWS, BareCase, BareCaseInput, BareSleeper
from bench.report import Row
from bench.stats import alternation, paired_ratios, percentile, summarize, tail_statistic
from cases import Agency, AnswerConsultation, OpenCase
from cases.examples import EXAMPLE_OPEN_CASE
from infra.converter import data_converter
from infra.embedded import serving
from workflows import CaseWorkflow

SAMVERKAN_QUEUE = "bench-samverkan"
BARE_QUEUE = "bench-bare"
OFFICER = "officer-1"
#: benchmark 5's starts in flight at once (see `MemoryPass`)
MEMORY_CONCURRENCY = 32
#: benchmark 6: the agencies each waiting case is consulted with, and on which legal basis;
#: four per case, so that opening the consultations to answer takes a quarter of the cases.
ANSWERING = (
    (Agency.POLICE, "osl_10_18a"),
    (Agency.SCHOOL, "duty_to_inform"),
    (Agency.BUP, "osl_26_9"),
    (Agency.SAPO, "terrorism_information_sharing"),
)

#: What the officer states for each legal basis the drivers request on (`cases.disclosure`:
#: a request on a basis that discloses must carry its part; duty_to_inform needs none).
STATEMENTS: dict[str, dict[str, Any]] = {
    "osl_10_18a": {
        "osl_10_18a": {
            "risk_of_criminal_activity": "Recruited by a violent group, says the school.",
            "may_help_prevent": "The police can place him in a prevention programme.",
            "not_inappropriate": "Our planned support is not hindered by it.",
        }
    },
    "osl_26_9": {"protective_intervention": "BUP's assessment is needed for the support."},
    "terrorism_information_sharing": {
        "terrorism_purpose": "The propaganda names a planned attack on the school."
    },
}

#: The operator's inputs the drivers send (tests/bench checks them against the domain).
PROTECTION = {"acute": False, "reasoning": "No immediate danger.", "decided_by": OFFICER}
PRE_ASSESSMENT = {"open_investigation": True, "reasons": "Specific concern.", "decided_by": OFFICER}
#: required before concluding a case received on or after the policy's
#: ``duties.child_views_required_from`` (`cases.decide.check_new_decision`)
CHILD_VIEWS = {"views": "Wants to stay in his class.", "decided_by": OFFICER}
CONCLUDE = {"outcome": "intervention", "decided_by": OFFICER}
CLOSE = {"reason": "Done.", "decided_by": OFFICER}
#: benchmark 1's consultations (agency, legal basis)
CASE_CONSULTATIONS = (("police", "osl_10_18a"), ("school", "duty_to_inform"))


def consultation_request(agency: str, basis: str) -> dict[str, Any]:
    """A `RequestConsultation` as an operator sends it, with the statement its basis needs."""
    request: dict[str, Any] = {
        "agency": agency,
        "legal_basis": basis,
        "questions": "Known to you?",
        "requested_by": OFFICER,
    }
    if basis in STATEMENTS:
        request["statement"] = STATEMENTS[basis]
    return request


def _case_input(prefix: str = "B") -> OpenCase:
    data = dict(EXAMPLE_OPEN_CASE)
    data["case_number"] = f"{prefix}-{uuid.uuid4().hex[:10]}"
    data["received_at"] = datetime.now().astimezone().isoformat()
    return OpenCase.model_validate(data)


def shape_of(history: WorkflowHistory) -> BareCaseInput:
    """The bare case issuing as many activities and local activities as a recorded case."""
    kinds = [e.event_type for e in history.events]
    activities = kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    local = _local_activities(history)
    reports = kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    updates = kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    return BareCaseInput(
        local_activities_at_start=local,
        activities_at_start=max(0, activities - updates - reports),
        activities_per_update=1,
        activities_per_report=1,
    )


def _markers(history: WorkflowHistory) -> int:
    return sum(e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED for e in history.events)


def _local_activities(history: WorkflowHistory) -> int:
    """Local activity markers only: a `workflow.patched` marker is not an activity."""
    return sum(
        e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
        for e in history.events
    )


def _counts(history: WorkflowHistory) -> dict[str, int]:
    kinds = [e.event_type for e in history.events]
    return {
        "events": len(kinds),
        "activities": kinds.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        "local_activities": _local_activities(history),
        "patch_markers": _markers(history) - _local_activities(history),
        "updates": kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
        "signals_in": kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        "children": kinds.count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
        "timers": kinds.count(EventType.EVENT_TYPE_TIMER_STARTED),
        "upserts": kinds.count(EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
    }


PADDING_ATTEMPTS = 8
"""Recordings of benchmark 4's padded bare case at most, to match the case's event count."""


class CaseBench:
    """The running stack and the drivers of benchmarks 1, 4, 5 and 6."""

    def __init__(self, **parts: Any) -> None:
        self.__dict__.update(parts)
        self.samverkan_history: WorkflowHistory | None = None
        self.bare_history: WorkflowHistory | None = None
        self.bare_replay_history: WorkflowHistory | None = None
        self.shape = BareCaseInput()

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, server_dsn: str, folder: Path) -> AsyncIterator[CaseBench]:
        from infra.attestation import AttestationKeys
        from infra.attestation_interceptors import attesting
        from infra.codec import build_codec
        from infra.keys import MasterKeys
        from infra.temporal_client import with_codec
        from simulator.app import running_simulator
        from simulator.responder import TemporalUpdateResponder

        dsn = await infra.fresh_database(server_dsn)
        master_entry = MasterKeys.generate_entry("bench1")
        async with contextlib.AsyncExitStack() as stack:
            env = await stack.enter_async_context(infra.temporal_dev_server())
            address = env.client.service_client.config.target_host
            pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
            stack.push_async_callback(pool.close)
            codec = build_codec(
                pool, namespace=env.client.namespace, master_keys=MasterKeys.parse(master_entry)
            )
            # Agency updates signed as the gateway signs them (the worker checks).
            signing = attesting(env.client, AttestationKeys.parse(infra.ATTESTATION_ENTRY))
            client = with_codec(signing, codec)
            simulator_url = await stack.enter_async_context(
                running_simulator(responder=TemporalUpdateResponder(client=client))
            )
            samverkan_worker = await infra.start_samverkan_worker(
                folder=folder,
                address=address,
                task_queue=SAMVERKAN_QUEUE,
                database_url=dsn,
                master_keys=master_entry,
                simulator_url=simulator_url,
            )
            stack.callback(samverkan_worker.stop)
            bare_worker = await infra.start_bare_worker(
                folder=folder, address=address, task_queue=BARE_QUEUE
            )
            stack.callback(bare_worker.stop)
            bench = cls(
                env=env,
                address=address,
                dsn=dsn,
                pool=pool,
                codec=codec,
                client=client,
                plain=env.client,
                simulator_url=simulator_url,
                folder=folder,
                master_entry=master_entry,
                samverkan_worker=samverkan_worker,
                bare_worker=bare_worker,
            )
            await bench.warm_up()
            yield bench

    # -- drivers --------------------------------------------------------------------------

    async def samverkan_case(self) -> str:
        """One complete case; the case workflow's id."""
        client: Client = self.client
        case = _case_input()
        handle = await client.start_workflow(
            CaseWorkflow.run, case, id=f"case-{case.case_number}", task_queue=SAMVERKAN_QUEUE
        )
        await handle.execute_update("record_protection_assessment", PROTECTION)
        await handle.execute_update("decide_pre_assessment", PRE_ASSESSMENT)
        consultations = [
            await handle.execute_update(
                "request_consultation", consultation_request(agency, basis), result_type=str
            )
            for agency, basis in CASE_CONSULTATIONS
        ]
        await asyncio.gather(*(client.get_workflow_handle(c).result() for c in consultations))
        await handle.execute_update("record_child_views", CHILD_VIEWS)
        await handle.execute_update("conclude_investigation", CONCLUDE)
        await handle.execute_update("close_case", CLOSE)
        await handle.result()
        return handle.id

    async def bare_case(self, shape: BareCaseInput | None = None) -> str:
        """The bare case driven the same way; the agency's updates come from the driver."""
        client: Client = self.plain
        workflow_id = f"bare-{uuid.uuid4().hex[:10]}"
        handle = await client.start_workflow(
            BareCase.run, shape or self.shape, id=workflow_id, task_queue=BARE_QUEUE
        )
        await handle.execute_update("step", "protection")
        await handle.execute_update("step", "pre-assessment")
        children = [
            await handle.execute_update("consult", f"{workflow_id}:c{k}", result_type=str)
            for k in (1, 2)
        ]

        async def agency(child: str) -> None:
            child_handle = client.get_workflow_handle(child)
            await child_handle.execute_update("acknowledge", "ack")
            await child_handle.execute_update("answer", "answer")

        replies = [asyncio.create_task(agency(c)) for c in children]
        await asyncio.gather(*(client.get_workflow_handle(c).result() for c in children), *replies)
        await handle.execute_update("step", "child views")  # as many updates as a case
        await handle.execute_update("step", "conclude")
        await handle.execute_update("close", "close")
        await handle.result()
        return workflow_id

    async def warm_up(self) -> None:
        """One case of each kind (not measured): shapes the bare case, records histories."""
        case_id = await self.samverkan_case()
        self.samverkan_history = await self.client.get_workflow_handle(case_id).fetch_history()
        self.shape = shape_of(self.samverkan_history)
        bare_id = await self.bare_case()
        self.bare_history = await self.plain.get_workflow_handle(bare_id).fetch_history()
        # Benchmark 4's baseline: the same case padded to the Samverkan history's event count.
        # How a run's tasks batch varies by a few events from one run to the next, so it is
        # recorded again, the padding corrected, until the count is the same (or closest).
        target = len(self.samverkan_history.events)
        upserts = max(0, target - len(self.bare_history.events))
        best: WorkflowHistory | None = None
        for _ in range(PADDING_ATTEMPTS):
            padded_id = await self.bare_case(
                dataclasses.replace(self.shape, upserts_at_start=upserts)
            )
            history = await self.plain.get_workflow_handle(padded_id).fetch_history()
            if best is None or abs(len(history.events) - target) < abs(len(best.events) - target):
                best = history
            if len(history.events) == target:
                break
            upserts = max(0, upserts + target - len(history.events))
        self.bare_replay_history = best

    async def run(
        self,
        number: str,
        *,
        sizes: Sequence[tuple[str, int]],
        reps: int,
        unit: int,
        mode: str,
        **extra: Any,
    ) -> list[Row]:
        runner = {
            "1": self.bench_cases,
            "4": self.bench_replay,
            "5": self.bench_memory,
            "6": self.bench_gateway,
        }[number]
        print(f"bench {number}", flush=True)
        return await runner(sizes=sizes, reps=reps, unit=unit, **extra)

    # -- 1: complete cases per second -----------------------------------------------------

    async def bench_cases(
        self, *, sizes: Sequence[tuple[str, int]], reps: int, unit: int
    ) -> list[Row]:
        rows = []
        for label, mult in sizes:
            count = unit * mult
            rates: dict[str, list[float]] = {"samverkan": [], "baseline": []}
            cpu: dict[str, list[float]] = {"samverkan": [], "baseline": []}
            for _, side in alternation(reps):
                drive = self.samverkan_case if side == "samverkan" else self.bare_case
                worker = self.samverkan_worker if side == "samverkan" else self.bare_worker
                cpu0 = worker.cpu_seconds()
                started = time.perf_counter()
                await asyncio.gather(*(drive() for _ in range(count)))
                rates[side].append(count / (time.perf_counter() - started))
                cpu[side].append((worker.cpu_seconds() - cpu0) / count * 1000)
            assert self.samverkan_history is not None and self.bare_history is not None
            rows.append(
                Row(
                    bench="1",
                    what=f"complete cases/s ({count} at once)",
                    size=label,
                    unit="cases/s",
                    samverkan=summarize(rates["samverkan"]),
                    baseline=summarize(rates["baseline"]),
                    baseline_name="bare workflow",
                    figure=summarize(paired_ratios(rates["samverkan"], rates["baseline"])),
                    figure_name="ratio",
                    target=">= 0.7",
                    notes={
                        "worker_cpu_ms_per_case": {
                            k: summarize(v).as_json() for k, v in cpu.items()
                        },
                        "case_history": _counts(self.samverkan_history),
                        "bare_history": _counts(self.bare_history),
                        "bare_shape": vars(self.shape),
                    },
                )
            )
            print(
                f"  {label}: {rows[-1].samverkan.median:.2f} vs "
                f"{rows[-1].baseline.median:.2f} cases/s"
                if rows[-1].baseline
                else "",
                flush=True,
            )
        return rows

    # -- 4: replay ------------------------------------------------------------------------

    def samverkan_replayer(self) -> Replayer:
        """``samverkan replay``'s replayer (`samverkan.replay.replayer`) with the worker's codec."""
        from samverkan.replay import replayer

        return replayer(self.codec)

    def bare_replayer(self) -> Replayer:
        """`Replayer` on the bare workflows, in the worker's sandbox (`infra.sandbox.workflow_runner`)."""
        from infra.sandbox import workflow_runner

        return Replayer(
            workflows=BARE_WORKFLOWS,
            data_converter=data_converter(),
            workflow_runner=workflow_runner("bench"),
        )

    async def bench_replay(
        self, *, sizes: Sequence[tuple[str, int]], reps: int, unit: int
    ) -> list[Row]:
        assert self.samverkan_history is not None and self.bare_replay_history is not None
        engines = {"samverkan": self.samverkan_replayer(), "baseline": self.bare_replayer()}
        histories = {"samverkan": self.samverkan_history, "baseline": self.bare_replay_history}
        for side, engine in engines.items():  # warm the sandbox's module cache
            result = await engine.replay_workflow(histories[side], raise_on_replay_failure=False)
            if result.replay_failure is not None:
                raise RuntimeError(f"{side} history does not replay: {result.replay_failure}")
        rows = []
        for label, mult in sizes:
            count = unit * mult
            rates: dict[str, list[float]] = {"samverkan": [], "baseline": []}
            for _, side in alternation(reps):
                started = time.perf_counter()
                for _ in range(count):
                    await engines[side].replay_workflow(histories[side])
                rates[side].append(count / (time.perf_counter() - started))
            s_events = len(self.samverkan_history.events)
            b_events = len(self.bare_replay_history.events)
            rows.append(
                Row(
                    bench="4",
                    what=f"histories replayed/s ({count} per rep)",
                    size=label,
                    unit="hist/s",
                    samverkan=summarize(rates["samverkan"]),
                    baseline=summarize(rates["baseline"]),
                    baseline_name="Replayer, bare",
                    figure=summarize(paired_ratios(rates["samverkan"], rates["baseline"])),
                    figure_name="ratio",
                    target=">= 0.7",
                    notes={
                        "events_per_history": {"samverkan": s_events, "baseline": b_events},
                        "baseline_padding_upserts": sum(
                            e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
                            for e in self.bare_replay_history.events
                        ),
                        "events_per_s_ratio": summarize(
                            paired_ratios(
                                [r * s_events for r in rates["samverkan"]],
                                [r * b_events for r in rates["baseline"]],
                            )
                        ).as_json(),
                    },
                )
            )
            print(
                f"  {label}: {rows[-1].samverkan.median:.1f} vs "
                f"{rows[-1].baseline.median:.1f} hist/s"
                if rows[-1].baseline
                else "",
                flush=True,
            )
        return rows

    # -- 6: gateway round trip ------------------------------------------------------------

    async def bench_gateway(
        self, *, sizes: Sequence[tuple[str, int]], reps: int, unit: int
    ) -> list[Row]:
        from gateway import (
            AgencyCredentials,
            Consultations,
            GatewayDeps,
            GatewayRecords,
            GatewaySettings,
            create_app,
        )
        from infra.keys import MasterKeys

        credentials = AgencyCredentials(self.pool)
        keys = {a: await credentials.issue(a) for a, _ in ANSWERING}
        settings = GatewaySettings(
            temporal_namespace=self.client.namespace,
            samverkan_gateway_burst=1_000_000,
            samverkan_gateway_rate_per_minute=1e9,
        )
        app = create_app(
            GatewayDeps(
                consultations=Consultations(client=self.client, pool=self.pool),
                credentials=credentials,
                records=GatewayRecords(self.pool),
                settings=settings,
                codec=None,  # as `gateway.server`: the agency API's listener serves no /codec
                master_keys=MasterKeys.parse(self.master_entry),
            )
        )
        rows = []
        async with (
            serving(app, lifespan="off", log_level="warning", name="gateway") as gateway_url,
            httpx.AsyncClient(base_url=self.simulator_url) as admin,
            httpx.AsyncClient(base_url=gateway_url, timeout=30) as http,
        ):
            for agency, _ in ANSWERING:
                (
                    await admin.put(
                        f"/_admin/agencies/{agency.value}/behaviour", json={"never_answer": True}
                    )
                ).raise_for_status()
            try:
                for label, mult in sizes:
                    count = unit * mult
                    measured: dict[str, list[list[float]]] = {"samverkan": [], "baseline": []}
                    for _, side in alternation(reps):
                        waiting = await self._open_consultations(count)
                        latencies: list[float] = []
                        for cid, agency in waiting:
                            started = time.perf_counter()
                            if side == "samverkan":
                                response = await http.post(
                                    f"/v1/consultations/{cid}/answer",
                                    json={"answer": "Known since 2025."},
                                    headers={
                                        "Authorization": f"Bearer {keys[agency]}",
                                        "Idempotency-Key": uuid.uuid4().hex,
                                    },
                                )
                                if response.status_code != 200:
                                    raise RuntimeError(
                                        f"gateway answered {response.status_code}: {response.text}"
                                    )
                            else:
                                await self.client.get_workflow_handle(cid).execute_update(
                                    "answer",
                                    AnswerConsultation(
                                        agency=agency,
                                        answer="Known since 2025.",
                                        consultation_id=cid,
                                    ),
                                    result_type=str,
                                )
                            latencies.append((time.perf_counter() - started) * 1000)
                        measured[side].append(latencies)
                    rows.append(gateway_row(label, count, measured))
                    print(
                        f"  {label}: {rows[-1].figure_name} {rows[-1].samverkan.median:.1f} vs "
                        f"{rows[-1].baseline.median:.1f} ms"
                        if rows[-1].baseline
                        else "",
                        flush=True,
                    )
            finally:
                await admin.post("/_admin/reset")
        return rows

    async def _open_consultations(self, count: int) -> list[tuple[str, Agency]]:
        """``count`` delivered consultations waiting for an answer (`ANSWERING`: four per case)."""

        async def one_case() -> list[tuple[str, Agency]]:
            case = _case_input("G")
            handle = await self.client.start_workflow(
                CaseWorkflow.run, case, id=f"case-{case.case_number}", task_queue=SAMVERKAN_QUEUE
            )
            await handle.execute_update("record_protection_assessment", PROTECTION)
            # some bases (osl_26_9 to BUP) need an opened investigation (cases.access)
            await handle.execute_update("decide_pre_assessment", PRE_ASSESSMENT)
            found = []
            for agency, basis in ANSWERING:
                cid = await handle.execute_update(
                    "request_consultation",
                    consultation_request(agency.value, basis),
                    result_type=str,
                )
                found.append((cid, agency))
            return found

        per_case = len(ANSWERING)
        cases = await asyncio.gather(*(one_case() for _ in range(-(-count // per_case))))
        waiting = [c for asked in cases for c in asked][:count]
        for cid, _ in waiting:  # delivered: the agency has the request
            for _ in range(200):
                status = await self.client.get_workflow_handle(cid).query(
                    "status", result_type=dict
                )
                if status is not None:
                    break
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        return waiting

    # -- 5: memory with open cases --------------------------------------------------------

    async def bench_memory(
        self,
        *,
        sizes: Sequence[tuple[str, int]],
        reps: int,
        unit: int,
        concurrency: int = MEMORY_CONCURRENCY,
        largest: int | None = None,
        passes: int = 1,
    ) -> list[Row]:
        """``passes`` growing passes per side, each on a fresh worker, readings at every size.

        In a pass the two sides alternate segments: baseline and Samverkan grow to the first
        checkpoint one after the other (the side going first alternates per checkpoint and
        per pass), then to the next, so each side's start rate is measured with the machine
        to itself and both workers hold the same count at their readings. Each reading is
        ``reps`` RSS samples 1 s apart. ``largest`` leaves out checkpoints above it
        (``--memory-largest``). See `memory_row` for what a row's repetitions are.
        """
        checkpoints = sorted({unit * mult for _, mult in sizes})
        labels = {unit * mult: label for label, mult in sizes}
        skipped = [n for n in checkpoints if largest is not None and n > largest]
        checkpoints = [n for n in checkpoints if n not in skipped]
        readings: dict[str, dict[int, list[Reading]]] = {
            "baseline": {n: [] for n in checkpoints},
            "samverkan": {n: [] for n in checkpoints},
        }
        idle: dict[str, list[float]] = {"baseline": [], "samverkan": []}
        for number in range(passes):
            if passes > 1:
                print(f"  pass {number + 1} of {passes}", flush=True)
            sides = ("baseline", "samverkan")
            started = {
                side: await MemoryPass.start(self, side, concurrency=concurrency) for side in sides
            }
            for side in sides:
                idle[side].append(started[side].idle_rss)
            try:
                for k, n in enumerate(checkpoints):
                    order = sides if (k + number) % 2 == 0 else sides[::-1]
                    for side in order:
                        readings[side][n].append(await started[side].grow_to(n, reps))
                    s, b = readings["samverkan"][n][-1], readings["baseline"][n][-1]
                    print(
                        f"  {n}: RSS {summarize(s.rss).median:.0f} vs "
                        f"{summarize(b.rss).median:.0f} MiB, started {s.rate:.1f} vs "
                        f"{b.rate:.1f}/s",
                        flush=True,
                    )
            finally:
                for memory_pass in started.values():
                    memory_pass.stop()
        rows = [
            memory_row(
                n,
                labels[n],
                readings["samverkan"][n],
                readings["baseline"][n],
                idle=idle,
                concurrency=concurrency,
            )
            for n in checkpoints
        ]
        for n in skipped:
            print(f"  {n}: left out (--memory-largest)", flush=True)
        return rows


def gateway_row(label: str, count: int, measured: dict[str, list[list[float]]]) -> Row:
    """Benchmark 6's row from each repetition's round trips (ms) per side.

    The tail statistic is the one ``count`` answers per repetition support
    (`tail_statistic`: p99 from 100, p90 from 10, else the max) and the row names it; the
    figure is its paired ratio Samverkan / client update, above 1 when the gateway is slower.
    p50, p90 and the maximum of both sides are in the notes.
    """
    name, q = tail_statistic(count)
    tails = {side: [percentile(r, q) for r in reps] for side, reps in measured.items()}

    def per_side(q: float) -> dict[str, Any]:
        return {
            side: summarize([percentile(r, q) for r in reps]).as_json()
            for side, reps in measured.items()
        }

    p50 = {side: [percentile(r, 50) for r in reps] for side, reps in measured.items()}
    return Row(
        bench="6",
        what=f"answer round trip {name} ({count} per rep)",
        size=label,
        unit="ms",
        samverkan=summarize(tails["samverkan"]),
        baseline=summarize(tails["baseline"]),
        baseline_name="client update",
        figure=summarize(paired_ratios(tails["samverkan"], tails["baseline"])),
        figure_name=f"{name} ratio",
        target="<= 1.5",
        notes={
            "statistic": name,
            "answers_per_rep": count,
            "p50_ms": per_side(50),
            "p90_ms": per_side(90),
            "max_ms": per_side(100),
            "p50_ratio": summarize(paired_ratios(p50["samverkan"], p50["baseline"])).as_json(),
        },
    )


def memory_row(
    n: int,
    label: str,
    samverkan: Sequence[Reading],
    baseline: Sequence[Reading],
    *,
    idle: dict[str, list[float]],
    concurrency: int,
) -> Row:
    """Benchmark 5's row at ``n`` open workflows from each pass's reading per side.

    With one pass the row's repetitions are that pass's RSS samples (1 s apart: they show
    how steady the reading is, not how another pass would come out) and ``what`` says so;
    with several, each pass counts once (the median of its samples). The figure is the
    paired ratio Samverkan / bare sleepers, above 1 when Samverkan's worker is bigger.
    """
    if len(samverkan) != len(baseline) or not samverkan:
        raise ValueError("both sides need the same passes")
    if len(samverkan) == 1:
        s_rss, b_rss = list(samverkan[0].rss), list(baseline[0].rss)
        spread = f"{len(s_rss)} RSS samples of 1 pass"
    else:
        s_rss = [summarize(r.rss).median for r in samverkan]
        b_rss = [summarize(r.rss).median for r in baseline]
        spread = f"{len(s_rss)} passes"

    def med(values: Sequence[float]) -> float:
        return round(summarize(values).median, 1)

    idle_s, idle_b = med(idle["samverkan"]), med(idle["baseline"])
    return Row(
        bench="5",
        what=f"worker RSS, {n:,} open cases ({spread})",
        size=label,
        unit="MiB",
        samverkan=summarize(s_rss),
        baseline=summarize(b_rss),
        baseline_name="bare sleepers",
        figure=summarize(paired_ratios(s_rss, b_rss)),
        figure_name="RSS ratio",
        target="<= 1.5",
        notes={
            "repetitions": spread,
            "passes": len(samverkan),
            "started_per_s": {
                "samverkan": med([r.rate for r in samverkan]),
                "baseline": med([r.rate for r in baseline]),
            },
            "segment_started_per_s": {
                "samverkan": med([r.segment_rate for r in samverkan]),
                "baseline": med([r.segment_rate for r in baseline]),
            },
            "worker_cpu_ms_per_start": {
                "samverkan": med([r.cpu_ms_per_start for r in samverkan]),
                "baseline": med([r.cpu_ms_per_start for r in baseline]),
            },
            "idle_rss_mib": {"samverkan": idle_s, "baseline": idle_b},
            "kib_per_open_workflow": {
                "samverkan": round((summarize(s_rss).median - idle_s) / n * 1024),
                "baseline": round((summarize(b_rss).median - idle_b) / n * 1024),
            },
            "client_concurrency": concurrency,
            "rss_samples": "readings 1 s apart once every workflow waits; sides alternating"
            " per checkpoint in each pass",
        },
    )


@dataclass
class Reading:
    """One side's state at a checkpoint of benchmark 5."""

    rss: list[float]
    rate: float  # workflows started and settled per second since the pass began
    segment_rate: float  # the same over the last segment only
    cpu_ms_per_start: float  # the worker's CPU per workflow over the last segment


class MemoryPass:
    """Benchmark 5's growing pass for one side: a fresh worker, workflows started up to
    each checkpoint (``concurrency`` starts in flight), RSS read once they all wait."""

    def __init__(
        self, bench: CaseBench, side: str, worker: infra.WorkerProcess, queue: str, concurrency: int
    ) -> None:
        self.bench, self.side, self.worker, self.queue = bench, side, worker, queue
        self.client: Client = bench.client if side == "samverkan" else bench.plain
        self.concurrency = concurrency
        self.started = 0
        self.seconds = 0.0  # time spent growing, readings excluded
        self.deadlines_before = 0
        self.idle_rss = 0.0  # the worker's RSS polling, before any workflow

    @classmethod
    async def start(
        cls,
        bench: CaseBench,
        side: str,
        *,
        concurrency: int,
        command: list[str] | None = None,
        bare_args: list[str] | None = None,
    ) -> MemoryPass:
        """A fresh worker for ``side``: Samverkan's ``worker.py`` (or ``command``, e.g. the
        worker probe), or the bare worker (with ``bare_args``)."""
        queue = f"bench-mem-{side}-{uuid.uuid4().hex[:6]}"
        if side == "samverkan":
            worker = await infra.start_samverkan_worker(
                folder=bench.folder,
                address=bench.address,
                task_queue=queue,
                database_url=bench.dsn,
                master_keys=bench.master_entry,
                simulator_url=bench.simulator_url,
                command=command,
            )
        else:
            worker = await infra.start_bare_worker(
                folder=bench.folder, address=bench.address, task_queue=queue, extra=bare_args
            )
        memory_pass = cls(bench, side, worker, queue, concurrency)
        memory_pass.deadlines_before = await memory_pass._deadlines_set()
        await asyncio.sleep(1.0)
        memory_pass.idle_rss = worker.rss_mib()
        return memory_pass

    async def _deadlines_set(self) -> int:
        return int(
            await self.bench.pool.fetchval("SELECT count(*) FROM events WHERE type = 'DeadlineSet'")
        )

    async def _start_one(self) -> None:
        if self.side == "samverkan":
            case = _case_input("M")
            await self.client.start_workflow(
                CaseWorkflow.run, case, id=f"case-{case.case_number}", task_queue=self.queue
            )
        else:
            await self.client.start_workflow(
                BareSleeper.run, 30, id=f"sleep-{uuid.uuid4().hex[:12]}", task_queue=self.queue
            )

    async def _settled(self, n: int) -> bool:
        """Whether ``n`` workflows wait: a case has set both its deadlines, a sleeper its
        search attribute."""
        if self.side == "samverkan":
            return await self._deadlines_set() - self.deadlines_before >= 2 * n
        result = await self.client.count_workflows(
            f"TaskQueue = '{self.queue}' AND CaseState = 'sleeping'"
        )
        return result.count >= n

    async def grow_to(self, n: int, reps: int, *, limit: float = 1800) -> Reading:
        todo = n - self.started
        cpu0, t0 = self.worker.cpu_seconds(), time.perf_counter()
        queue: asyncio.Queue[None] = asyncio.Queue()
        for _ in range(todo):
            queue.put_nowait(None)

        async def starter() -> None:
            while not queue.empty():
                queue.get_nowait()
                await self._start_one()

        await asyncio.gather(*(starter() for _ in range(min(self.concurrency, todo))))
        self.started = n
        give_up = time.perf_counter() + limit
        while not await self._settled(n):
            if time.perf_counter() > give_up:
                raise RuntimeError(f"{self.side}: {n} workflows never settled")
            await asyncio.sleep(0.25)
        segment = time.perf_counter() - t0
        cpu = self.worker.cpu_seconds() - cpu0
        self.seconds += segment
        await asyncio.sleep(1.0)
        samples = []
        for _ in range(reps):
            samples.append(self.worker.rss_mib())
            await asyncio.sleep(1.0)
        return Reading(
            rss=samples,
            rate=n / self.seconds,
            segment_rate=todo / segment,
            cpu_ms_per_start=cpu / max(todo, 1) * 1000,
        )

    def stop(self) -> None:
        self.worker.stop()
