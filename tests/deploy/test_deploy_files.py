"""The deployment files, checked structurally: no container engine runs on these machines.

They parse; they reference one Samverkan image and one Temporal release consistently; every
environment variable they set is a real setting; ports agree between the Dockerfile, compose,
the Kubernetes Services and probes; the final image stage runs as a non-root user; every
metric the dashboard and the alerts query exists in `infra.metrics`.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from gateway.config import GatewaySettings
from infra import metrics
from infra.settings import Settings
from samverkan.devstack import PROCESS_ENV
from workflows.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE_REPO = "samverkan"
GATEWAY_PORT = Settings.model_fields["samverkan_gateway_port"].default
CODEC_PORT = GatewaySettings.model_fields["samverkan_codec_port"].default
METRICS_PORT = metrics.METRICS_PORT

#: Settings the deployment needs that `Settings` does not have yet; the lead adds them
#: (SAMVERKAN_MASTER_KEYS with the payload codec). Remove a name here once it is a field.
#: Read outside `Settings`: the master keys (infra.keys) and the gateway's own settings.
OTHER_SETTINGS = (
    {"SAMVERKAN_MASTER_KEYS"}
    | {name.upper() for name in GatewaySettings.model_fields}
    | set(PROCESS_ENV)  # the C runtime's, set for every process of the stack
)


def _yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _compose() -> dict[str, Any]:
    return _yaml_docs(DEPLOY / "compose.yaml")[0]


def _k8s_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        objects += _yaml_docs(path)
    return objects


def _k8s(kind: str, name: str) -> dict[str, Any]:
    [obj] = [o for o in _k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def _deployments() -> list[dict[str, Any]]:
    return [o for o in _k8s_objects() if o["kind"] in ("Deployment", "Job")]


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def _samverkan_services() -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in _compose()["services"].items()
        if svc["image"].split(":")[0].rsplit("/", 1)[-1] == IMAGE_REPO
    }


def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _dockerfile_final_stage() -> list[str]:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    starts = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    assert len(starts) >= 2, "the Dockerfile must be multi-stage"
    return lines[starts[-1] :]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in _dockerfile_final_stage():
        if line.upper().startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                env[key] = value
    return env


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    sorted(
        p.relative_to(DEPLOY).as_posix()
        for p in DEPLOY.rglob("*")
        if p.suffix in (".yaml", ".yml", ".json")
    ),
)
def test_every_deployment_file_parses(path):
    full = DEPLOY / path
    if full.suffix == ".json":
        json.loads(full.read_text())
    else:
        assert _yaml_docs(full), f"{path} is empty"


def test_kustomization_lists_every_manifest_but_the_secret_template():
    listed = set(_yaml_docs(DEPLOY / "k8s" / "kustomization.yaml")[0]["resources"])
    present = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present - {"secret.template.yaml"}


# -- image ----------------------------------------------------------------------------------------


def test_final_image_stage_is_slim_runs_as_non_root_and_has_no_build_tools():
    final = _dockerfile_final_stage()
    assert final[0].split()[1] == "python:3.11-slim"
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    text = "\n".join(final)
    for tool in ("build-essential", "gcc", "apt-get install", "pip install"):
        assert tool not in text, f"final stage contains {tool!r}"
    assert any(line.startswith("COPY --from=builder /opt/venv") for line in final)
    assert 'ENTRYPOINT ["samverkan"]' in final and 'CMD ["worker"]' in final


def test_builder_installs_the_locked_requirements_and_copies_every_package():
    text = (DEPLOY / "Dockerfile").read_text()
    assert "-r requirements.lock" in text
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    for pattern in packages:
        name = pattern.rstrip("*")
        assert f"COPY {name}/ {name}/" in text, f"the image lacks package {name}"
    assert "worker.py" in text


def test_one_samverkan_image_and_version_everywhere():
    version = _project_version()
    images = {svc["image"] for svc in _samverkan_services().values()}
    images |= {c["image"] for d in _deployments() for c in _containers(d)}
    assert images, "no Samverkan image referenced"
    for image in images:
        repo, tag = image.rsplit(":", 1)
        assert repo.rsplit("/", 1)[-1] == IMAGE_REPO and tag == version, image
    kustomize = _yaml_docs(DEPLOY / "k8s" / "kustomization.yaml")[0]["images"]
    assert [i["newTag"] for i in kustomize] == [version]
    k8s_repos = {c["image"].rsplit(":", 1)[0] for d in _deployments() for c in _containers(d)}
    assert k8s_repos == {i["name"] for i in kustomize}


def test_compose_and_helm_run_the_same_temporal_release():
    """Both run the chart's own release (its appVersion and UI default; test_helm_values.py)."""
    compose = {
        svc["image"]
        for svc in _compose()["services"].values()
        if svc["image"].startswith("temporalio/")
    }
    values = _yaml_docs(DEPLOY / "helm" / "temporal-values.yaml")[0]
    helm = {
        f"{part['image']['repository']}:{part['image']['tag']}"
        for part in (values["server"], values["admintools"], values["web"])
    }
    assert helm == compose, helm ^ compose


