"""deploy/helm/temporal-values.yaml holds only keys the Temporal chart it names reads.

Helm does not check values: a key the chart does not read is dropped without a word (and a few
removed ones make chart 1.x fail at install). So every key of the values file is checked
against the chart version the file names, kept in tests/deploy/data/ (origin in its README).

A key path is valid when one of these says so:

1. **values.yaml sets it**: the path exists in the chart's values.yaml. A key whose default is
   an empty map or list (``additionalEnv: []``, ``podAnnotations: {}``, ``resources: {}``,
   ``extraObjects: []``) or null is free-form: the templates hand it on whole (``toYaml``),
   so anything below it is the user's. Lists are never entered (their items are the user's),
   except ``server.config.namespaces.namespace``, whose items have the keys the chart's
   default item has.
2. **values.yaml documents it in a comment**: a commented-out ``# key:`` line (value empty,
   one word or quoted, so prose such as ``# Important: numHistoryShards cannot …`` is not
   taken) is a key at the place its indentation puts it. That is how the chart offers
   ``server.config.authorization``, ``server.config.tls`` and the datastores' fields.
3. **a template reads it**: ``.Values.a.b``, ``(index .Values.a "b-c").d``, a variable set from
   ``.Values`` and then dereferenced (``$server.config.logFormat``), the per-service
   ``$serviceValues.x`` of server-deployment.yaml (for each service it ranges over), and a
   store's ``$store.config.x``. Not _deprecations.tpl: it reads removed keys to refuse them.
4. **a named map**: ``server.config.persistence.datastores`` has store names of the user's
   choosing (``defaultStore`` / ``visibilityStore`` refer to them); each store holds one of
   the store types ``temporal.persistence.filterConfig`` ranges over (``sql``, ``cassandra``,
   ``elasticsearch``), with the fields documented or read for any store.

Anything else is an error, e.g. the chart 0.x layout's ``server.config.numHistoryShards``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
VALUES_FILE = ROOT / "deploy" / "helm" / "temporal-values.yaml"
CHART_VERSION = "1.6.0"
CHART_APP_VERSION = "1.31.2"
CHART_VALUES = DATA / f"temporal-chart-{CHART_VERSION}-values.yaml"
CHART_TEMPLATES = DATA / f"temporal-chart-{CHART_VERSION}-templates"

Key = tuple[str, ...]

DATASTORES: Key = ("server", "config", "persistence", "datastores")
#: _helpers.tpl, temporal.persistence.filterConfig: `range $storeType := list "sql" ...`
STORE_TYPES = ("sql", "cassandra", "elasticsearch")
#: Lists whose items the chart gives a shape to (its default has an item).
SHAPED_LISTS: set[Key] = {("server", "config", "namespaces", "namespace")}


class Schema:
    """What chart version ``CHART_VERSION`` accepts, from its values.yaml and templates."""

    def __init__(self, values_text: str, templates: dict[str, str]) -> None:
        self.defaults = yaml.safe_load(values_text)
        self.set_keys: set[Key] = set()
        self.free: set[Key] = set()
        self._walk_defaults(self.defaults, ())
        self.documented = documented_keys(values_text)
        self.read = template_reads(templates)
        # A store's fields: those documented or read for any store, below a store type.
        at = len(DATASTORES) + 1
        self.store_fields = {
            key[at:]
            for key in self.set_keys | self.documented | self.read
            if key[: len(DATASTORES)] == DATASTORES and len(key) > at and key[at] in STORE_TYPES
        }

    def _walk_defaults(self, node: Any, at: Key) -> None:
        if isinstance(node, dict):
            if not node and at:
                self.free.add(at)
            for name, child in node.items():
                self.set_keys.add((*at, str(name)))
                self._walk_defaults(child, (*at, str(name)))
        elif isinstance(node, list):
            if at in SHAPED_LISTS:
                for item in node:
                    self._walk_defaults(item, at)
            else:
                self.free.add(at)
        elif node is None:
            self.free.add(at)

    def valid(self, key: Key) -> bool:
        """Whether the chart reads ``key``, by rules 1-4 of the module's docstring."""
        if key[: len(DATASTORES)] == DATASTORES and len(key) > len(DATASTORES):
            return key[len(DATASTORES) + 1 :] in self.store_fields | {()}
        if key in self.set_keys or key in self.documented or key in self.read:
            return True
        return any(key[:n] in self.free for n in range(1, len(key)))


def _leaf_paths(node: Any, at: Key = ()) -> Iterator[Key]:
    """Every key path of a values document; lists are entered only where the chart shapes them."""
    if isinstance(node, dict):
        for name, child in node.items():
            yield (*at, str(name))
            yield from _leaf_paths(child, (*at, str(name)))
    elif isinstance(node, list) and at in SHAPED_LISTS:
        for item in node:
            yield from _leaf_paths(item, at)


