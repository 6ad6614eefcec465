"""Samverkan's domain metrics on a real Prometheus endpoint of Temporal's runtime."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.common import MetricMeter

from cases import Agency, CaseStateName, ConsultationOutcomeKind, DeadlineKind
from infra import metrics
from infra.metrics import ForbiddenMetricLabel, MetricsConfigError, runtime_with_metrics

from .scrape import free_loopback_address, scrape, series


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, MetricMeter]]:
    address = free_loopback_address()
    runtime = runtime_with_metrics(address)  # the endpoint lives as long as this object
    yield address, runtime.metric_meter
    del runtime


def test_every_domain_series_is_scraped_with_its_labels(endpoint):
    address, meter = endpoint
    metrics.record_case_transition(
        meter, from_state=CaseStateName.PRE_ASSESSMENT, to_state=CaseStateName.INVESTIGATION
    )
    metrics.set_cases_by_state(meter, {CaseStateName.INVESTIGATION: 7})
    metrics.record_deadline_breached(meter, kind=DeadlineKind.INVESTIGATION)
    metrics.record_escalation(meter, kind=DeadlineKind.CONSULTATION, rung="remind_agency")
    metrics.record_escalation(meter, kind=DeadlineKind.CONSULTATION, rung="remind_agency")
    metrics.record_consultation_answer_time(
        meter,
        agency=Agency.BUP,
        outcome=ConsultationOutcomeKind.ANSWERED,
        elapsed=timedelta(hours=30),
    )
    metrics.set_projection_lag(meter, projection="case_summary", events=12)
    metrics.set_projection_lag(meter, projection="case_summary", events=3)
    metrics.record_gateway_request(
        meter, agency=Agency.POLICE, route="/v1/consultations/{consultation_id}/answer", status=200
    )
    metrics.record_gateway_request(
        meter, agency=metrics.UNAUTHENTICATED, route="/v1/consultations", status=401
    )

    samples = scrape(address)

    [transition] = series(samples, metrics.CASE_TRANSITIONS, from_state="pre_assessment")
    assert transition.labels["to_state"] == "investigation" and transition.value == 1
    assert series(samples, metrics.CASES_BY_STATE, state="investigation")[0].value == 7
    assert series(samples, metrics.CASES_BY_STATE, state="closed")[0].value == 0
    assert len(series(samples, metrics.CASES_BY_STATE)) == len(CaseStateName)
    assert series(samples, metrics.DEADLINES_BREACHED, kind="investigation")[0].value == 1
    [escalation] = series(samples, metrics.ESCALATIONS, kind="consultation", rung="remind_agency")
    assert escalation.value == 2
    [count] = series(samples, metrics.CONSULTATION_ANSWER_SECONDS + "_count", agency="bup")
    assert count.value == 1 and count.labels["outcome"] == "answered"
    assert (
        series(samples, metrics.CONSULTATION_ANSWER_SECONDS + "_sum", agency="bup")[0].value
        == 108000
    )
    assert series(samples, metrics.PROJECTION_LAG_EVENTS, projection="case_summary")[0].value == 3
    [ok] = series(samples, metrics.GATEWAY_REQUESTS, agency="police", status="200")
    assert ok.labels["route"] == "/v1/consultations/{consultation_id}/answer"
    assert series(samples, metrics.GATEWAY_REQUESTS, agency="unauthenticated", status="401")


def test_answer_time_histogram_is_bucketed_in_hours_to_weeks(endpoint):
    address, meter = endpoint
    metrics.record_consultation_answer_time(
        meter, agency=Agency.SCHOOL, outcome=ConsultationOutcomeKind.EXPIRED, elapsed=9 * 86400.0
    )
    buckets = series(
        scrape(address), metrics.CONSULTATION_ANSWER_SECONDS + "_bucket", agency="school"
    )
    bounds = {b.labels["le"]: b.value for b in buckets}
    assert bounds["86400"] == 0  # one day: not yet
    assert bounds["864000"] == 1  # ten days: counted
    assert bounds["+Inf"] == 1


def _labels_of_domain_series(address: str) -> list[dict[str, str]]:
    return [s.labels for s in scrape(address) if s.name.startswith("samverkan_")]


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (
            lambda m: metrics.record_escalation(m, kind="pre_assessment", rung="MAL-2026-0042"),
            "case number as rung",
        ),
        (
            lambda m: metrics.record_escalation(m, kind="pre_assessment", rung="case_2026_0042"),
            "digit run",
        ),
        (
            lambda m: metrics.set_projection_lag(m, projection="20120315-0004", events=1),
            "personal identity number",
        ),
        (
            lambda m: metrics.set_projection_lag(m, projection="Testperson Exempelsson", events=1),
            "a name",
        ),
        (
            lambda m: metrics.record_deadline_breached(m, kind="case-MAL-2026-0042"),
            "not a deadline kind",
        ),
        (
            lambda m: metrics.record_case_transition(m, from_state="received", to_state="limbo"),
            "not a state",
        ),
        (
            lambda m: metrics.record_gateway_request(
                m,
                agency="police",
                route="/v1/consultations/case-MAL-2026-0042:consultation-1/answer",
                status=200,
            ),
            "concrete path instead of the route template",
        ),
        (
            lambda m: metrics.record_gateway_request(
                m, agency="evil corp", route="/v1", status=200
            ),
            "unknown agency",
        ),
        (
            lambda m: metrics.record_gateway_request(m, agency="police", route="/v1", status=2000),
            "not a status",
        ),
        (
            lambda m: metrics.record_consultation_answer_time(
                m, agency="unauthenticated", outcome="answered", elapsed=1.0
            ),
            "unauthenticated is for gateway requests only",
        ),
    ],
)
def test_labels_that_could_identify_a_person_or_case_are_refused_and_nothing_is_recorded(
    endpoint, record, why
):
    address, meter = endpoint
    before = _labels_of_domain_series(address)
    with pytest.raises(ForbiddenMetricLabel) as refused:
        record(meter)
    assert "2026" not in str(refused.value) and "Exempelsson" not in str(refused.value), why
    assert _labels_of_domain_series(address) == before


@pytest.mark.parametrize(
    "labels",
    [
        {"kind": "pre_assessment", "rung": "unit_manager", "case_number": "MAL-2026-0042"},
        {"kind": "pre_assessment"},
        {"kind": "pre_assessment", "rung": "unit_manager", "workflow_id": "x"},
    ],
)
def test_only_allow_listed_label_keys_pass(labels):
    with pytest.raises(ForbiddenMetricLabel):
        metrics.checked_labels(metrics.ESCALATIONS, labels)


def test_every_domain_metric_has_an_allow_list_and_no_identifying_key():
    assert set(metrics.ALLOWED_LABELS) == set(metrics.DOMAIN_METRICS)
    keys = set().union(*metrics.ALLOWED_LABELS.values())
    assert not keys & {
        "case_number",
        "case_id",
        "workflow_id",
        "subject",
        "name",
        "officer",
        "municipality",
    }


def test_unknown_metric_is_refused():
    with pytest.raises(ForbiddenMetricLabel):
        metrics.checked_labels("samverkan_cases_by_person", {"state": "received"})


def test_a_taken_metrics_address_is_a_clear_error(endpoint):
    address, _ = endpoint
    with pytest.raises(MetricsConfigError, match="SAMVERKAN_METRICS_BIND"):
        runtime_with_metrics(address)
    with pytest.raises(MetricsConfigError, match="did not start"):
        runtime_with_metrics("not-an-address")


def test_no_bind_address_means_the_default_runtime_without_an_endpoint():
    from temporalio.runtime import Runtime

    assert runtime_with_metrics(None) is Runtime.default()


def test_tracing_is_off_unless_switched_on():
    assert metrics.tracing_interceptors(False) == []


def test_tracing_without_opentelemetry_installed_says_what_to_install():
    try:
        import opentelemetry  # noqa: F401
    except ImportError:
        with pytest.raises(metrics.TracingUnavailable, match="opentelemetry-sdk"):
            metrics.tracing_interceptors(True)
    else:
        from temporalio.contrib.opentelemetry import TracingInterceptor

        [interceptor] = metrics.tracing_interceptors(True)
        assert isinstance(interceptor, TracingInterceptor)
