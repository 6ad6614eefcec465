"""The NetworkPolicies make the gateway the only way an agency reaches a case.

The policies are read from deploy/k8s/networkpolicy.yaml (namespace samverkan) and from the
Temporal chart's values (extraObjects, installed into namespace temporal), and evaluated the
way Kubernetes does: a connection is allowed when the source's egress and the destination's
ingress both allow it. A pod no policy of a type selects is open in that direction; once one
selects it, only what some rule of those policies allows gets through. The pods are the
manifests' own (labels and container ports), Temporal's (the chart's labels, ports from its
values.yaml) and stand-ins for the rest of the cluster and the world.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART_VALUES = Path(__file__).resolve().parent / "data" / "temporal-chart-1.6.0-values.yaml"
GATEWAY_PORT = 8250


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    ports: dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    ip: str = "10.1.2.3"

    def __repr__(self) -> str:
        return f"{self.namespace}/{self.name}"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _helm_values() -> dict[str, Any]:
    return _docs(DEPLOY / "helm" / "temporal-values.yaml")[0]


@cache
def policies() -> list[dict[str, Any]]:
    found = [d for d in _docs(DEPLOY / "k8s" / "networkpolicy.yaml")]
    for text in _helm_values()["extraObjects"]:
        obj = yaml.safe_load(text)
        obj["metadata"].setdefault("namespace", "temporal")  # the release's namespace
        found.append(obj)
    assert all(p["kind"] == "NetworkPolicy" for p in found)
    return found


# -- the pods -------------------------------------------------------------------------------------


@cache
def _samverkan_pods() -> tuple[Pod, ...]:
    pods = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for obj in _docs(path):
            if obj.get("kind") in ("Deployment", "Job"):
                template = obj["spec"]["template"]
                ports = {
                    p["name"]: p["containerPort"]
                    for c in template["spec"]["containers"]
                    for p in c.get("ports", [])
                }
                labels = template["metadata"]["labels"]
                pods.append(Pod(labels["app.kubernetes.io/component"], "samverkan", labels, ports))
    return tuple(pods)


def samverkan_pods() -> list[Pod]:
    return list(_samverkan_pods())


TEMPORAL_SERVICES = ("frontend", "internal-frontend", "history", "matching", "worker")


@cache
def _temporal_pods() -> tuple[Pod, ...]:
    chart = yaml.safe_load(CHART_VALUES.read_text())
    pods = []
    for service in TEMPORAL_SERVICES:
        svc = chart["server"][service]["service"]
        ports = {"grpc": svc["port"], "membership": svc["membershipPort"], "metrics": 9090}
        if "httpPort" in svc:
            ports["http"] = svc["httpPort"]
        pods.append(Pod(service, "temporal", _temporal_labels(service), ports))
    pods.append(Pod("web", "temporal", _temporal_labels("web"), {"http": 8080}))
    pods.append(Pod("database", "temporal", _temporal_labels("database")))  # schema/ns Jobs
    return tuple(pods)


def temporal_pods() -> list[Pod]:
    return list(_temporal_pods())


def _temporal_labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "temporal",
        "app.kubernetes.io/instance": "temporal",
        "app.kubernetes.io/component": component,
    }


PUBLIC_INGRESS = Pod("controller", "ingress-nginx", {"app": "ingress-nginx"})
INTERNAL_INGRESS = Pod("controller", "ingress-internal", {"app": "ingress-nginx"})
PROMETHEUS = Pod("prometheus", "monitoring", {"app": "prometheus"})
OTHER_TENANT = Pod("anything", "default", {"app": "other"})
AGENCY_DIRECT = Pod("agency", "<internet>", ip="203.0.113.7")  # a packet from outside
EVENTSTORE_DB = Pod("eventstore-postgresql", "samverkan-db", {"app": "postgresql"}, {"pg": 5432})
TEMPORAL_DB = Pod("temporal-postgresql", "temporal-db", {"app": "postgresql"}, {"pg": 5432})
OUTSIDE_HTTPS = Pod("agency-system", "<internet>", ports={"https": 443}, ip="198.51.100.9")

#: Everything not deployed by this repository that might open a connection.
STRANGERS = [PUBLIC_INGRESS, INTERNAL_INGRESS, PROMETHEUS, OTHER_TENANT, AGENCY_DIRECT]


def pod(namespace: str, name: str) -> Pod:
    [found] = [
        p for p in samverkan_pods() + temporal_pods() if (p.namespace, p.name) == (namespace, name)
    ]
    return found


# -- Kubernetes' evaluation -----------------------------------------------------------------------


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present, value = expr["key"] in labels, labels.get(expr["key"])
        op = expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and present and value in expr["values"])
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def _in_cluster(p: Pod) -> bool:
    return not p.namespace.startswith("<")


def _peer_matches(peer: dict[str, Any], policy_ns: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        ip = ipaddress.ip_address(other.ip)
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if not _in_cluster(other):
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not _selects(peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != policy_ns:
        return False
    return _selects(peer.get("podSelector"), other.labels)


def _port_matches(rule: dict[str, Any], target: Pod, port: int) -> bool:
    if "ports" not in rule:
        return True
    for entry in rule["ports"]:
        wanted = entry.get("port")
        if wanted is None or wanted == port:
            return True
        if isinstance(wanted, str) and target.ports.get(wanted) == port:
            return True
    return False


def _direction_allows(kind: str, subject: Pod, other: Pod, target: Pod, port: int) -> bool:
    """Whether ``subject``'s policies of ``kind`` (Ingress/Egress) let the connection through."""
    if not _in_cluster(subject):
        return True
    selecting = [
        p
        for p in policies()
        if p["metadata"]["namespace"] == subject.namespace
        and kind in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (
                peers is None
                or any(
                    _peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers
                )
            ) and _port_matches(rule, target, port):
                return True
    return False


def can_connect(src: Pod, dst: Pod, port: int) -> bool:
    return _direction_allows("Egress", src, dst, dst, port) and _direction_allows(
        "Ingress", dst, src, dst, port
    )


def reachable_by(src: Pod, targets: list[Pod]) -> set[tuple[str, int]]:
    return {
        (repr(t), port) for t in targets for port in t.ports.values() if can_connect(src, t, port)
    }


def who_reaches(dst: Pod, port: int, sources: list[Pod]) -> set[str]:
    return {repr(s) for s in sources if can_connect(s, dst, port)}


def everyone() -> list[Pod]:
    return samverkan_pods() + temporal_pods() + STRANGERS


# -- the paths ------------------------------------------------------------------------------------


def test_the_model_has_every_samverkan_pod_and_the_namespace_denies_by_default():
    assert {p.name for p in samverkan_pods()} == {"worker", "gateway", "projector", "migrate"}
    assert any(
        p["metadata"]["name"] == "default-deny" and p["spec"]["podSelector"] == {}
        for p in policies()
    )
    assert pod("samverkan", "gateway").ports["http"] == GATEWAY_PORT


def test_from_outside_the_cluster_agencies_reach_only_the_gateways_agency_port():
    targets = samverkan_pods() + temporal_pods()
    assert reachable_by(PUBLIC_INGRESS, targets) == {("samverkan/gateway", GATEWAY_PORT)}
    assert reachable_by(AGENCY_DIRECT, targets) == set()
    assert reachable_by(OTHER_TENANT, targets) == set()


def test_operators_reach_the_web_ui_and_the_codec_through_the_internal_ingress_only():
    targets = samverkan_pods() + temporal_pods()
    codec = pod("samverkan", "gateway").ports.get("codec")
    expected = {("temporal/web", 8080)} | ({("samverkan/gateway", codec)} if codec else set())
    assert reachable_by(INTERNAL_INGRESS, targets) == expected


def test_the_temporal_frontend_serves_only_the_worker_the_gateway_and_the_web_ui():
    frontend = pod("temporal", "frontend")
    servers = {f"temporal/{s}" for s in TEMPORAL_SERVICES}
    assert who_reaches(frontend, frontend.ports["grpc"], everyone()) == {
        "samverkan/worker",
        "samverkan/gateway",
        "temporal/web",
    }
    assert who_reaches(frontend, frontend.ports["membership"], everyone()) == servers
    assert who_reaches(frontend, frontend.ports["http"], everyone()) == set()
    assert who_reaches(frontend, 9090, everyone()) == {"monitoring/prometheus"}


def test_nothing_outside_temporal_passes_by_the_frontends_authorizer():
    """The internal frontend has no authorizer; history and matching take any call."""
    servers = {f"temporal/{s}" for s in TEMPORAL_SERVICES}
    internal = pod("temporal", "internal-frontend")
    assert who_reaches(internal, internal.ports["grpc"], everyone()) == servers | {
        "temporal/database"
    }
    for name in ("history", "matching", "worker"):
        target = pod("temporal", name)
        for port_name in ("grpc", "membership"):
            assert who_reaches(target, target.ports[port_name], everyone()) == servers, name


def test_only_samverkan_pods_reach_the_event_stores_postgresql():
    assert who_reaches(EVENTSTORE_DB, 5432, samverkan_pods() + temporal_pods()) == {
        "samverkan/worker",
        "samverkan/gateway",
        "samverkan/projector",
        "samverkan/migrate",
    }
    assert who_reaches(TEMPORAL_DB, 5432, samverkan_pods() + temporal_pods()) == {
        f"temporal/{s}" for s in (*TEMPORAL_SERVICES, "database")
    }


def test_only_the_worker_and_gateway_leave_the_cluster_or_call_temporal():
    frontend = pod("temporal", "frontend")
    calls_out = {repr(p) for p in samverkan_pods() if can_connect(p, OUTSIDE_HTTPS, 443)}
    assert calls_out == {"samverkan/worker", "samverkan/gateway"}
    for p in samverkan_pods():
        expected = p.name in ("worker", "gateway")
        assert can_connect(p, frontend, 7233) is expected, p
        assert not can_connect(p, pod("temporal", "internal-frontend"), 7236), p


def test_the_metrics_ports_are_scraped_by_prometheus_only():
    for p in samverkan_pods():
        if "metrics" in p.ports:
            assert who_reaches(p, p.ports["metrics"], everyone()) == {"monitoring/prometheus"}


def _gateway_with_codec_port() -> Pod:
    gateway = pod("samverkan", "gateway")
    if "codec" in gateway.ports:
        return gateway
    ports = {**gateway.ports, "codec": GATEWAY_PORT + 1}  # the listener another change adds
    return Pod(gateway.name, gateway.namespace, gateway.labels, ports)


def test_the_gateways_codec_listener_serves_only_the_web_ui():
    """Once the gateway declares a port named "codec", only the Web UI's path reaches it."""
    gateway = _gateway_with_codec_port()
    codec = gateway.ports["codec"]
    assert codec != GATEWAY_PORT
    assert who_reaches(gateway, codec, everyone()) == {"ingress-internal/controller"}
    assert who_reaches(gateway, GATEWAY_PORT, everyone()) == {"ingress-nginx/controller"}


# -- the evaluation itself ------------------------------------------------------------------------


def test_the_evaluation_refuses_what_no_rule_allows_and_allows_unselected_pods():
    worker, projector = pod("samverkan", "worker"), pod("samverkan", "projector")
    assert not can_connect(PUBLIC_INGRESS, worker, 9464)  # selected, no matching rule
    assert not can_connect(projector, OUTSIDE_HTTPS, 443)  # egress selected, no rule
    assert can_connect(OTHER_TENANT, PROMETHEUS, 9090)  # no policy in either namespace
    assert can_connect(PROMETHEUS, worker, 9464)


@pytest.mark.parametrize(
    "selector, labels, expected",
    [
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
        ({}, {"a": "1"}, True),
    ],
)
def test_label_selectors(selector, labels, expected):
    assert _selects(selector, labels) is expected
