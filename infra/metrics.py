"""Prometheus metrics through Temporal's own runtime, and the optional tracing switch.

No new dependency: the Temporal SDK's Rust core serves ``/metrics`` on the address given
to `runtime_with_metrics`, next to its own ``temporal_*`` series (pollers, task latencies,
failures). Samverkan's domain series are recorded through a `temporalio.common.MetricMeter`:

- in a workflow: ``workflow.metric_meter()`` (records nothing while replaying, so a replayed
  history never counts twice);
- in an activity: ``activity.metric_meter()``;
- anywhere else (gateway, projector): ``runtime.metric_meter``.

Labels never carry personal data or case numbers (DESIGN §6). Every helper checks its
labels against an allow-list of keys per metric and a rule per key; anything else raises
`ForbiddenMetricLabel` before a single sample is written. Identifiers (case numbers,
workflow ids, personal identity numbers, dates) have long digit runs and mixed case, so
a value that is not a known enum member must be short lowercase ``snake_case`` without
a run of three or more digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from cases import Agency, CaseStateName, ConsultationOutcomeKind, DeadlineKind

if TYPE_CHECKING:
    from temporalio.client import Interceptor

#: Port of the Prometheus endpoint in the deployment files (worker, gateway, projector).
METRICS_PORT: Final = 9464

# -- domain metric names ----------------------------------------------------------------------

CASE_TRANSITIONS: Final = "samverkan_case_transitions"
"""Counter: a case moved from one state to another (``from_state``, ``to_state``)."""
CASES_BY_STATE: Final = "samverkan_cases_by_state"
"""Gauge: open cases per state, from the ``case_summary`` projection (``state``)."""
DEADLINES_BREACHED: Final = "samverkan_deadlines_breached"
"""Counter: a deadline passed its legal latest instant unmet (``kind``)."""
ESCALATIONS: Final = "samverkan_escalations"
"""Counter: an escalation rung fired (``kind`` of deadline, ``rung`` name from the policy)."""
CONSULTATION_ANSWER_SECONDS: Final = "samverkan_consultation_answer_seconds"
"""Histogram: seconds from a consultation's request to its end (``agency``, ``outcome``)."""
PROJECTION_LAG_EVENTS: Final = "samverkan_projection_lag_events"
"""Gauge: events a projection has not applied yet (``projection``)."""
GATEWAY_REQUESTS: Final = "samverkan_gateway_requests"
"""Counter: gateway HTTP requests (``agency``, ``route`` template, ``status`` code)."""

DOMAIN_METRICS: Final[tuple[str, ...]] = (
    CASE_TRANSITIONS,
    CASES_BY_STATE,
    DEADLINES_BREACHED,
    ESCALATIONS,
    CONSULTATION_ANSWER_SECONDS,
    PROJECTION_LAG_EVENTS,
    GATEWAY_REQUESTS,
)

#: Temporal SDK series (core, default ``temporal_`` prefix) the dashboard and alerts use.
#: The tests scrape a real worker and find each of them.
SDK_METRICS: Final[tuple[str, ...]] = (
    "temporal_num_pollers",
    "temporal_request",
    "temporal_long_request",
    "temporal_workflow_completed",
    "temporal_workflow_task_execution_failed",
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_workflow_task_execution_latency",
    "temporal_activity_execution_failed",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_sticky_cache_size",
    "temporal_worker_task_slots_available",
)

#: Answer times are days, not the core's default millisecond buckets: 1 h … 30 days.
ANSWER_TIME_BUCKETS: Final[tuple[float, ...]] = tuple(
    float(hours * 3600) for hours in (1, 4, 8, 24, 48, 72, 120, 168, 240, 336, 504, 720)
)

# -- label rules -------------------------------------------------------------------------------

_SNAKE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ROUTE = re.compile(r"^/[a-z0-9_/{}.-]{0,99}$")
_STATUS = re.compile(r"^[1-5][0-9]{2}$")
_DIGIT_RUN = re.compile(r"[0-9]{3,}")

UNAUTHENTICATED: Final = "unauthenticated"
"""The ``agency`` label of a gateway request whose caller could not be identified."""

_STATES = frozenset(s.value for s in CaseStateName)
_AGENCIES = frozenset(a.value for a in Agency)
_KINDS = frozenset(k.value for k in DeadlineKind)
_OUTCOMES = frozenset(o.value for o in ConsultationOutcomeKind)

