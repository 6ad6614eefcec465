"""The workflow sandbox the worker and ``samverkan replay`` run workflows in.

It is the SDK's `SandboxedWorkflowRunner` with one change in how the worker asks a workflow
for the serialization context of a payload. Around every activation the SDK visits each
payload several times (decode, external storage, encode) and, for each visit, asks the
workflow instance which context applies (the workflow's own, an activity's, a child's or a
signalled workflow's: that decides the case key the codec encrypts with). The stock runner
answers by compiling and ``exec``-ing a code string under the sandbox's import hooks, once
per visit; with a payload codec that was about a quarter of the worker's event-loop time
(docs/benchmarks.md, benchmark 1). The two methods it runs there read the instance's pending
commands and build a context object; they import nothing, so the import hooks guard nothing
there, and `DirectContextRunner` calls them directly. Workflow code itself still runs in the
sandbox exactly as before.

The instance class it extends is private to the SDK (``temporalio`` is pinned in
requirements.lock); tests/shell/test_sandbox.py checks that both runners give the same
contexts for every kind of command, so an SDK upgrade that changes them fails there.
"""

from __future__ import annotations

from typing import Any

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance

_IN_SANDBOX = "__temporal_in_sandbox"


class _DirectContextInstance(_Instance):
    """A sandboxed workflow instance that answers context questions without ``exec``."""

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        if self.globals_and_locals.get(_IN_SANDBOX) is None:  # not created yet: the SDK's way
            return super().get_serialization_context(command_info)
        context: SerializationContext | None = self._ask("get_serialization_context", command_info)
        return context

    def get_external_store_context(self, command_info: Any) -> Any:
        if self.globals_and_locals.get(_IN_SANDBOX) is None:
            return super().get_external_store_context(command_info)
        return self._ask("get_external_store_context", command_info)

    def _ask(self, method: str, command_info: Any) -> Any:
        """Call the in-sandbox instance's ``method`` directly, as the SDK's ``exec`` would."""
        in_sandbox: Any = self.globals_and_locals[_IN_SANDBOX]
        self.importer.restriction_context.is_runtime = True
        try:
            return getattr(in_sandbox, method)(command_info)
        finally:
            self.importer.restriction_context.is_runtime = False


class DirectContextRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances answer context questions directly."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """Implements `WorkflowRunner.create_instance`."""
        return _DirectContextInstance(det, self.runner_class, self.restrictions)


#: Our own pure modules are imported once, outside the sandbox (docs/design.md, "Workflows").
PASSTHROUGH_MODULES = ("cases", "workflows", "activities", "infra", "holidays", "pydantic")


def workflow_runner(*more_passthrough: str) -> SandboxedWorkflowRunner:
    """The sandbox with Samverkan's pure modules (and ``more_passthrough``) passed through,
    answering the SDK's per-payload context questions directly (`DirectContextRunner`)."""
    return DirectContextRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            *PASSTHROUGH_MODULES, *more_passthrough
        )
    )