def unknown_keys(values: dict[str, Any], schema: Schema) -> list[str]:
    """The keys of ``values`` that chart version ``CHART_VERSION`` does not read, dotted."""
    return sorted({".".join(key) for key in _leaf_paths(values) if not schema.valid(key)})


_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*):(?:\s+(.*?))?\s*$")
_TRAILING_COMMENT = re.compile(r"\s+#.*$")
_ONE_VALUE = re.compile(r"""^(?:[^\s"']+|"[^"]*"|'[^']*')$""")


def documented_keys(text: str) -> set[Key]:
    """Key paths that values.yaml shows in comments (rule 2), placed by their indentation.

    A commented key at the same indentation as a real key left empty (``default:`` followed by
    ``# sql:``) is read as that key's child, which is how the chart comments its examples."""
    found: set[Key] = set()
    stack: list[tuple[int, str, bool, bool]] = []  # indent, key, commented, empty value
    list_at: int | None = None  # keys inside a list item are the item's, not the tree's
    for raw in text.splitlines():
        line, commented = raw, False
        while line.lstrip().startswith("#"):
            column = len(line) - len(line.lstrip())
            body = line.lstrip()[1:]
            line = " " * column + (body[1:] if body.startswith(" ") else body)
            commented = True
        content = line.strip()
        if not content:
            continue
        indent = len(line) - len(line.lstrip())
        if list_at is not None:
            if indent > list_at:
                continue
            list_at = None
        if content.startswith("- "):
            list_at = indent
            continue
        match = _KEY_LINE.match(content)
        if not match:
            continue
        value = _TRAILING_COMMENT.sub("", match.group(2) or "")
        if commented and value and not _ONE_VALUE.match(value):
            continue  # prose that happens to contain a colon
        while stack and (
            stack[-1][0] > indent
            or (stack[-1][0] == indent and not (commented and not stack[-1][2] and stack[-1][3]))
        ):
            stack.pop()
        stack.append((indent, match.group(1), commented, not value))
        if commented:
            found.add(tuple(entry[1] for entry in stack))
    return found