# -- environment ---------------------------------------------------------------------------------


def _allowed_env() -> set[str]:
    settings = {name.upper() for name in Settings.model_fields}
    credentials: set[str] = set()
    agency_files = [tomllib.loads((DEPLOY / "agencies.example.toml").read_text())]
    agency_files.append(
        tomllib.loads(_k8s("ConfigMap", "samverkan-files")["data"]["agencies.toml"])
    )
    for data in agency_files:
        for agency in data["agencies"].values():
            creds = agency.get("credentials", {})
            credentials |= {creds[k] for k in ("token_env", "value_env") if k in creds}
    return settings | OTHER_SETTINGS | credentials


def _env_of_samverkan_containers() -> dict[str, set[str]]:
    """Where each variable is set, by the file that sets it."""
    found: dict[str, set[str]] = {}

    def add(names: Any, where: str) -> None:
        for name in names:
            found.setdefault(name, set()).add(where)

    for name, svc in _samverkan_services().items():
        add(svc.get("environment", {}), f"compose:{name}")
    add((k for k in _dockerfile_env() if k != "PATH" and not k.startswith("PYTHON")), "Dockerfile")
    add(_k8s("ConfigMap", "samverkan-env")["data"], "k8s:configmap")
    add(_yaml_docs(DEPLOY / "k8s" / "secret.template.yaml")[0]["stringData"], "k8s:secret")
    for deployment in _deployments():
        for container in _containers(deployment):
            add((e["name"] for e in container.get("env", [])), f"k8s:{container['name']}")
    return found


def test_every_environment_variable_the_manifests_set_is_a_real_setting():
    unknown = {
        name: where
        for name, where in _env_of_samverkan_containers().items()
        if name not in _allowed_env()
    }
    assert not unknown, f"not settings (infra/settings.py) nor agency credentials: {unknown}"


def _secrets() -> dict[str, set[str]]:
    """The keys of each Secret in the template, by Secret name."""
    return {
        doc["metadata"]["name"]: set(doc["stringData"])
        for doc in _yaml_docs(DEPLOY / "k8s" / "secret.template.yaml")
    }


def _secret_keys_of(component: str) -> set[str]:
    """Every secret variable the ``component`` container gets (from whole Secrets)."""
    secrets = _secrets()
    [container] = [
        c
        for d in _deployments()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
        for c in _containers(d)
    ]
    names = {ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref}
    assert not any("secretKeyRef" in str(env) for env in container.get("env", []))
    return set().union(*(secrets[name] for name in names))


AGENCY_TOKENS = _allowed_env() - {n.upper() for n in Settings.model_fields} - OTHER_SETTINGS


def test_every_samverkan_pod_gets_its_config_and_only_the_secrets_it_needs():
    for deployment in _deployments():
        for container in _containers(deployment):
            refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert "samverkan-env" in refs, container["name"]
            assert refs - {"samverkan-env"} <= set(_secrets()), container["name"]
    assert AGENCY_TOKENS, "the agencies file names the tokens"
    assert (
        _secret_keys_of("worker")
        == {
            "DATABASE_URL",
            "SAMVERKAN_MASTER_KEYS",
            "SAMVERKAN_AGENCY_ATTESTATION_KEYS",
            *TEMPORAL_SERVICE_ACCOUNT,
        }
        | AGENCY_TOKENS
    )
    assert _secret_keys_of("gateway") == {
        "DATABASE_URL",
        "SAMVERKAN_MASTER_KEYS",
        "SAMVERKAN_AGENCY_ATTESTATION_KEYS",
        *TEMPORAL_SERVICE_ACCOUNT,
    }
    assert _secret_keys_of("projector") == {"DATABASE_URL"}
    assert _secret_keys_of("migrate") == {"DATABASE_URL"}


