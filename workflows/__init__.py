"""Deterministic orchestration of each case on Temporal (DESIGN §3).

`CaseWorkflow` follows one report of concern from receipt to closing; each consultation of
another agency is a `ConsultationWorkflow`. Workflows hold timers, waits and message
handlers; they decide with `cases.decide`, fold with `cases.apply`, and leave every I/O to
activities. Nothing here reads a clock, the environment or the network.
"""

from workflows.case import CaseWorkflow
from workflows.consultation import ConsultationWorkflow

WORKFLOWS = (CaseWorkflow, ConsultationWorkflow)

__all__ = ["WORKFLOWS", "CaseWorkflow", "ConsultationWorkflow"]