_ENUMERATED: Final[Mapping[str, frozenset[str]]] = {
    "state": _STATES,
    "from_state": _STATES,
    "to_state": _STATES,
    "kind": _KINDS,
    "outcome": _OUTCOMES,
}

#: The only label keys each domain metric may carry.
ALLOWED_LABELS: Final[Mapping[str, frozenset[str]]] = {
    CASE_TRANSITIONS: frozenset({"from_state", "to_state"}),
    CASES_BY_STATE: frozenset({"state"}),
    DEADLINES_BREACHED: frozenset({"kind"}),
    ESCALATIONS: frozenset({"kind", "rung"}),
    CONSULTATION_ANSWER_SECONDS: frozenset({"agency", "outcome"}),
    PROJECTION_LAG_EVENTS: frozenset({"projection"}),
    GATEWAY_REQUESTS: frozenset({"agency", "route", "status"}),
}


class ForbiddenMetricLabel(ValueError):
    """A label key or value that could carry personal data, a case number or unbounded values."""


def _check_value(metric: str, key: str, value: str) -> None:
    if key in _ENUMERATED:
        ok = value in _ENUMERATED[key]
    elif key == "agency":
        ok = value in _AGENCIES or (metric == GATEWAY_REQUESTS and value == UNAUTHENTICATED)
    elif key == "status":
        ok = bool(_STATUS.match(value))
    elif key == "route":
        ok = bool(_ROUTE.match(value)) and not _DIGIT_RUN.search(value)
    else:  # rung, projection: names from policy or code
        ok = bool(_SNAKE.match(value)) and not _DIGIT_RUN.search(value)
    if not ok:
        # The value itself is left out of the message: it may be the very thing we guard.
        raise ForbiddenMetricLabel(
            f"metric {metric}: label {key!r} has a value that is not allowed "
            f"({len(value)} characters); labels take enum members or short snake_case names"
        )


