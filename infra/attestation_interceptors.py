"""The two ends of an agency attestation (`infra.attestation`) as Temporal interceptors.

- `AgencyAttestingInterceptor` (client): on ``acknowledge``, ``answer`` and ``decline`` it
  gives the update an id if it has none and adds header `HEADER`, signing the agency of the
  command it sends (``args[0].agency``). Only the agency gateway's client has it
  (`attesting`), and the tests' clients, so that they take the gateway's path.
- `AgencyAttestationCheck` (worker): on `CONSULTATION_WORKFLOW` its update *validator*
  interceptor refuses those three updates unless the header verifies for this namespace,
  workflow id, update name, update id and the agency the command names. It runs before the
  workflow's own validator, so a forger learns nothing about the consultation. A worker
  without keys refuses every agency update.

The refusal is an `ApplicationError` of type ``Unauthenticated`` ("unauthenticated: …", the
project's one-line form). It is not ``Rejected``: the gateway maps ``Rejected`` codes to
answers for the agency (422/409), while a gateway whose own update is refused has a key
that does not match the workers', a server fault the agency cannot correct (the gateway
answers 503 and logs it).

Why this changes no history and needs no ``workflow.patched``: in temporalio 1.35's
``worker/_workflow_instance.py``, ``_apply_do_update`` calls
``self._inbound.handle_update_validator(...)`` only under
``if job.run_validator and defn.validator is not None``. Core sets ``run_validator`` false
when it replays an update (the validator already ran when the update was first accepted;
"run_validator" in ``bridge/proto/workflow_activation``), so replay never runs this check,
and a consultation's three agency updates all have validators, so on a live task it always
runs. An exception there, before ``past_validation``, becomes ``update_response.rejected``:
the update is rejected and nothing is written to history (no UpdateAccepted event). No
workflow command is added or reordered; the histories in tests/histories replay unchanged.

The sandbox: the worker calls `AgencyAttestationCheck.workflow_interceptor_class` outside
the sandbox and hands the returned class object (with the keys bound as a class attribute)
to each workflow instance, which instantiates it inside the sandbox without importing this
module again. The keys therefore come from the worker process (its settings), never from an
environment read in workflow code; ``hmac`` and ``hashlib`` run as this module imported them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowUpdateInput,
    WorkflowUpdateHandle,
)
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    HandleUpdateInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)
from temporalio.worker import Interceptor as WorkerInterceptor

from infra.attestation import (
    AGENCY_UPDATES,
    HEADER,
    KEYS_ENV,
    Attestation,
    AttestationKeys,
    MalformedAttestation,
    Subject,
)

#: The workflow type whose agency updates need an attestation.
CONSULTATION_WORKFLOW = "ConsultationWorkflow"
#: The refusal's `ApplicationError` type.
UNAUTHENTICATED = "Unauthenticated"

_ENCODING = b"json/plain"


def command_agency(command: object) -> str | None:
    """The agency an agency update's command names (a model's or a mapping's ``agency``,
    an enum's value), or None."""
    agency = (
        command.get("agency") if isinstance(command, Mapping) else getattr(command, "agency", None)
    )
    agency = getattr(agency, "value", agency)
    return agency if isinstance(agency, str) else None


def header_payload(attestation: Attestation) -> Payload:
    """The header payload of ``attestation`` (plain JSON; headers bypass the payload codec)."""
    return Payload(metadata={"encoding": _ENCODING}, data=attestation.encode())


# -- client: the gateway signs ---------------------------------------------------------------


class AgencyAttestingInterceptor(Interceptor):
    """Adds the attestation header to the agency updates a client sends in ``namespace``."""

    def __init__(self, keys: AttestationKeys, *, namespace: str) -> None:
        self._keys = keys
        self._namespace = namespace

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _AttestingOutbound(next, keys=self._keys, namespace=self._namespace)


class _AttestingOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, *, keys: AttestationKeys, namespace: str) -> None:
        super().__init__(next)
        self._keys = keys
        self._namespace = namespace

    async def start_workflow_update(
        self, input: StartWorkflowUpdateInput
    ) -> WorkflowUpdateHandle[Any]:
        agency = command_agency(input.args[0]) if input.args else None
        if input.update in AGENCY_UPDATES and agency is not None:
            # The MAC binds the update id, so it must be fixed here, not by the SDK later.
            input.update_id = input.update_id or str(uuid.uuid4())
            attestation = self._keys.sign(
                Subject(
                    namespace=self._namespace,
                    workflow_id=input.id,
                    update_name=input.update,
                    update_id=input.update_id,
                    agency=agency,
                )
            )
            input.headers = {**input.headers, HEADER: header_payload(attestation)}
        return await self.next.start_workflow_update(input)


def attesting(client: Client, keys: AttestationKeys) -> Client:
    """``client`` (same connection, converter and interceptors) signing agency updates in its
    namespace."""
    config = client.config()
    config["interceptors"] = [
        *config["interceptors"],
        AgencyAttestingInterceptor(keys, namespace=client.namespace),
    ]
    return Client(**config)


# -- worker: the consultation checks ---------------------------------------------------------


class AgencyAttestationCheck(WorkerInterceptor):
    """Refuses a consultation's agency updates without a valid attestation.

    ``keys`` None: every agency update is refused (a worker configured without keys).
    ``workflow_types``: the workflow types checked (tests add their stand-ins).
    """

    def __init__(
        self,
        keys: AttestationKeys | None,
        *,
        workflow_types: frozenset[str] = frozenset({CONSULTATION_WORKFLOW}),
    ) -> None:
        self._inbound = type(
            "_AttestationCheckInbound",
            (_AttestationCheckInbound,),
            {"keys": keys, "workflow_types": workflow_types},
        )

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return self._inbound


def _unauthenticated(why: str) -> ApplicationError:
    return ApplicationError(
        f"unauthenticated: {why}; agency updates are accepted only through the agency gateway",
        type=UNAUTHENTICATED,
        non_retryable=True,
    )


class _AttestationCheckInbound(WorkflowInboundInterceptor):
    keys: ClassVar[AttestationKeys | None] = None
    workflow_types: ClassVar[frozenset[str]] = frozenset({CONSULTATION_WORKFLOW})

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        if input.update in AGENCY_UPDATES:
            info = workflow.info()
            if info.workflow_type in self.workflow_types:
                self._check(input, namespace=info.namespace, workflow_id=info.workflow_id)
        super().handle_update_validator(input)

    def _check(self, input: HandleUpdateInput, *, namespace: str, workflow_id: str) -> None:
        if self.keys is None:
            raise _unauthenticated(f"this worker has no attestation keys ({KEYS_ENV})")
        payload = input.headers.get(HEADER)
        if payload is None:
            raise _unauthenticated("no agency attestation")
        try:
            attestation = Attestation.decode(payload.data)
        except MalformedAttestation:
            raise _unauthenticated("malformed agency attestation") from None
        agency = command_agency(input.args[0]) if input.args else None
        subject = Subject(
            namespace=namespace,
            workflow_id=workflow_id,
            update_name=input.update,
            update_id=input.id,
            agency=agency or "",
        )
        if agency is None or not self.keys.verify(attestation, subject):
            raise _unauthenticated("the agency attestation does not verify for this update")