#: A component's service account at the OIDC issuer, for Temporal's authorizer.
TEMPORAL_SERVICE_ACCOUNT = ("SAMVERKAN_TEMPORAL_CLIENT_ID", "SAMVERKAN_TEMPORAL_CLIENT_SECRET")


def _secret_names_of(component: str) -> set[str]:
    [container] = [
        c
        for d in _deployments()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
        for c in _containers(d)
    ]
    return {ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref}


def test_worker_and_gateway_each_fetch_temporal_tokens_as_their_own_service_account():
    """Temporal's authorizer grants per service account: the worker's and the gateway's are
    two, each in a Secret only its component gets; the token URL is configuration; no static
    API key anywhere (with a token URL it would be refused, infra.temporal_client)."""
    secrets = _secrets()
    holders = {
        component: {
            name
            for name in _secret_names_of(component)
            if set(TEMPORAL_SERVICE_ACCOUNT) & secrets[name]
        }
        for component in ("worker", "gateway", "projector", "migrate")
    }
    assert holders == {
        "worker": {"samverkan-temporal-worker"},
        "gateway": {"samverkan-temporal-gateway"},
        "projector": set(),
        "migrate": set(),
    }
    for name in ("samverkan-temporal-worker", "samverkan-temporal-gateway"):
        assert secrets[name] == set(TEMPORAL_SERVICE_ACCOUNT), name
    [template] = [
        doc
        for doc in _yaml_docs(DEPLOY / "k8s" / "secret.template.yaml")
        if doc["metadata"]["name"] == "samverkan-temporal-worker"
    ]
    ids = {
        doc["metadata"]["name"]: doc["stringData"]["SAMVERKAN_TEMPORAL_CLIENT_ID"]
        for doc in _yaml_docs(DEPLOY / "k8s" / "secret.template.yaml")
        if doc["metadata"]["name"].startswith("samverkan-temporal-")
    }
    assert len(set(ids.values())) == 2, ids
    assert template["stringData"]["SAMVERKAN_TEMPORAL_CLIENT_SECRET"] == "REPLACE-ME"
    env = _k8s("ConfigMap", "samverkan-env")["data"]
    assert env["SAMVERKAN_TEMPORAL_TOKEN_URL"].startswith("https://")
    values = _yaml_docs(DEPLOY / "helm" / "temporal-values.yaml")[0]
    jwks = values["server"]["config"]["authorization"]["jwtKeyProvider"]["keySourceURIs"]
    realm = env["SAMVERKAN_TEMPORAL_TOKEN_URL"].split("/protocol/")[0]
    assert all(uri.startswith(realm + "/") for uri in jwks), "one issuer signs and checks"
    everywhere = _env_of_samverkan_containers()
    assert "TEMPORAL_API_KEY" not in everywhere, everywhere.get("TEMPORAL_API_KEY")


def test_the_migration_job_alone_uses_the_owner_database_role():
    [migrations] = [d for d in _deployments() if d["metadata"]["name"] == "samverkan-migrate"]
    assert {
        r["secretRef"]["name"] for r in _containers(migrations)[0]["envFrom"] if "secretRef" in r
    } == {"samverkan-migrations"}
    for deployment in _deployments():
        if deployment["metadata"]["name"] != "samverkan-migrate":
            names = {
                r.get("secretRef", {}).get("name") for r in _containers(deployment)[0]["envFrom"]
            }
            assert "samverkan-migrations" not in names, deployment["metadata"]["name"]


def test_compose_gives_master_keys_and_agency_config_only_to_worker_and_gateway():
    services = _samverkan_services()
    for secret in ("SAMVERKAN_MASTER_KEYS", "SAMVERKAN_AGENCY_ATTESTATION_KEYS"):
        holders = {name for name, svc in services.items() if secret in svc["environment"]}
        assert holders == {"worker", "gateway"}, secret
    configured = {
        name for name, svc in services.items() if "SAMVERKAN_AGENCIES_FILE" in svc["environment"]
    }
    assert configured == {"worker"}


