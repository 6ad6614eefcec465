"""The front door's rules are Temporal's default authorizer and claim mapper: checked method by
method against the SDK's service descriptors, and role by role, without a server."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FieldDescriptor
from temporalio.api.command.v1 import (
    Command,
    SignalExternalWorkflowExecutionCommandAttributes,
    StartChildWorkflowExecutionCommandAttributes,
)
from temporalio.api.enums.v1 import CommandType
from temporalio.api.operatorservice.v1 import service_pb2 as operator_service
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest
from temporalio.api.workflowservice.v1 import service_pb2 as workflow_service

from gateway.oidc import Principal, parse_permissions
from samverkan.frontdoor import REQUEST_CLASSES
from samverkan.temporal_authorizer import (
    HEALTH_CHECKS,
    METHODS,
    Claims,
    Role,
    Scope,
    cross_namespace_targets,
    is_allowed,
    method_metadata,
)

MALMO, ESKILSTUNA = "samverkan-malmo", "samverkan-eskilstuna"
WS = "/temporal.api.workflowservice.v1.WorkflowService/"
OS = "/temporal.api.operatorservice.v1.OperatorService/"
SERVICES = [
    (workflow_service, "WorkflowService"),
    (operator_service, "OperatorService"),
]


def _methods():  # type: ignore[no-untyped-def]
    for module, name in SERVICES:
        service = module.DESCRIPTOR.services_by_name[name]
        for method in service.methods:
            yield f"/{service.full_name}/{method.name}", method


def claims(*permissions: str) -> Claims:
    return Claims.from_permissions("operator-1", parse_permissions(list(permissions)))


def test_every_method_of_the_sdks_services_has_a_scope_and_access() -> None:
    """A new temporalio with new methods fails here instead of silently denying them."""
    missing = [full for full, _ in _methods() if full not in METHODS]
    stale = sorted(set(METHODS) - {full for full, _ in _methods()})

    assert missing == []
    assert stale == []
    assert len(METHODS) == 135  # 123 WorkflowService + 12 OperatorService (server 1.32.0)


def test_the_services_have_no_streaming_methods() -> None:
    streaming = [full for full, m in _methods() if m.client_streaming or m.server_streaming]
    assert streaming == []


def test_namespace_scoped_requests_carry_a_namespace_and_cluster_scoped_ones_do_not() -> None:
    for full, method in _methods():
        scope, _ = METHODS[full]
        field = method.input_type.fields_by_name.get("namespace")
        if scope is Scope.NAMESPACE:
            assert field is not None and field.type == FieldDescriptor.TYPE_STRING, full
            assert REQUEST_CLASSES[full].DESCRIPTOR is method.input_type, full
        else:
            assert field is None, full


@pytest.mark.parametrize(
    ("method", "scope", "access"),
    [
        ("ListWorkflowExecutions", "namespace", "read"),
        ("DescribeWorkflowExecution", "namespace", "read"),
        ("StartWorkflowExecution", "namespace", "write"),
        ("PollWorkflowTaskQueue", "namespace", "write"),
        ("UpdateNamespace", "namespace", "admin"),
        ("ListNamespaces", "cluster", "read"),
        ("GetClusterInfo", "cluster", "read"),
        ("GetSearchAttributes", "cluster", "read"),
    ],
)
def test_the_table_says_what_temporals_metadata_go_says(
    method: str, scope: str, access: str
) -> None:
    found = method_metadata(WS + method)
    assert found is not None
    assert (found[0].value, found[1].value) == (scope, access)


def test_a_reader_reads_only_its_own_namespace_and_writes_nothing() -> None:
    reader = claims(f"{MALMO}:read")

    assert is_allowed(reader, WS + "ListWorkflowExecutions", MALMO)
    assert is_allowed(reader, WS + "DescribeNamespace", MALMO)
    assert not is_allowed(reader, WS + "ListWorkflowExecutions", ESKILSTUNA)
    assert not is_allowed(reader, WS + "StartWorkflowExecution", MALMO)
    assert not is_allowed(reader, WS + "ListNamespaces", "")


def test_a_writer_writes_its_namespace_and_an_admin_administers_it() -> None:
    writer = claims(f"{MALMO}:write")
    admin = claims(f"{MALMO}:admin")

    assert is_allowed(writer, WS + "SignalWorkflowExecution", MALMO)
    assert is_allowed(writer, WS + "ListWorkflowExecutions", MALMO)
    assert not is_allowed(writer, OS + "AddSearchAttributes", MALMO)
    assert is_allowed(admin, OS + "AddSearchAttributes", MALMO)
    assert not is_allowed(admin, OS + "AddSearchAttributes", ESKILSTUNA)
    assert not is_allowed(admin, OS + "ListClusters", "")


def test_the_worker_role_alone_passes_nothing_as_temporal_compares_role_bits_as_numbers() -> None:
    worker = claims(f"{MALMO}:worker")
    reader_and_worker = claims(f"{MALMO}:read", f"{MALMO}:worker")

    assert worker.namespaces[MALMO] == Role.WORKER
    assert not is_allowed(worker, WS + "PollWorkflowTaskQueue", MALMO)
    assert not is_allowed(worker, WS + "ListWorkflowExecutions", MALMO)
    assert is_allowed(reader_and_worker, WS + "ListWorkflowExecutions", MALMO)
    assert not is_allowed(reader_and_worker, WS + "PollWorkflowTaskQueue", MALMO)


def test_temporal_system_roles_are_system_roles_over_every_namespace_and_the_cluster() -> None:
    system_reader = claims("temporal-system:read")
    system_admin = claims("temporal-system:admin")

    assert system_reader.system == Role.READER and system_reader.namespaces == {}
    assert is_allowed(system_reader, WS + "ListWorkflowExecutions", ESKILSTUNA)
    assert is_allowed(system_reader, WS + "ListNamespaces", "")
    assert not is_allowed(system_reader, WS + "StartWorkflowExecution", ESKILSTUNA)
    for full in METHODS:
        assert is_allowed(system_admin, full, ESKILSTUNA), full
    assert is_allowed(system_admin, "/temporal.server.api.adminservice.v1.AdminService/X", "")


def test_health_checks_need_no_token_and_unknown_methods_are_denied_to_everyone() -> None:
    system_admin = claims("temporal-system:admin")

    assert {"/grpc.health.v1.Health/Check", WS + "GetSystemInfo"} == HEALTH_CHECKS
    for method in HEALTH_CHECKS:
        assert is_allowed(None, method, "")
    assert not is_allowed(None, WS + "ListWorkflowExecutions", MALMO)
    assert not is_allowed(system_admin, "/grpc.health.v1.Health/Watch", "")
    assert not is_allowed(system_admin, WS + "NoSuchMethod", MALMO)
    assert not is_allowed(
        claims(f"{MALMO}:admin"), "/temporal.server.api.adminservice.v1.AdminService/X", MALMO
    )


def test_the_codec_principal_does_not_read_temporal_system_as_a_namespace_grant() -> None:
    roles = parse_permissions(["temporal-system:admin"])
    codec_user = Principal(subject="operator-1", roles=roles)

    assert not codec_user.may(MALMO, "decode")
    assert claims("temporal-system:admin").system == Role.ADMIN


def test_commands_reaching_another_namespace_need_the_right_there_too() -> None:
    request = RespondWorkflowTaskCompletedRequest(
        namespace=MALMO,
        commands=[
            Command(
                command_type=CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION,
                signal_external_workflow_execution_command_attributes=(
                    SignalExternalWorkflowExecutionCommandAttributes(namespace=ESKILSTUNA)
                ),
            ),
            Command(
                command_type=CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION,
                start_child_workflow_execution_command_attributes=(
                    StartChildWorkflowExecutionCommandAttributes(namespace=MALMO)
                ),
            ),
        ],
    )

    assert cross_namespace_targets(request) == {(WS + "SignalWorkflowExecution", ESKILSTUNA)}
