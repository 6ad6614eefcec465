"""structlog, configured once for every Samverkan process.

JSON lines in production, a readable console in dev (``SAMVERKAN_LOG_FORMAT``:
``auto`` picks console on a terminal). Standard-library loggers — Temporal's
``temporalio.workflow`` and ``temporalio.activity`` among them — are routed through the
same processors, so a workflow's log line carries its workflow id, run id and activity
type as fields. Known personal-data keys are redacted as a second guard: the first guard
is never to log them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        "name",
        "personal_identity_number",
        "personnummer",
        "birth_date",
        "subject",
        "summary",
        "reasoning",
        "reasons",
        "questions",
        "answer",
        "information",
        "payload",
        "data",
        "harm_assessment",
        "statement",
        "necessity",
        "protective_intervention",
        "terrorism_purpose",
        "statutory_duty",
        "by_whom",
        "detail",
    }
)

_configured = False


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace the value of every known personal-data key with a marker."""
    for key in list(event_dict):
        if key in PERSONAL_KEYS:
            event_dict[key] = REDACTED
    return event_dict


def _temporal_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift the ``temporal_workflow`` / ``temporal_activity`` dicts Temporal attaches to records."""
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    workflow_info = getattr(record, "temporal_workflow", None)
    if isinstance(workflow_info, dict):
        event_dict.setdefault("workflow_id", workflow_info.get("workflow_id"))
        event_dict.setdefault("run_id", workflow_info.get("run_id"))
        event_dict.setdefault("workflow_type", workflow_info.get("workflow_type"))
    activity_info = getattr(record, "temporal_activity", None)
    if isinstance(activity_info, dict):
        event_dict.setdefault("workflow_id", activity_info.get("workflow_id"))
        event_dict.setdefault("run_id", activity_info.get("workflow_run_id"))
        event_dict.setdefault("activity_type", activity_info.get("activity_type"))
    return event_dict


def configure_logging(
    *, log_format: Literal["auto", "json", "console"] = "auto", level: str = "INFO"
) -> None:
    """Configure structlog and route the standard library's logging through it. Idempotent."""
    global _configured
    if _configured:
        return
    use_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_context,
        redact_personal_data,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if not use_console else _identity,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "asyncio", "pgserver", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def _identity(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return event_dict


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger bound to ``name``."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