def test_configmap_policy_and_agencies_are_valid(monkeypatch):
    from activities.config import AgencyDirectory
    from cases.policy import Policy

    data = _k8s("ConfigMap", "samverkan-files")["data"]
    Policy.from_toml(data["policy.toml"])
    for name in _allowed_env():
        if name.startswith("SAMVERKAN_") and name.endswith(("_TOKEN", "_API_KEY")):
            monkeypatch.setenv(name, "test-secret")
    AgencyDirectory.from_toml(data["agencies.toml"])
    AgencyDirectory.from_toml((DEPLOY / "compose" / "agencies.toml").read_text())
    env = _k8s("ConfigMap", "samverkan-env")["data"]
    assert env["SAMVERKAN_POLICY_FILE"].rsplit("/", 1)[-1] in data
    assert env["SAMVERKAN_AGENCIES_FILE"].rsplit("/", 1)[-1] in data


# -- ports ----------------------------------------------------------------------------------------


def _bind_port(value: str) -> int:
    return int(value.rsplit(":", 1)[1])


def test_dockerfile_exposes_the_gateway_and_metrics_ports():
    exposed = {
        int(p)
        for line in _dockerfile_final_stage()
        if line.startswith("EXPOSE")
        for p in line.split()[1:]
    }
    assert exposed == {GATEWAY_PORT, METRICS_PORT}
    env = _dockerfile_env()
    assert int(env["SAMVERKAN_GATEWAY_PORT"]) == GATEWAY_PORT
    assert _bind_port(env["SAMVERKAN_METRICS_BIND"]) == METRICS_PORT


def test_compose_ports_agree_with_the_image_and_the_ui_codec_endpoint():
    services = _compose()["services"]
    gateway = services["gateway"]
    assert f"{GATEWAY_PORT}:{GATEWAY_PORT}" in gateway["ports"]
    assert int(gateway["environment"]["SAMVERKAN_GATEWAY_PORT"]) == GATEWAY_PORT
    assert f":{GATEWAY_PORT}/healthz" in " ".join(gateway["healthcheck"]["test"])
    for name in ("worker", "gateway", "projector"):
        svc = services[name]
        assert _bind_port(svc["environment"]["SAMVERKAN_METRICS_BIND"]) == METRICS_PORT
        assert str(METRICS_PORT) in svc["expose"], name
    codec = services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"]
    assert codec.endswith(f":{CODEC_PORT}/codec"), "the codec has its own listener"
    scrape = _yaml_docs(DEPLOY / "prometheus" / "prometheus.yml")[0]["scrape_configs"][0]
    assert scrape["dns_sd_configs"][0]["port"] == METRICS_PORT
    assert set(scrape["dns_sd_configs"][0]["names"]) == {"worker", "gateway", "projector"}


def test_compose_runs_several_workers_after_migrations_and_the_namespace():
    services = _compose()["services"]
    worker = services["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (
        worker["depends_on"]["temporal-namespace"]["condition"] == "service_completed_successfully"
    )
    assert services["migrate"]["command"] == ["migrate"]
    assert services["projector"]["command"] == ["projections", "run"]
    assert (
        services["temporal"]["depends_on"]["temporal-schema"]["condition"]
        == "service_completed_successfully"
    )
    assert services["temporal"]["environment"]["DB"] == "postgres12"


def _named_ports(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container.get("ports", [])}


def _probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    return _named_ports(container)[port] if isinstance(port, str) else port


def test_k8s_probes_hit_the_gateway_healthz_and_the_worker_metrics_port():
    [gateway] = _containers(_k8s("Deployment", "samverkan-gateway"))
    for kind in ("readinessProbe", "livenessProbe"):
        assert gateway[kind]["httpGet"]["path"] == "/healthz"
        assert _probe_port(gateway, gateway[kind]) == GATEWAY_PORT
    [worker] = _containers(_k8s("Deployment", "samverkan-worker"))
    for kind in ("readinessProbe", "livenessProbe"):
        assert worker[kind]["httpGet"]["path"] == "/metrics"
        assert _probe_port(worker, worker[kind]) == METRICS_PORT
    for deployment in _deployments():
        for container in _containers(deployment):
            if "metrics" in _named_ports(container):
                assert _named_ports(container)["metrics"] == METRICS_PORT
    env = _k8s("ConfigMap", "samverkan-env")["data"]
    assert _bind_port(env["SAMVERKAN_METRICS_BIND"]) == METRICS_PORT


