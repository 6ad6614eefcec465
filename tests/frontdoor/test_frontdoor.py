"""The front door before a real dev server: Temporal's Python client, and raw gRPC where the
client cannot say it, get what Temporal's own authorizer would give them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

import grpc
import pytest
from structlog.testing import capture_logs
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    GetClusterInfoRequest,
    GetSystemInfoRequest,
    GetSystemInfoResponse,
    ListNamespacesRequest,
    ListWorkflowExecutionsRequest,
)
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from tests.frontdoor.conftest import ESKILSTUNA, MALMO, Door
from tests.oidc_issuer import ISSUER
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

WS = "/temporal.api.workflowservice.v1.WorkflowService/"


async def _started(client: Client) -> str:
    """A workflow id, started in the client's namespace with no worker (it waits)."""
    workflow_id = f"case-{uuid.uuid4().hex[:10]}"
    await client.start_workflow("CaseWorkflow", id=workflow_id, task_queue="frontdoor-test")
    return workflow_id


async def _ids(client: Client) -> set[str]:
    return {execution.id async for execution in client.list_workflows()}


async def _listed(client: Client, workflow_id: str) -> None:
    """Wait until the list (eventually consistent visibility) shows ``workflow_id``."""

    async def shown() -> bool:
        return workflow_id in await _ids(client)

    await eventually(shown, seconds=10)


async def _refusal(call: Awaitable[object]) -> tuple[RPCStatusCode, str]:
    with pytest.raises(RPCError) as refused:
        await call
    return refused.value.status, refused.value.message


DENIED = (RPCStatusCode.PERMISSION_DENIED, "Request unauthorized.")


async def test_a_malmo_reader_lists_malmos_cases_and_is_refused_eskilstunas(door: Door) -> None:
    malmo_case = await _started(await door.direct(MALMO))
    eskilstuna_case = await _started(await door.direct(ESKILSTUNA))
    token = ISSUER.token([f"{MALMO}:read"], subject="malmo-handlaggare")

    malmo = await door.client(token, MALMO)
    eskilstuna = await door.client(token, ESKILSTUNA)

    await _listed(malmo, malmo_case)
    assert eskilstuna_case not in await _ids(malmo)
    assert (await malmo.get_workflow_handle(malmo_case).describe()).id == malmo_case
    assert await _refusal(_ids(eskilstuna)) == DENIED
    assert await _refusal(eskilstuna.get_workflow_handle(eskilstuna_case).describe()) == DENIED
    assert await _refusal(_started(eskilstuna)) == DENIED


async def test_a_reader_cannot_start_a_case_in_its_own_namespace_and_a_writer_can(
    door: Door,
) -> None:
    reader = await door.client(ISSUER.token([f"{MALMO}:read"]), MALMO)
    writer = await door.client(ISSUER.token([f"{MALMO}:write"]), MALMO)

    assert await _refusal(_started(reader)) == DENIED
    started = await _started(writer)
    await _listed(await door.direct(MALMO), started)


async def test_temporals_typed_errors_come_back_through_the_door(door: Door) -> None:
    writer = await door.client(ISSUER.token([f"{MALMO}:write"]), MALMO)
    workflow_id = await _started(writer)

    with pytest.raises(WorkflowAlreadyStartedError):
        await writer.start_workflow("CaseWorkflow", id=workflow_id, task_queue="frontdoor-test")


async def test_a_system_admin_may_everything(door: Door) -> None:
    token = ISSUER.token(["temporal-system:admin"], subject="region-admin")
    for namespace in (MALMO, ESKILSTUNA):
        client = await door.client(token, namespace)
        started = await _started(client)
        await _listed(client, started)
        await client.get_workflow_handle(started).terminate("front door test")
    namespaces = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    assert {MALMO, ESKILSTUNA} <= {n.namespace_info.name for n in namespaces.namespaces}
    await client.workflow_service.get_cluster_info(GetClusterInfoRequest())
    await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=ESKILSTUNA)
    )