def checked_labels(metric: str, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels for ``metric`` if every key is allowed for it and every value passes.

    Raises:
        ForbiddenMetricLabel: an unknown metric, a key outside the metric's allow-list or a
            value that could identify a person or a case.
    """
    allowed = ALLOWED_LABELS.get(metric)
    if allowed is None:
        raise ForbiddenMetricLabel(f"metric {metric!r} is not a Samverkan domain metric")
    extra = sorted(set(labels) - allowed)
    if extra:
        raise ForbiddenMetricLabel(
            f"metric {metric}: label keys {extra} are not allowed (allowed: {sorted(allowed)})"
        )
    missing = sorted(allowed - set(labels))
    if missing:
        raise ForbiddenMetricLabel(f"metric {metric}: label keys {missing} are missing")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise ForbiddenMetricLabel(f"metric {metric}: label {key!r} must be a string")
        _check_value(metric, key, value)
    return dict(labels)


def _value(item: object) -> str:
    """Enum members by value, everything else as given (then checked)."""
    raw = getattr(item, "value", item)
    return raw if isinstance(raw, str) else str(raw)


# -- recording helpers -------------------------------------------------------------------------


def record_case_transition(meter: MetricMeter, *, from_state: object, to_state: object) -> None:
    """Count one state change of a case (in the workflow: ``workflow.metric_meter()``)."""
    labels = checked_labels(
        CASE_TRANSITIONS, {"from_state": _value(from_state), "to_state": _value(to_state)}
    )
    meter.create_counter(CASE_TRANSITIONS, "Case state transitions").add(1, labels)


def set_cases_by_state(meter: MetricMeter, counts: Mapping[object, int]) -> None:
    """Set the open-case gauge for every state; states missing from ``counts`` are set to 0."""
    gauge = meter.create_gauge(CASES_BY_STATE, "Cases per state (case_summary projection)")
    given = {_value(state): count for state, count in counts.items()}
    for state in sorted(_STATES | set(given)):
        gauge.set(given.get(state, 0), checked_labels(CASES_BY_STATE, {"state": state}))


def record_deadline_breached(meter: MetricMeter, *, kind: object) -> None:
    """Count a deadline that passed its legal latest instant unmet."""
    labels = checked_labels(DEADLINES_BREACHED, {"kind": _value(kind)})
    meter.create_counter(DEADLINES_BREACHED, "Deadlines breached").add(1, labels)


def record_escalation(meter: MetricMeter, *, kind: object, rung: str) -> None:
    """Count an escalation rung that fired (``rung`` is the policy's rung name)."""
    labels = checked_labels(ESCALATIONS, {"kind": _value(kind), "rung": rung})
    meter.create_counter(ESCALATIONS, "Escalation rungs raised").add(1, labels)


def record_consultation_answer_time(
    meter: MetricMeter, *, agency: object, outcome: object, elapsed: timedelta | float
) -> None:
    """Record how long a consultation took from request to its end, in seconds."""
    seconds = elapsed.total_seconds() if isinstance(elapsed, timedelta) else float(elapsed)
    if seconds < 0:
        raise ValueError("a consultation cannot end before it was requested")
    labels = checked_labels(
        CONSULTATION_ANSWER_SECONDS, {"agency": _value(agency), "outcome": _value(outcome)}
    )
    meter.create_histogram_float(
        CONSULTATION_ANSWER_SECONDS, "Consultation time from request to end", "s"
    ).record(seconds, labels)


def set_projection_lag(meter: MetricMeter, *, projection: str, events: int) -> None:
    """Set how many events a projection has still to apply."""
    labels = checked_labels(PROJECTION_LAG_EVENTS, {"projection": projection})
    meter.create_gauge(PROJECTION_LAG_EVENTS, "Events not yet projected").set(events, labels)


def record_gateway_request(meter: MetricMeter, *, agency: object, route: str, status: int) -> None:
    """Count one gateway request; ``route`` is the route *template*, never the concrete path.

    Use `UNAUTHENTICATED` as ``agency`` when the caller could not be identified (401).
    """
    labels = checked_labels(
        GATEWAY_REQUESTS, {"agency": _value(agency), "route": route, "status": str(status)}
    )
    meter.create_counter(GATEWAY_REQUESTS, "Gateway HTTP requests").add(1, labels)


# -- runtime -----------------------------------------------------------------------------------


class MetricsConfigError(ValueError):
    """The metrics endpoint cannot start: a malformed or taken address."""


_BUCKET_OVERRIDES: Final[Mapping[str, Sequence[float]]] = {
    CONSULTATION_ANSWER_SECONDS: ANSWER_TIME_BUCKETS
}


def runtime_with_metrics(bind_address: str | None) -> Runtime:
    """A Temporal runtime that serves Prometheus ``/metrics`` on ``bind_address`` (``host:port``).

    With ``None`` the SDK's default runtime (no endpoint) is returned. Create it once per
    process and pass it to ``Client.connect(runtime=...)``; its ``metric_meter`` records the
    process's own domain series. The endpoint closes when the runtime is garbage-collected:
    keep a reference for the process's lifetime (a client holding it is enough).

    Raises:
        MetricsConfigError: the address is malformed or already in use.
    """
    if bind_address is None:
        return Runtime.default()
    try:
        return Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=bind_address,
                    histogram_bucket_overrides=_BUCKET_OVERRIDES,
                )
            )
        )
    except ValueError as exc:
        raise MetricsConfigError(
            f"SAMVERKAN_METRICS_BIND={bind_address!r}: the metrics endpoint did not start ({exc})"
        ) from None


# -- tracing -----------------------------------------------------------------------------------


class TracingUnavailable(RuntimeError):
    """Tracing was switched on but ``opentelemetry-sdk`` is not installed."""


def tracing_interceptors(enabled: bool) -> list[Interceptor]:
    """Interceptors for ``Client.connect(interceptors=...)``: OpenTelemetry spans when enabled.

    The import happens only when tracing is on, so ``opentelemetry`` stays an optional
    install. The exporter (OTLP endpoint, service name) is configured the OpenTelemetry way,
    through ``OTEL_*`` environment variables and a tracer provider set up by the process.

    Raises:
        TracingUnavailable: ``enabled`` but the OpenTelemetry packages are missing.
    """
    if not enabled:
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        raise TracingUnavailable(
            "SAMVERKAN_TRACING is on but opentelemetry-sdk is not installed: "
            "pip install opentelemetry-sdk opentelemetry-exporter-otlp, or turn tracing off."
        ) from None
    return [TracingInterceptor()]