def test_k8s_services_target_ports_their_pods_declare():
    deployments = {
        tuple(sorted(d["spec"]["selector"]["matchLabels"].items())): d
        for d in _deployments()
        if d["kind"] == "Deployment"
    }
    services = [o for o in _k8s_objects() if o["kind"] == "Service"]
    assert services
    for service in services:
        [deployment] = [
            d
            for key, d in deployments.items()
            if set(service["spec"]["selector"].items()) <= set(key)
        ]
        [container] = _containers(deployment)
        named = _named_ports(container)
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert (named[target] if isinstance(target, str) else target) == port["port"]


def test_worker_and_gateway_have_resources_autoscaling_and_disruption_budgets():
    kinds = {(o["kind"], o["metadata"]["name"]): o for o in _k8s_objects()}
    for name in ("samverkan-worker", "samverkan-gateway"):
        deployment = kinds[("Deployment", name)]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        [container] = pod["containers"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        hpa = kinds[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["minReplicas"] >= 2
        pdb = kinds[("PodDisruptionBudget", name)]
        assert (
            pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    policies = [o for o in _k8s_objects() if o["kind"] == "NetworkPolicy"]
    assert any(
        p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        for p in policies
    )
    gateway_ingress = next(p for p in policies if p["metadata"]["name"] == "gateway-ingress")
    assert gateway_ingress["spec"]["ingress"][0]["ports"][0]["port"] == GATEWAY_PORT


def test_helm_values_use_postgresql_and_point_the_ui_at_the_codec_endpoint():
    """The chart's layout and its other settings: tests/deploy/test_helm_values.py."""
    values = _yaml_docs(DEPLOY / "helm" / "temporal-values.yaml")[0]
    stores = values["server"]["config"]["persistence"]["datastores"]
    for store in ("default", "visibility"):
        assert stores[store]["sql"]["pluginName"] == "postgres12"
    env = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}
    assert env["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    # The browser calls the codec by that name: the codec listener's trusted hosts include it.
    [gateway] = _containers(_k8s("Deployment", "samverkan-gateway"))
    allowed = {e["name"]: e["value"] for e in gateway["env"]}["SAMVERKAN_CODEC_ALLOWED_HOSTS"]
    codec_host = env["TEMPORAL_CODEC_ENDPOINT"].split("/")[2].split(":")[0]
    assert codec_host in allowed.split(",")
    names = {n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]}
    assert env["TEMPORAL_DEFAULT_NAMESPACE"] in names


def test_compose_namespace_script_registers_exactly_samverkans_search_attributes():
    script = (DEPLOY / "compose" / "temporal-namespace.sh").read_text()
    registered = set(re.findall(r"--name (\w+) --type (\w+)", script))
    kinds = {
        "KEYWORD": "Keyword",
        "DATETIME": "Datetime",
        "INT": "Int",
        "KEYWORD_LIST": "KeywordList",
    }
    expected = {(key.name, kinds[key.indexed_value_type.name]) for key in SEARCH_ATTRIBUTES}
    assert registered == expected


# -- commands -------------------------------------------------------------------------------------


def _commands_used() -> set[str]:
    used = {svc["command"][0] for svc in _samverkan_services().values()}
    used |= {c["args"][0] for d in _deployments() for c in _containers(d)}
    return used


def test_every_command_the_manifests_run_exists_in_the_cli():
    from samverkan.cli import app

    available = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    missing = _commands_used() - available
    assert not missing


def _command_lines() -> dict[str, list[str]]:
    """Every ``samverkan`` argument list in deploy/: compose services and k8s containers."""
    lines = {f"compose {name}": list(svc["command"]) for name, svc in _samverkan_services().items()}
    for obj in _deployments():
        for container in _containers(obj):
            if container["image"].split(":")[0].rsplit("/", 1)[-1] == IMAGE_REPO:
                lines[f"k8s {obj['metadata']['name']}/{container['name']}"] = container["args"]
    return lines


def _parse(args: list[str]) -> list[str]:
    """Parse ``args`` exactly as ``samverkan`` would, down to the command; its path.

    Typer carries its own copy of click, so groups are told by what they can do."""
    from samverkan.cli import app

    command: Any = typer.main.get_command(app)
    ctx = command.make_context("samverkan", list(args))
    path = []
    while hasattr(command, "resolve_command"):
        name, command, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert command is not None and name is not None
        path.append(name)
        ctx = command.make_context(name, rest, parent=ctx)
    return path


def test_every_samverkan_command_line_in_deploy_parses_through_the_cli():
    lines = _command_lines()
    assert {
        "compose gateway",
        "k8s samverkan-gateway/gateway",
        "k8s samverkan-migrate/migrate",
    } <= set(lines)
    for where, args in lines.items():
        try:
            path = _parse(args)
        except Exception as exc:  # the CLI's usage errors (typer's own click)
            raise AssertionError(f"{where}: samverkan {' '.join(args)}: {exc}") from exc
        assert path and path == [a for a in args if not a.startswith("-")][: len(path)], where


def test_the_command_line_check_refuses_an_option_the_cli_lacks():
    with pytest.raises(Exception, match="No such option: --listen"):
        _parse(["gateway", "--listen", "0.0.0.0"])
    with pytest.raises(Exception, match="No such command"):
        _parse(["serve"])
    assert _parse(["gateway", "--host", "0.0.0.0"]) == ["gateway"]
    assert _parse(["projections", "run"]) == ["projections", "run"]


# -- dashboard and alerts -------------------------------------------------------------------------

_METRIC = re.compile(r"\b((?:samverkan|temporal)_[a-z0-9_]+)")
_KNOWN = set(metrics.DOMAIN_METRICS) | set(metrics.SDK_METRICS)


def _metric_names(expr: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in _METRIC.findall(expr)}


def test_every_dashboard_panel_queries_metrics_that_exist():
    dashboard = json.loads((DEPLOY / "grafana" / "samverkan.json").read_text())
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = _metric_names(target["expr"])
            assert names, f"{panel['title']}: no metric in {target['expr']!r}"
            used |= names
    assert used <= _KNOWN, used - _KNOWN
    assert set(metrics.DOMAIN_METRICS) <= used, "a domain metric has no panel"


def test_every_alert_queries_metrics_that_exist_and_is_documented():
    groups = _yaml_docs(DEPLOY / "prometheus" / "alerts.yml")[0]["groups"]
    operations = (ROOT / "docs" / "operations.md").read_text()
    for rule in (r for g in groups for r in g["rules"]):
        names = _metric_names(rule["expr"])
        assert names and names <= _KNOWN, (rule["alert"], names - _KNOWN)
        assert rule["alert"] in operations, f"docs/operations.md does not explain {rule['alert']}"


def test_the_codec_listener_is_its_own_port_published_on_loopback_and_always_needs_oidc():
    gateway = _compose()["services"]["gateway"]
    env = gateway["environment"]
    assert int(env["SAMVERKAN_CODEC_PORT"]) == CODEC_PORT != GATEWAY_PORT
    assert f"127.0.0.1:{CODEC_PORT}:{CODEC_PORT}" in gateway["ports"]
    assert not any(
        str(p).endswith(f":{CODEC_PORT}") and str(p).count(":") == 1 for p in gateway["ports"]
    )
    for name in ("ISSUER", "AUDIENCE", "JWKS_URL"):
        assert ":?" in env[f"SAMVERKAN_CODEC_OIDC_{name}"], "compose refuses to start without it"
    ui = _compose()["services"]["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    [container] = _containers(_k8s("Deployment", "samverkan-gateway"))
    k8s_env = {e["name"]: e["value"] for e in container["env"]}
    assert _named_ports(container)["codec"] == CODEC_PORT
    assert all(k8s_env[f"SAMVERKAN_CODEC_OIDC_{n}"] for n in ("ISSUER", "AUDIENCE", "JWKS_URL"))
    assert "SAMVERKAN_CODEC_TOKEN" not in k8s_env and "SAMVERKAN_CODEC_DEV_OPEN" not in k8s_env
    codec_service = _k8s("Service", "samverkan-codec")
    assert [p["targetPort"] for p in codec_service["spec"]["ports"]] == ["codec"]
    gateway_service = _k8s("Service", "samverkan-gateway")
    assert "codec" not in {p["targetPort"] for p in gateway_service["spec"]["ports"]}
