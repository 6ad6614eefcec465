"""The agency contract: what an agency can read of its consultation (and nothing of another's),
``status`` once its system has the request, times with their offset and the deadline's
Swedish local date (``due_date``), and an OpenAPI document that is valid OpenAPI 3.1 and says
what an integrator would otherwise guess (the push, the enums, ``due``, limits)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import jsonschema_rs
import pytest_asyncio
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.agencies import DeliverConsultationRequest
from cases import AcknowledgeConsultation, Agency, LegalBasis
from gateway.openapi import openapi_document
from tests.gateway.conftest import Stack

QUESTIONS = "Är Eleven Alva Lindqvist känd hos polisen?"
DUE = "2026-12-09T23:59:59.999999+01:00"  # the end of 9 December in Stockholm (winter)


@workflow.defn(name="ContractProbeConsultation")
class ContractProbeConsultation:
    """Started like the real consultation (its input's fields), answering the same
    ``status`` query and ``acknowledge`` update."""

    @workflow.init
    def __init__(self, request: dict[str, Any]) -> None:
        self._request = request
        self._acknowledged = False

    @workflow.run
    async def run(self, request: dict[str, Any]) -> str:
        await workflow.wait_condition(lambda: False)
        return ""

    @workflow.update(name="acknowledge")
    async def acknowledge(self, command: AcknowledgeConsultation) -> str:
        self._acknowledged = True
        return "acknowledged"

    @workflow.query(name="status")
    def status(self) -> dict[str, object]:
        deadline = self._request["deadline"]
        return {
            "consultation_id": self._request["consultation_id"],
            "agency": self._request["agency"],
            "acknowledged": self._acknowledged,
            "outcome": None,
            "target": deadline["target"],
            "legal_latest": deadline["legal_latest"],
            "rungs_raised": [],
        }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def contract_queue(stack: Stack) -> AsyncIterator[str]:
    queue = f"contract-{uuid.uuid4().hex[:8]}"
    async with Worker(
        stack.client,
        task_queue=queue,
        workflows=[ContractProbeConsultation],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield queue


async def _consultation(
    stack: Stack, queue: str, agency: Agency, due: str = DUE
) -> tuple[WorkflowHandle[Any, Any], dict[str, Any]]:
    case_number = f"C-{uuid.uuid4().hex[:8]}"
    consultation_id = f"case-{case_number}:consultation-1"
    payload = {
        "consultation_id": consultation_id,
        "case_number": case_number,
        "agency": agency.value,
        "legal_basis": "osl_10_18a",
        "acute": False,
        "concern_category": "violent_extremist_environment",
        "questions": QUESTIONS,
    }
    request = {
        "consultation_id": consultation_id,
        "case_workflow_id": f"case-{case_number}",
        "case_number": case_number,
        "agency": agency.value,
        "legal_basis": "osl_10_18a",
        "payload": payload,
        "contains_personal_data": True,
        "disclosed_fields": ["questions"],
        "deadline": {
            "start": "2026-12-02T10:15:00+01:00",
            "target": due,
            "legal_latest": due,
        },
        "schedule": [],
    }
    handle = await stack.client.start_workflow(
        "ContractProbeConsultation", request, id=consultation_id, task_queue=queue
    )
    return handle, payload


async def _delivered(stack: Stack, consultation_id: str) -> None:
    """What the open_consultations projection holds once the case's ConsultationDelivered is
    projected (the projection itself: tests/eventstore/test_store_projections.py)."""
    case_number = consultation_id.removeprefix("case-").split(":")[0]
    await stack.pool.execute(
        "INSERT INTO open_consultations (case_id, consultation_id, agency, status, legal_basis, "
        "acute, requested_at, due, delivered_at) SELECT $1, $2, 'police', 'requested', "
        "'osl_10_18a', false, now(), now() + interval '10 days', '2026-12-02T09:16:00Z' "
        "ON CONFLICT (case_id, consultation_id) DO UPDATE SET delivered_at = "
        "excluded.delivered_at",
        case_number,
        consultation_id,
    )


async def test_the_owning_agency_reads_what_it_was_asked_and_disclosed_and_where_it_stands(
    stack: Stack, http: httpx.AsyncClient, contract_queue: str
) -> None:
    handle, payload = await _consultation(stack, contract_queue, Agency.POLICE)
    url = f"/v1/consultations/{handle.id}"

    before = await http.get(url, headers=stack.auth(Agency.POLICE))
    await _delivered(stack, handle.id)
    delivered = await http.get(url, headers=stack.auth(Agency.POLICE))
    await http.post(f"{url}/acknowledge", headers=stack.auth(Agency.POLICE))
    acknowledged = await http.get(url, headers=stack.auth(Agency.POLICE))
    await stack.pool.execute("DELETE FROM open_consultations WHERE consultation_id = $1", handle.id)

    assert before.status_code == 200, before.text
    body = before.json()
    assert body["request"] == payload and body["request"]["questions"] == QUESTIONS
    assert body["disclosed_fields"] == ["questions"] and body["contains_personal_data"] is True
    assert (body["agency"], body["legal_basis"]) == ("police", "osl_10_18a")
    assert body["due"] == "2026-12-09T22:59:59.999999+00:00", "due is the instant, in UTC"
    assert datetime.fromisoformat(body["due"]) == datetime.fromisoformat(DUE)
    assert body["requested_at"] == "2026-12-02T09:15:00+00:00"
    assert body["due_date"] == "2026-12-09", "the last day, in Stockholm"
    assert [before.json()["status"], delivered.json()["status"]] == ["requested", "delivered"]
    assert acknowledged.json()["status"] == "acknowledged"


async def test_another_agencys_consultation_reads_like_an_unknown_one(
    stack: Stack, http: httpx.AsyncClient, contract_queue: str
) -> None:
    handle, _ = await _consultation(stack, contract_queue, Agency.POLICE)

    foreign = await http.get(f"/v1/consultations/{handle.id}", headers=stack.auth(Agency.SCHOOL))
    unknown = await http.get(
        "/v1/consultations/case-NOPE-1:consultation-1", headers=stack.auth(Agency.SCHOOL)
    )
    anonymous = await http.get(f"/v1/consultations/{handle.id}")

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json().keys() == unknown.json().keys() == {"error", "request_id"}
    assert foreign.json()["error"] == unknown.json()["error"] == "not_found"
    assert QUESTIONS not in foreign.text
    assert anonymous.status_code == 401


async def test_the_list_says_delivered_once_the_agencys_system_has_the_request(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await stack.pool.executemany(
        "INSERT INTO open_consultations (case_id, consultation_id, agency, status, legal_basis, "
        "acute, requested_at, due) VALUES ($1, $2, 'cve', 'requested', 'none', false, now(), "
        "now() + interval '10 days')",
        [("D-1", "case-D-1:consultation-1"), ("D-2", "case-D-2:consultation-1")],
    )
    await _delivered(stack, "case-D-1:consultation-1")

    listed = (await http.get("/v1/consultations", headers=stack.auth(Agency.CVE))).json()

    status = {c["consultation_id"]: c["status"] for c in listed["consultations"]}
    assert status == {
        "case-D-1:consultation-1": "delivered",
        "case-D-2:consultation-1": "requested",
    }


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    document = json.loads(json.dumps(openapi_document()))

    errors = [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(document)]
    assert errors == []


def _schema(document: dict[str, Any], name: str) -> jsonschema_rs.Validator:
    root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root)


def test_the_document_describes_the_push_to_the_agencys_system_and_its_reply_path() -> None:
    document = openapi_document()
    push = document["webhooks"]["consultationRequest"]["post"]
    pushed = DeliverConsultationRequest(
        consultation_id="case-X-1:consultation-1",
        case_number="X-1",
        agency=Agency.POLICE,
        legal_basis=LegalBasis("osl_10_18a"),
        payload={"questions": QUESTIONS},
        contains_personal_data=True,
    ).model_dump(mode="json", exclude={"agency"})  # exactly what HttpAgencySystem POSTs

    assert _schema(document, "ConsultationPush").is_valid(pushed)
    assert not _schema(document, "ConsultationPush").is_valid({**pushed, "agency": "police"})
    assert "{base_url}/consultations" in push["description"]
    assert "/v1/consultations/{consultation_id}/answer" in push["description"]
    assert {"2XX", "4XX", "5XX"} <= set(push["responses"])
    assert "notices" in document["webhooks"]["consultationNotice"]["post"]["description"]


def test_the_document_enumerates_status_result_error_and_code() -> None:
    schemas = openapi_document()["components"]["schemas"]

    def values(model: str, field: str) -> set[str]:
        prop = schemas[model]["properties"][field]
        options = prop.get("anyOf", [prop])
        return {v for o in options for v in o.get("enum", [])}

    assert values("OpenConsultation", "status") == {"requested", "delivered", "acknowledged"}
    assert values("ConsultationDetail", "status") >= {"delivered", "answered", "expired"}
    assert values("ActionResult", "result") == {"acknowledged", "answered", "declined", "accepted"}
    assert {"not_found", "conflict", "rate_limited", "idempotency_key_reused"} <= values(
        "ErrorBody", "error"
    )
    assert {"already_answered", "authentication_failures"} <= values("ErrorBody", "code")


def test_the_document_states_due_limits_pagination_and_the_acknowledge_rule(
    stack: Stack,
) -> None:
    from gateway import GatewaySettings

    settings = GatewaySettings(samverkan_gateway_rate_per_minute=42, samverkan_gateway_burst=7)
    document = openapi_document(settings)
    text = document["info"]["description"]
    due = document["components"]["schemas"]["OpenConsultation"]["properties"]["due"]

    assert "42 calls a minute" in text and "burst of 7" in text
    assert "Pagination" in text and "Acknowledge before answering" in text
    assert "UTC" in due["description"] and "Stockholm" in due["description"]
    key = document["paths"]["/v1/consultations/{consultation_id}/answer"]["post"]["parameters"][1]
    assert "Scope" in key["description"] and "Lifetime" in key["description"]


def _response_schema(name: str) -> jsonschema_rs.Validator:
    """The document's schema ``name``, checking formats (date-time needs an offset)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": openapi_document()["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def _in_utc_with_offset(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset() == timedelta(0)


async def test_a_consultation_gives_its_times_with_their_offset_and_due_as_a_stockholm_date(
    stack: Stack, http: httpx.AsyncClient, contract_queue: str
) -> None:
    summer_due = "2026-06-30T23:59:59.999999+02:00"  # the end of 30 June in Stockholm (CEST)
    handle, _ = await _consultation(stack, contract_queue, Agency.SSPF, due=summer_due)

    response = await http.get(f"/v1/consultations/{handle.id}", headers=stack.auth(Agency.SSPF))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["due"] == "2026-06-30T21:59:59.999999+00:00"
    assert body["target"] == body["due"]
    assert body["due_date"] == "2026-06-30"
    assert all(_in_utc_with_offset(body[k]) for k in ("requested_at", "target", "due"))
    assert _response_schema("ConsultationDetail").is_valid(body)
    assert not _response_schema("ConsultationDetail").is_valid(
        {**body, "due": "2026-06-30T21:59:59.999999"}
    ), "the schema refuses an instant without its offset"


async def test_the_list_gives_times_with_their_offset_and_due_as_the_stockholm_date(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    # Midnight in Stockholm is still the day before in UTC: due_date is Stockholm's day.
    rows = [
        ("T-1", "2026-12-09T22:59:59.999999+00:00", None),  # end of 9 December, CET
        ("T-2", "2026-06-30T21:59:59.999999+00:00", "2026-06-02T08:00:00+02:00"),  # CEST
        ("T-3", "2026-12-09T23:00:00+00:00", None),  # 00:00 on 10 December in Stockholm
        ("T-4", None, None),
    ]
    await stack.pool.executemany(
        "INSERT INTO open_consultations (case_id, consultation_id, agency, status, legal_basis, "
        "acute, requested_at, acknowledged_at, due) VALUES ($1, $2, 'bup', $3, 'osl_10_18a', "
        "false, '2026-12-02T10:15:00+01:00', $4, $5)",
        [
            (
                case,
                f"case-{case}:consultation-1",
                "acknowledged" if acked else "requested",
                datetime.fromisoformat(acked) if acked else None,
                datetime.fromisoformat(due) if due else None,
            )
            for case, due, acked in rows
        ],
    )

    response = await http.get("/v1/consultations", headers=stack.auth(Agency.BUP))

    assert response.status_code == 200, response.text
    listed = {c["consultation_id"]: c for c in response.json()["consultations"]}
    assert {k: c["due_date"] for k, c in listed.items()} == {
        "case-T-1:consultation-1": "2026-12-09",
        "case-T-2:consultation-1": "2026-06-30",
        "case-T-3:consultation-1": "2026-12-10",
        "case-T-4:consultation-1": None,
    }
    assert listed["case-T-2:consultation-1"]["due"] == "2026-06-30T21:59:59.999999+00:00"
    assert listed["case-T-2:consultation-1"]["acknowledged_at"] == "2026-06-02T06:00:00+00:00"
    times = [c[k] for c in listed.values() for k in ("requested_at", "acknowledged_at", "due")]
    assert all(_in_utc_with_offset(t) for t in times if t is not None)
    assert _response_schema("ConsultationList").is_valid(response.json())


def test_the_document_gives_instants_as_date_time_and_due_date_as_a_date() -> None:
    schemas = openapi_document()["components"]["schemas"]

    def formats(model: str, field: str) -> set[str]:
        prop = schemas[model]["properties"][field]
        return {o["format"] for o in prop.get("anyOf", [prop]) if "format" in o}

    for model in ("OpenConsultation", "ConsultationDetail"):
        assert formats(model, "requested_at") == formats(model, "due") == {"date-time"}
        assert formats(model, "due_date") == {"date"}
        assert "due_date" in schemas[model]["required"]
        assert "Stockholm" in schemas[model]["properties"]["due_date"]["description"]
    assert formats("OpenConsultation", "acknowledged_at") == {"date-time"}
    assert formats("ConsultationDetail", "target") == {"date-time"}
    assert "due_date" in openapi_document()["info"]["description"]


def test_the_integrators_guide_names_every_route_error_and_code_of_the_document() -> None:
    from pathlib import Path
    from typing import get_args

    from gateway.models import ErrorCode, ErrorWord

    guide = (Path(__file__).resolve().parents[2] / "docs" / "agencies.md").read_text()
    document = openapi_document()

    for path, operations in document["paths"].items():
        for method in operations:
            route = f"{method.upper()} {path.replace('{consultation_id}', '{id}')}"
            assert route in guide, route
    for word in (*get_args(ErrorWord), *get_args(ErrorCode)):
        assert f"`{word}`" in guide, word
    assert "`due_date`" in guide and "Retry-After" in guide and "docs/legal.md" in guide
