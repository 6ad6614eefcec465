"""How each simulated agency answers back, seen through a recording responder (no Temporal)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from cases import (
    AcknowledgeConsultation,
    Agency,
    AnswerConsultation,
    DeclineConsultation,
)
from infra.embedded import serving
from samverkan.commands.simulator import register
from simulator.app import create_simulator_app
from simulator.responder import RecordingResponder
from simulator.state import SimulatorConfig, SimulatorConfigError, SimulatorState

CID = "case-2024-0007:consultation-3"
ANSWER = SimulatorConfig().behaviour_of("bup").answer


@asynccontextmanager
async def simulator(
    responder: RecordingResponder, config: SimulatorConfig | None = None
) -> AsyncIterator[tuple[str, SimulatorState]]:
    """The simulator served in this loop: its URL, and its state to await its answers."""
    app = create_simulator_app(config, responder)
    async with serving(app, name="simulator") as url:
        yield url, app.state.simulator


async def deliver(url: str, agency: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            f"/agencies/{agency}/consultations",
            json={"consultation_id": CID, "case_number": "2024-0007", "payload": {}},
            headers={"Idempotency-Key": CID},
        )
    assert response.status_code == 201
    return response


async def answered_back(state: SimulatorState) -> None:
    """Wait until every answer the deliveries so far started has been sent (a delivery
    starts its answering task before it responds)."""
    await asyncio.gather(*list(state.tasks))
    assert not state.tasks


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[agencies.school]\nanswer = 'Attendance normal.'",
            [
                AcknowledgeConsultation(consultation_id=CID, agency=Agency.SCHOOL),
                AnswerConsultation(
                    consultation_id=CID, agency=Agency.SCHOOL, answer="Attendance normal."
                ),
            ],
        ),
        (
            "[agencies.school]\nacknowledge_only = true",
            [AcknowledgeConsultation(consultation_id=CID, agency=Agency.SCHOOL)],
        ),
        ("[agencies.school]\nnever_answer = true", []),
        (
            "[agencies.school]\ndecline = true\ndecline_reason = 'Not ours.'",
            [
                AcknowledgeConsultation(consultation_id=CID, agency=Agency.SCHOOL),
                DeclineConsultation(consultation_id=CID, agency=Agency.SCHOOL, reason="Not ours."),
            ],
        ),
    ],
)
async def test_configured_behaviour_decides_the_answer(toml: str, expected: list[Any]) -> None:
    responder = RecordingResponder()
    async with simulator(responder, SimulatorConfig.from_toml(toml)) as (url, state):
        await deliver(url, "school")
        await answered_back(state)

    assert responder.replies == [(CID, command) for command in expected]


class TimedResponder(RecordingResponder):
    """Records each reply with the event loop's clock reading when it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    async def acknowledge(self, consultation_id: str, command: AcknowledgeConsultation) -> None:
        self.times.append(asyncio.get_running_loop().time())
        await super().acknowledge(consultation_id, command)

    async def answer(self, consultation_id: str, command: AnswerConsultation) -> None:
        self.times.append(asyncio.get_running_loop().time())
        await super().answer(consultation_id, command)


async def test_answer_waits_answer_after_seconds() -> None:
    responder = TimedResponder()
    config = SimulatorConfig.from_toml("[agencies.police]\nanswer_after = 0.5")
    async with simulator(responder, config) as (url, state):
        await deliver(url, "police")
        await answered_back(state)

    assert [type(c) for _, c in responder.replies] == [AcknowledgeConsultation, AnswerConsultation]
    acknowledged, answered = responder.times
    assert answered - acknowledged >= 0.45  # answer_after, less the loop's clock resolution


async def test_repeat_delivery_answers_only_once() -> None:
    responder = RecordingResponder()
    async with simulator(responder) as (url, state):
        first = await deliver(url, "bup")
        repeat = await deliver(url, "bup")
        await answered_back(state)  # whatever either delivery started has answered
        created = list(state.created)

    assert "idempotent-replayed" not in first.headers
    assert repeat.headers["idempotent-replayed"] == "true"
    assert repeat.json() == first.json()
    assert len(created) == 1
    assert responder.replies == [
        (CID, AcknowledgeConsultation(consultation_id=CID, agency=Agency.BUP)),
        (CID, AnswerConsultation(consultation_id=CID, agency=Agency.BUP, answer=ANSWER)),
    ]


def test_invalid_simulator_config_names_target_and_field() -> None:
    with pytest.raises(SimulatorConfigError, match=r"agencies\.police\.fail_times"):
        SimulatorConfig.from_toml("[agencies.police]\nfail_times = -1")


def test_simulator_command_is_registered_with_its_options() -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps 'simulator' a subcommand

    result = CliRunner().invoke(app, ["simulator", "--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port", "--config", "--gateway-url", "--issue-agency-keys"):
        assert option in result.output
    assert "--temporal-address" not in result.output  # agencies answer through the gateway


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], "agencies answer through the agency gateway"),
        (
            ["--gateway-url", "http://127.0.0.1:9"],
            "needs --agency-keys FILE or --issue-agency-keys",
        ),
    ],
)
def test_a_simulator_that_could_only_answer_past_the_gateway_refuses_to_start(
    args: list[str], says: str
) -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)

    result = CliRunner().invoke(app, ["simulator", *args])

    assert result.exit_code == 2
    assert says in result.output