_SERVICES = re.compile(r"range \$(\w+) := \(list ((?:\"[\w-]+\"\s*)+)\)")
_PER_SERVICE = re.compile(r"\$(\w+) := index \$?\.Values((?:\.\w+)+) \$(\w+)")
_ALIAS = re.compile(r"\$(\w+) := \$?\.Values((?:\.\w+)+)")
_DIRECT = re.compile(r"\.Values((?:\.\w+)+)")
_INDEXED = re.compile(r"\(index \$?\.Values((?:\.\w+)*) \"([\w-]+)\"\)((?:\.\w+)*)")
_TEMPLATE_COMMENT = re.compile(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", re.DOTALL)
_STORE = re.compile(r"\$store\.config((?:\.\w+)+)")


def _dotted(path: str) -> Key:
    return tuple(part for part in path.split(".") if part)


def template_reads(templates: dict[str, str]) -> set[Key]:
    """Key paths the chart's templates read (rule 3), with every prefix."""
    reads: set[Key] = set()
    for text in templates.values():
        text = _TEMPLATE_COMMENT.sub("", text)
        reads |= {_dotted(m.group(1)) for m in _DIRECT.finditer(text)}
        for m in _INDEXED.finditer(text):
            reads.add((*_dotted(m.group(1)), m.group(2), *_dotted(m.group(3))))
        for m in _ALIAS.finditer(text):
            base = _dotted(m.group(2))
            for use in re.finditer(rf"\${m.group(1)}((?:\.\w+)+)", text):
                reads.add((*base, *_dotted(use.group(1))))
        services = {
            m.group(1): re.findall(r"\"([\w-]+)\"", m.group(2)) for m in _SERVICES.finditer(text)
        }
        for m in _PER_SERVICE.finditer(text):
            for service in services.get(m.group(3), []):
                for use in re.finditer(rf"\${m.group(1)}((?:\.\w+)+)", text):
                    reads.add((*_dotted(m.group(2)), service, *_dotted(use.group(1))))
        for m in _STORE.finditer(text):
            for store_type in STORE_TYPES:
                reads.add((*DATASTORES, "<store>", store_type, *_dotted(m.group(1))))
    return {key[:n] for key in reads for n in range(1, len(key) + 1)}


@cache
def chart() -> Schema:
    # _deprecations.tpl reads removed keys only to fail the install on them.
    templates = {
        p.name: p.read_text()
        for p in sorted(CHART_TEMPLATES.iterdir())
        if p.name != "_deprecations.tpl"
    }
    return Schema(CHART_VALUES.read_text(), templates)


def _values() -> dict[str, Any]:
    return yaml.safe_load(VALUES_FILE.read_text())


# -- the values file ------------------------------------------------------------------------------


def test_the_values_file_names_the_chart_version_the_test_data_is_from():
    header = VALUES_FILE.read_text().split("\n\n", 1)[0]
    assert f'chart "temporal", chart version {CHART_VERSION}' in header
    assert f"--version {CHART_VERSION}" in header
    data_header = CHART_VALUES.read_text().splitlines()[:9]
    assert any(f'chart "temporal" version {CHART_VERSION}' in line for line in data_header)
    assert any("9f4d328c31c77c323d272d0c5f615cf02bd46dab" in line for line in data_header)
    assert "MIT License" in (DATA / "LICENSE-temporalio-helm-charts").read_text()


def test_every_key_of_the_values_file_is_read_by_the_chart():
    assert unknown_keys(_values(), chart()) == []


def test_the_temporal_images_are_the_charts_own_release():
    values, defaults = _values(), chart().defaults
    assert values["server"]["image"]["tag"] == CHART_APP_VERSION
    assert defaults["server"]["image"]["tag"] == CHART_APP_VERSION
    for part in ("server", "admintools", "web"):
        assert str(values[part]["image"]["tag"]) == str(defaults[part]["image"]["tag"]), part
        assert values[part]["image"]["repository"] == defaults[part]["image"]["repository"]


def test_the_values_trip_none_of_the_charts_removed_key_checks():
    """_deprecations.tpl fails the install on these; the values set none of them."""
    checks = (CHART_TEMPLATES / "_deprecations.tpl").read_text()
    removed = {_dotted(p) for p in re.findall(r"if \.Values((?:\.\w+)+) -\}\}", checks)}
    removed |= {
        _dotted(p) for p in re.findall(r"\$legacy\w+ := \.Values((?:\.\w+)+) -\}\}", checks)
    }
    assert ("server", "config", "persistence", "default") in removed
    assert ("schema", "createDatabase") in removed and ("cassandra",) in removed
    present = set(_leaf_paths(_values()))
    assert not removed & present, removed & present


def test_persistence_is_postgresql_for_both_stores_through_one_existing_secret():
    persistence = _values()["server"]["config"]["persistence"]
    stores = persistence["datastores"]
    assert {persistence["defaultStore"], persistence["visibilityStore"]} == set(stores)
    for store in stores.values():
        sql = store["sql"]
        assert sql["pluginName"] == "postgres12"
        host, port = sql["connectAddr"].rsplit(":", 1)
        assert host and int(port) == 5432
        assert sql["existingSecret"] and "password" not in sql
    assert persistence["numHistoryShards"] == 512


def test_the_frontend_authorizes_every_call_with_the_oidc_issuers_keys():
    values = _values()
    auth = values["server"]["config"]["authorization"]
    assert auth["authorizer"] == "default" and auth["claimMapper"] == "default"
    assert auth["permissionsClaimName"]
    ui = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}
    issuer = ui["TEMPORAL_AUTH_ISSUER_URL"].rstrip("/")
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true" and ui["TEMPORAL_AUTH_TYPE"] == "oidc"
    [jwks] = auth["jwtKeyProvider"]["keySourceURIs"]
    assert jwks.startswith(f"{issuer}/") and jwks.startswith("https://")
    assert "TEMPORAL_AUTH_CLIENT_SECRET" not in ui, "the client secret comes from a Secret"
    assert values["web"]["additionalEnvSecretName"]
    # The internal frontend (no authorizer) serves Temporal's own pods; no admin-tools pod
    # sits next to it.
    assert values["server"]["internal-frontend"]["enabled"] is True
    assert values["admintools"]["enabled"] is False


def test_one_namespace_per_municipality_and_the_ui_forwards_the_token_to_the_codec():
    values = _values()
    namespaces = values["server"]["config"]["namespaces"]
    assert namespaces["create"] is True
    names = [n["name"] for n in namespaces["namespace"]]
    assert len(names) >= 2 and len(set(names)) == len(names)
    assert all(re.fullmatch(r"samverkan-[a-z]+", name) for name in names), names
    assert {"samverkan-malmo", "samverkan-eskilstuna"} <= set(names)
    ui = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}
    assert ui["TEMPORAL_DEFAULT_NAMESPACE"] in names
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"
    assert ui["TEMPORAL_CODEC_ENDPOINT"].startswith("https://")


# -- the checker itself ---------------------------------------------------------------------------

