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

The instance class it extends is private to the SDK, so `workflow_runner` uses it only on
the ``temporalio`` version it was checked against (`CHECKED_TEMPORALIO_VERSION`, pinned in
requirements.lock): on any other version, or when the private class cannot be imported, it
logs one warning line and returns the stock `SandboxedWorkflowRunner` (the same contexts,
slower). tests/shell/test_sandbox.py checks that both runners give the same contexts for
every kind of command; after an SDK upgrade, run it and move the constant.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
from typing import TYPE_CHECKING, Any

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

if TYPE_CHECKING:
    from temporalio.worker.workflow_sandbox._runner import _Instance

_log = logging.getLogger(__name__)

#: The ``temporalio`` version `DirectContextRunner` was checked against.
CHECKED_TEMPORALIO_VERSION = "1.35.0"

_IN_SANDBOX = "__temporal_in_sandbox"


@functools.cache
def _direct_instance_class() -> type[_Instance] | None:
    """The SDK's sandboxed instance answering context questions without ``exec``; None when
    the SDK's private ``_Instance`` is not where it was."""
    try:
        from temporalio.worker.workflow_sandbox._runner import _Instance
    except ImportError:
        return None

    class _DirectContextInstance(_Instance):
        """A sandboxed workflow instance that answers context questions without ``exec``."""

        def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
            if self.globals_and_locals.get(_IN_SANDBOX) is None:  # not created yet: SDK's way
                return super().get_serialization_context(command_info)
            context: SerializationContext | None = self._ask(
                "get_serialization_context", command_info
            )
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

    return _DirectContextInstance


class DirectContextRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner` whose instances answer context questions directly."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        """Implements `WorkflowRunner.create_instance`."""
        instance_class = _direct_instance_class()
        if instance_class is None:
            raise RuntimeError("this temporalio has no private _Instance: use workflow_runner()")
        return instance_class(det, self.runner_class, self.restrictions)


def _why_not_direct() -> str | None:
    """Why `DirectContextRunner` must not be used here, or None when it may."""
    try:
        installed = importlib.metadata.version("temporalio")
    except importlib.metadata.PackageNotFoundError:
        installed = "unknown"
    if installed != CHECKED_TEMPORALIO_VERSION:
        return (
            f"temporalio {installed} is not {CHECKED_TEMPORALIO_VERSION}, "
            "the version DirectContextRunner was checked against"
        )
    if _direct_instance_class() is None:
        return f"temporalio {installed} has no private sandbox _Instance to extend"
    return None


#: Our own pure modules are imported once, outside the sandbox (docs/design.md, "Workflows").
PASSTHROUGH_MODULES = ("cases", "workflows", "activities", "infra", "holidays", "pydantic")


def workflow_runner(*more_passthrough: str) -> SandboxedWorkflowRunner:
    """The sandbox with Samverkan's pure modules (and ``more_passthrough``) passed through,
    answering the SDK's per-payload context questions directly (`DirectContextRunner`) on
    the checked ``temporalio`` version, else the stock runner and one warning line."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        *PASSTHROUGH_MODULES, *more_passthrough
    )
    reason = _why_not_direct()
    if reason is None:
        return DirectContextRunner(restrictions=restrictions)
    _log.warning(
        "workflow sandbox: the stock SandboxedWorkflowRunner (slower payload contexts): %s",
        reason,
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)
