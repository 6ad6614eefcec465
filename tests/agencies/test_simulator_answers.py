"""How each simulated agency answers back, seen through a recording responder (no Temporal)."""

from __future__ import annotations

import asyncio
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
from samverkan.commands.simulator import register
from simulator.app import running_simulator
from simulator.responder import RecordingResponder
from simulator.state import SimulatorConfig, SimulatorConfigError

CID = "case-2024-0007:consultation-3"


async def deliver_and_settle(url: str, agency: str, settle: float = 0.2) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            f"/agencies/{agency}/consultations",
            json={"consultation_id": CID, "case_number": "2024-0007", "payload": {}},
            headers={"Idempotency-Key": CID},
        )
        assert response.status_code == 201
    await asyncio.sleep(settle)


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
    async with running_simulator(SimulatorConfig.from_toml(toml), responder) as url:
        await deliver_and_settle(url, "school")

    assert responder.replies == [(CID, command) for command in expected]


async def test_answer_waits_answer_after_seconds() -> None:
    responder = RecordingResponder()
    config = SimulatorConfig.from_toml("[agencies.police]\nanswer_after = 0.5")
    async with running_simulator(config, responder) as url:
        await deliver_and_settle(url, "police", settle=0.2)
        early = list(responder.replies)
        await asyncio.sleep(0.5)

    assert [type(c) for _, c in early] == [AcknowledgeConsultation]
    assert [type(c) for _, c in responder.replies] == [AcknowledgeConsultation, AnswerConsultation]


async def test_repeat_delivery_answers_only_once() -> None:
    responder = RecordingResponder()
    async with running_simulator(responder=responder) as url:
        await deliver_and_settle(url, "bup", settle=0)
        await deliver_and_settle(url, "bup")

    assert len(responder.replies) == 2  # one acknowledge, one answer


def test_invalid_simulator_config_names_target_and_field() -> None:
    with pytest.raises(SimulatorConfigError, match=r"agencies\.police\.fail_times"):
        SimulatorConfig.from_toml("[agencies.police]\nfail_times = -1")


def test_simulator_command_is_registered_with_its_options() -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps 'simulator' a subcommand

    result = CliRunner().invoke(app, ["simulator", "--help"])

    assert result.exit_code == 0
    for option in ("--host", "--port", "--config", "--temporal-address"):
        assert option in result.output