#: The chart 0.x layout this file used to have: none of these keys is read by chart 1.6.0.
OLD_LAYOUT = """
server:
  configMapsToMount: sprig
  replicaCount: 2
  config:
    numHistoryShards: 512
    persistence:
      defaultStore: default
      default: {driver: sql, sql: {driver: postgres12, host: db, port: 5432}}
      visibility: {driver: sql, sql: {driver: postgres12, host: db, port: 5432}}
schema:
  createDatabase: {enabled: true}
  setup: {enabled: true}
  update: {enabled: true}
cassandra: {enabled: false}
mysql: {enabled: false}
postgresql: {enabled: false}
elasticsearch: {enabled: false}
prometheus: {enabled: false}
grafana: {enabled: false}
"""


def test_the_checker_refuses_the_old_layouts_keys():
    unknown = unknown_keys(yaml.safe_load(OLD_LAYOUT), chart())
    top = sorted({key for key in unknown if not any(key.startswith(f"{u}.") for u in unknown)})
    assert top == sorted(
        [
            "cassandra",
            "elasticsearch",
            "grafana",
            "mysql",
            "postgresql",
            "prometheus",
            "schema.createDatabase",
            "schema.setup",
            "schema.update",
            "server.config.numHistoryShards",
            "server.config.persistence.default",
            "server.config.persistence.visibility",
            "server.configMapsToMount",
        ]
    )
    assert "server.replicaCount" not in unknown


@pytest.mark.parametrize(
    "key",
    [
        "server.config.numHistoryShards",  # belongs under persistence
        "server.config.authorization.permissionClaimName",  # misspelt
        "server.config.persistence.datastores.default.sql.host_name",
        "server.config.persistence.datastores.default.postgres",  # not a store type
        "web.codecEndpoint",
        "server.frontend.replicas",
    ],
)
def test_the_checker_refuses_a_misplaced_or_misspelt_key(key):
    values: dict[str, Any] = {}
    node = values
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = "x"
    assert key in unknown_keys(values, chart())


@pytest.mark.parametrize(
    "key, how",
    [
        ("server.config.persistence.numHistoryShards", "set in values.yaml"),
        ("web.additionalEnv", "set in values.yaml"),
        ("server.podAnnotations.example_com/team", "free-form below an empty default"),
        ("server.config.authorization.jwtKeyProvider.refreshInterval", "documented in a comment"),
        ("server.config.tls.frontend.server.certFile", "documented in a comment"),
        ("web.temporalAddress", "documented in a comment"),
        ("server.frontend.replicaCount", "read per service by server-deployment.yaml"),
        ("server.config.logFormat", "read by server-configmap.yaml"),
        ("server.versionCheckDisabled", "read by server-deployment.yaml"),
        ("server.config.persistence.datastores.archive.sql.databaseName", "a named store"),
        ("server.config.persistence.datastores.default.sql.passwordCommand", "documented"),
        ("server.config.persistence.datastores.default.cassandra.keyspace", "documented"),
    ],
)
def test_the_checker_accepts_what_the_chart_sets_documents_or_reads(key, how):
    schema = chart()
    assert schema.valid(tuple(key.split("."))), how


def test_commented_prose_is_not_taken_for_a_key():
    documented = chart().documented
    assert ("server", "config", "persistence", "Important") not in documented
    assert ("path",) not in chart().read, "a template's comment is not a read"
    assert ("server", "config", "authorization", "permissionsClaimName") in documented
    assert (*DATASTORES, "default", "sql", "connectAddr") in documented


def test_the_frontend_and_the_codec_listener_trust_the_same_issuer_and_namespaces():
    """Temporal's authorizer and the gateway's codec listener read the same tokens alike."""
    objects = [
        doc
        for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    [gateway] = [
        c
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "samverkan-gateway"
        for c in o["spec"]["template"]["spec"]["containers"]
    ]
    codec = {e["name"]: e["value"] for e in gateway["env"]}
    [env] = [
        o["data"]
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "samverkan-env"
    ]
    values = _values()
    auth = values["server"]["config"]["authorization"]
    ui = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}
    assert auth["jwtKeyProvider"]["keySourceURIs"] == [codec["SAMVERKAN_CODEC_OIDC_JWKS_URL"]]
    assert auth["permissionsClaimName"] == codec["SAMVERKAN_CODEC_PERMISSIONS_CLAIM"]
    assert ui["TEMPORAL_AUTH_ISSUER_URL"] == codec["SAMVERKAN_CODEC_OIDC_ISSUER"]
    codec_host = ui["TEMPORAL_CODEC_ENDPOINT"].split("/")[2].split(":")[0]
    assert codec_host in codec["SAMVERKAN_CODEC_ALLOWED_HOSTS"].split(",")
    origin = "/".join(ui["TEMPORAL_AUTH_CALLBACK_URL"].split("/")[:3])
    assert origin in codec["SAMVERKAN_CODEC_CORS_ORIGINS"].split(",")
    names = [n["name"] for n in values["server"]["config"]["namespaces"]["namespace"]]
    assert sorted(names) == sorted(env["SAMVERKAN_NAMESPACES"].split(","))
