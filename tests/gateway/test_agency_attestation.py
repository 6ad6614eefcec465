"""Agency updates reach a consultation through the gateway only: it attests the agency."""

from __future__ import annotations

import httpx
import pytest
import typer
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner

from cases import Agency
from gateway import Consultations, GatewayDeps, GatewayRecords, GatewaySettings, create_app
from gateway.credentials import AgencyCredentials
from infra import temporal_client
from infra.attestation import AttestationKeys
from infra.attestation_interceptors import UNAUTHENTICATED, attesting
from infra.keys import MasterKeys
from infra.settings import get_settings
from infra.temporal_client import with_codec
from samverkan.commands.gateway import register
from tests.agency_attestation import unsigned
from tests.gateway.conftest import Stack


async def test_the_gateways_answer_is_accepted_and_the_same_answer_sent_directly_is_refused(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    direct = unsigned(stack.client).get_workflow_handle(handle.id)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await direct.execute_update("answer", {"agency": "police", "answer": "Forged."})
    before = await handle.query("status", result_type=dict)
    through_gateway = await http.post(
        f"/v1/consultations/{handle.id}/answer",
        json={"answer": "Known to SSPF."},
        headers=stack.auth(Agency.POLICE),
    )

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == UNAUTHENTICATED
    assert str(cause.message).startswith("unauthenticated: no agency attestation")
    assert before == {"agency": "police", "acknowledged": False, "outcome": None, "updates": 0}
    assert through_gateway.status_code == 200, through_gateway.text
    assert await handle.result() == "answered"


async def test_a_gateway_whose_key_the_workers_do_not_share_answers_503_and_changes_nothing(
    stack: Stack,
) -> None:
    handle = await stack.consultation(Agency.POLICE)
    stranger = AttestationKeys.parse(AttestationKeys.generate_entry("other1"))
    client = with_codec(attesting(unsigned(stack.client), stranger), stack.codec)
    app = create_app(
        GatewayDeps(
            consultations=Consultations(client=client, pool=stack.pool),
            credentials=AgencyCredentials(stack.pool),
            records=GatewayRecords(stack.pool),
            settings=GatewaySettings(
                temporal_namespace=client.namespace, samverkan_gateway_allowed_hosts="gateway.test"
            ),
            codec=None,
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        response = await http.post(
            f"/v1/consultations/{handle.id}/answer",
            json={"answer": "Known to SSPF."},
            headers=stack.auth(Agency.POLICE),
        )

    assert response.status_code == 503, response.text
    assert response.json()["error"] == "unavailable"
    assert (await handle.query("status", result_type=dict))["updates"] == 0


def test_the_gateway_command_refuses_to_start_without_attestation_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMVERKAN_MASTER_KEYS", MasterKeys.generate_entry("m1"))
    monkeypatch.delenv("SAMVERKAN_AGENCY_ATTESTATION_KEYS", raising=False)
    connected: list[object] = []

    async def connect(*args: object, **kwargs: object) -> object:
        connected.append(args)
        raise AssertionError("the gateway went on to connect to Temporal")

    monkeypatch.setattr(temporal_client, "connect", connect)
    get_settings.cache_clear()
    cli = typer.Typer()
    register(cli)
    try:
        result = CliRunner().invoke(cli, ["gateway", "--port", "0", "--no-codec"])
        malformed_env = {"SAMVERKAN_AGENCY_ATTESTATION_KEYS": "k1:c2hvcnQ="}
        get_settings.cache_clear()
        malformed = CliRunner().invoke(
            cli, ["gateway", "--port", "0", "--no-codec"], env=malformed_env
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("SAMVERKAN_AGENCY_ATTESTATION_KEYS is not set")
    assert "the gateway does not start" in line
    assert malformed.exit_code == 2, malformed.output
    [short] = malformed.stderr.strip().splitlines()
    assert "key k1 is shorter than 32 bytes" in short and "c2hvcnQ" not in short
    assert connected == []


async def test_the_gateway_signs_what_it_sends_for_the_agency_it_authenticated(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    handle = await stack.consultation(Agency.SCHOOL)

    acknowledged = await http.post(
        f"/v1/consultations/{handle.id}/acknowledge", json={}, headers=stack.auth(Agency.SCHOOL)
    )
    declined = await http.post(
        f"/v1/consultations/{handle.id}/decline",
        json={"reason": "Not ours."},
        headers=stack.auth(Agency.SCHOOL),
    )

    assert (acknowledged.status_code, declined.status_code) == (200, 200), declined.text
    assert await handle.result() == "declined"


def test_keys_new_attestation_prints_an_entry_the_setting_takes() -> None:
    cli = typer.Typer()
    register(cli)

    entry = CliRunner().invoke(cli, ["keys", "new-attestation", "a2"])
    bad = CliRunner().invoke(cli, ["keys", "new-attestation", "a:2"])

    assert entry.exit_code == 0, entry.output
    assert AttestationKeys.parse(entry.stdout.strip()).signing_kid == "a2"
    assert bad.exit_code == 2 and "key id 'a:2'" in bad.stderr