async def test_listing_namespaces_is_for_system_readers_only(door: Door) -> None:
    admin_of_malmo = await door.client(ISSUER.token([f"{MALMO}:admin"]), MALMO)
    system_reader = await door.client(ISSUER.token(["temporal-system:read"]), MALMO)

    assert (
        await _refusal(admin_of_malmo.workflow_service.list_namespaces(ListNamespacesRequest()))
        == DENIED
    )
    assert await system_reader.workflow_service.list_namespaces(ListNamespacesRequest())
    assert await _refusal(_started(system_reader)) == DENIED


async def test_a_client_without_a_token_connects_but_may_not_list(door: Door) -> None:
    anonymous = await door.client(None, MALMO)  # connecting is a health check: allowed

    status, message = await _refusal(_ids(anonymous))
    assert status is RPCStatusCode.UNAUTHENTICATED
    assert message == "Missing or invalid bearer token."


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        f"Bearer {ISSUER.token([f'{MALMO}:read'], expires_in=-3600)}",
        f"Bearer {ISSUER.token([f'{MALMO}:read'], issuer='https://sso.elsewhere.test/realms/x')}",
        f"Bearer {ISSUER.token([f'{MALMO}:read'], audience='some-other-app')}",
    ],
    ids=["none", "garbage", "basic", "expired", "wrong-issuer", "wrong-audience"],
)
async def test_calls_without_a_valid_token_are_unauthenticated_and_never_echo_it(
    door: Door, authorization: str | None
) -> None:
    metadata = (("authorization", authorization),) if authorization else ()
    async with grpc.aio.insecure_channel(door.address) as channel:
        with capture_logs() as logs, pytest.raises(grpc.aio.AioRpcError) as refused:
            await channel.unary_unary(WS + "ListWorkflowExecutions")(
                ListWorkflowExecutionsRequest(namespace=MALMO).SerializeToString(),
                metadata=metadata,
                timeout=10,
            )

    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.details() == "Missing or invalid bearer token."
    assert [(e["event"], e["namespace"], e["code"]) for e in logs] == [
        ("frontdoor.denied", MALMO, "UNAUTHENTICATED")
    ]
    if authorization:
        token = authorization.split()[-1]
        assert token not in repr(logs) and token not in (refused.value.debug_error_string())


async def test_a_refused_call_logs_who_what_where_and_why_but_no_token(door: Door) -> None:
    token = ISSUER.token([f"{MALMO}:read"], subject="malmo-handlaggare")
    eskilstuna = await door.client(token, ESKILSTUNA)

    with capture_logs() as logs:
        await _refusal(_ids(eskilstuna))

    assert logs == [
        {
            "event": "frontdoor.denied",
            "log_level": "info",
            "subject": "malmo-handlaggare",
            "method": WS + "ListWorkflowExecutions",
            "namespace": ESKILSTUNA,
            "reason": "forbidden",
            "code": "PERMISSION_DENIED",
        }
    ]


async def test_health_checks_pass_without_a_token_and_unknown_or_streaming_methods_never_pass(
    door: Door,
) -> None:
    admin = (("authorization", f"Bearer {ISSUER.token(['temporal-system:admin'])}"),)
    async with grpc.aio.insecure_channel(door.address) as channel:
        info = await channel.unary_unary(WS + "GetSystemInfo")(
            GetSystemInfoRequest().SerializeToString(), timeout=10
        )
        health = await channel.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=10)
        refused = []
        for method in (WS + "NoSuchMethod", "/grpc.reflection.v1alpha.ServerReflection/X"):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await channel.unary_unary(method)(b"", metadata=admin, timeout=10)
            refused.append(error.value.code())
        with pytest.raises(grpc.aio.AioRpcError) as watched:
            async for _ in channel.unary_stream("/grpc.health.v1.Health/Watch")(
                b"", metadata=admin, timeout=10
            ):
                pass

    assert GetSystemInfoResponse.FromString(info).server_version
    assert health == b"\x08\x01"  # HealthCheckResponse{status: SERVING}
    assert refused == [grpc.StatusCode.PERMISSION_DENIED] * 2
    assert watched.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_worker_role_alone_is_refused_even_its_own_namespace(door: Door) -> None:
    worker = await door.client(ISSUER.token([f"{MALMO}:worker"]), MALMO)

    assert await _refusal(_ids(worker)) == DENIED
