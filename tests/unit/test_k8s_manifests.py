"""The Kubernetes manifests (deploy/k8s/) agree with Kubernetes' schemas and with the code.

No cluster is needed. The kustomizations are rendered here in Python (the subset of Kustomize they use:
resources, namespace, configMapGenerator, patches, images, replicas; anything else is refused, so a new
feature cannot be silently ignored). Core kinds are validated offline with kubernetes-validate against the
bundled OpenAPI schemas, strictly (an unknown field fails). The operators' kinds (Strimzi, CloudNativePG),
which it has no schemas for, are checked structurally against shared/topics.py, shared/settings.py and the
Deployments that use them.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import json
import os
import re
import shlex
from collections.abc import Iterator
from functools import cache
from importlib import import_module
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import kubernetes_validate
import pytest
import yaml

from shared import db as shared_db
from shared.limits import PATH_LIMITS
from shared.settings import CONNECTOR, DEFAULT_PORTS, DEV_JWT_SECRET, SERVICES, Settings, role_name
from shared.topics import BY_NAME, DLQ_PARTITIONS, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES, TOPIC_CONFIGS, all_topic_names

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAYS = {"city": K8S / "overlays" / "city", "national": K8S / "overlays" / "national"}
NAMESPACE = "skolit"
#: the oldest Kubernetes the manifests are meant for (README), and the newest kubernetes-validate knows
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
#: kinds kubernetes-validate has no schema for, each checked structurally below
OPERATOR_KINDS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("kafka.strimzi.io/v1beta2", "KafkaUser"),
    ("postgresql.cnpg.io/v1", "Cluster"),
}
# a URL is an address, not a secret (SKOLIT_SS12000_TOKEN_URL: the OAuth2 token endpoint); its password is checked below
SECRET_LOOKING = re.compile(r"PASSWORD|TOKEN(?!_URL$)|SECRET|KEYS?$|CREDENTIAL", re.IGNORECASE)
#: every Skolit process with a database, Kafka and an API: the four services and the SS 12000 connector
PROCESSES = (*SERVICES, CONNECTOR)
#: the module each runs as (python -m <module>), and the KafkaUser it logs in as: the connector publishes the city's events
MODULES = {**{s: f"services.{s}" for s in SERVICES}, CONNECTOR: "connectors.ss12000"}
KAFKA_USERS = {**{s: f"skolit-{s}" for s in SERVICES}, CONNECTOR: "skolit-city"}


# ---------------------------------------------------------------- a small Kustomize


class KustomizeError(Exception):
    pass


SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "patches", "images", "replicas"}


def _load_documents(path: Path) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            raise KustomizeError(f"{path}: not a Kubernetes resource: {d!r:.80}")
    return docs


def is_builtin(api_version: str) -> bool:
    """Core and apps/autoscaling/policy... groups have no dot; CRD groups (kafka.strimzi.io) do."""
    return "." not in api_version.split("/")[0] or "/" not in api_version


def strategic_merge(base: object, patch: object, *, by_name: bool) -> object:
    """Kustomize's merge for these patches: maps merge (null deletes), lists of named items merge by name in
    built-in kinds (a strategic merge patch), other lists and every list of a custom resource are replaced
    (a JSON merge patch, which is what Kustomize applies to CRDs)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, by_name=by_name)
            else:
                out[key] = copy.deepcopy(value)
        return out
    named = lambda items: isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)  # noqa: E731
    if by_name and named(base) and named(patch):
        out_list = [copy.deepcopy(i) for i in base]  # type: ignore[union-attr]
        for item in patch:  # type: ignore[union-attr]
            for index, existing in enumerate(out_list):
                if existing["name"] == item["name"]:
                    out_list[index] = strategic_merge(existing, item, by_name=by_name)
                    break
            else:
                out_list.append(copy.deepcopy(item))
        return out_list
    return copy.deepcopy(patch)


def pod_spec(resource: dict) -> dict | None:
    if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return resource["spec"]["template"]["spec"]
    return None


def all_containers(resource: dict) -> list[dict]:
    spec = pod_spec(resource)
    if spec is None:
        return []
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, digest or None


CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass"}


def render(directory: Path) -> list[dict]:
    """What ``kubectl kustomize directory`` gives for the features these kustomizations use."""
    path = directory / "kustomization.yaml"
    k = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(k) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{path}: this renderer does not implement {sorted(unknown)}")
    resources: list[dict] = []
    for entry in k.get("resources") or []:
        target = (directory / entry).resolve()
        if target.is_dir():
            resources += render(target)
        elif target.is_file():
            resources += _load_documents(target)
        else:
            raise KustomizeError(f"{path}: resource {entry} does not exist")
    for generator in k.get("configMapGenerator") or []:
        options = generator.get("options") or {}
        if not options.get("disableNameSuffixHash"):
            raise KustomizeError(f"{path}: name suffix hashes are not implemented; set disableNameSuffixHash")
        unknown = set(generator) - {"name", "files", "literals", "options"}
        if unknown or set(options) - {"disableNameSuffixHash", "labels"}:
            raise KustomizeError(f"{path}: configMapGenerator field(s) not implemented: {sorted(unknown)}")
        data: dict[str, str] = {}
        for file in generator.get("files") or []:
            data[Path(file).name] = (directory / file).read_text(encoding="utf-8")
        for literal in generator.get("literals") or []:
            key, _, value = literal.partition("=")
            data[key] = value
        metadata = {"name": generator["name"]}
        if options.get("labels"):
            metadata["labels"] = dict(options["labels"])
        resources.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
    for entry in k.get("patches") or []:
        if set(entry) != {"path"}:
            raise KustomizeError(f"{path}: only `patches: - path:` (by kind and name) is implemented, not {entry}")
        for patch in _load_documents(directory / entry["path"]):
            matches = [r for r in resources if r["kind"] == patch["kind"] and r["metadata"]["name"] == patch["metadata"]["name"]]
            if len(matches) != 1:
                raise KustomizeError(f"{path}: patch {patch['kind']}/{patch['metadata']['name']} matches {len(matches)} resources")
            target_resource = matches[0]
            merged = strategic_merge(target_resource, patch, by_name=is_builtin(target_resource["apiVersion"]))
            resources[resources.index(target_resource)] = merged  # type: ignore[assignment]
    if "namespace" in k:
        for r in resources:
            if r["kind"] not in CLUSTER_SCOPED:
                r["metadata"]["namespace"] = k["namespace"]
    for image in k.get("images") or []:
        found = False
        for r in resources:
            for container in all_containers(r):
                name, tag, digest = _split_image(container["image"])
                if name != image["name"]:
                    continue
                found = True
                name = image.get("newName", name)
                tag = image.get("newTag", tag)
                digest = image.get("digest", digest)
                container["image"] = name + (f":{tag}" if tag and not digest else "") + (f"@{digest}" if digest else "")
        if not found:
            raise KustomizeError(f"{path}: images: no container uses {image['name']}")
    for replica in k.get("replicas") or []:
        matches = [r for r in resources if r["kind"] in ("Deployment", "StatefulSet") and r["metadata"]["name"] == replica["name"]]
        if not matches:
            raise KustomizeError(f"{path}: replicas: no workload named {replica['name']}")
        for r in matches:
            r["spec"]["replicas"] = int(replica["count"])
    return resources


TARGETS = {"base": BASE, **OVERLAYS}


@cache
def _rendered(target: str) -> tuple[dict, ...]:
    return tuple(render(TARGETS[target]))


def rendered(target: str) -> list[dict]:
    return copy.deepcopy(list(_rendered(target)))


def find(resources: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [r for r in resources if r["kind"] == kind and (name is None or r["metadata"]["name"] == name)]


def one(resources: list[dict], kind: str, name: str) -> dict:
    found = find(resources, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def main_container(deployment: dict) -> dict:
    name = deployment["metadata"]["name"]
    containers = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert len(containers) == 1, f"{name}: the service's container must be named {name}"
    return containers[0]


def init_container(deployment: dict, name: str) -> dict:
    found = [c for c in deployment["spec"]["template"]["spec"].get("initContainers") or [] if c["name"] == name]
    assert len(found) == 1, f"{deployment['metadata']['name']}: no init container {name}"
    return found[0]


def port_number(container: dict, port: int | str) -> int:
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
    assert port in named, f"container {container['name']} has no port named {port}"
    return named[port]


def quantity(value: str | int) -> float:
    """Kubernetes quantities to a number: CPU in cores, memory in bytes."""
    text = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def input_topics(service: str) -> list[str]:
    return list(import_module(f"services.{service}.app").SPEC.all_handlers().topics)


def max_useful_replicas(service: str) -> int:
    """Beyond the partition count of its busiest input topic, a replica makes no topic go faster."""
    return max(BY_NAME[t].partitions for t in input_topics(service))


def kafka_cluster(resources: list[dict]) -> dict:
    found = find(resources, "Kafka")
    assert len(found) == 1, "one Strimzi Kafka cluster"
    return found[0]


def postgres_cluster(resources: list[dict]) -> dict:
    found = find(resources, "Cluster")
    assert len(found) == 1, "one CloudNativePG cluster (docs/decisions/0008)"
    return found[0]


# ---------------------------------------------------------------- environment: what the code reads


def _runtime_sources(service: str) -> list[Path]:
    # shared/ is runtime only: the development tooling (make run, the embedded servers, the CLIs) is in devkit/
    own = ROOT / "connectors" if service == CONNECTOR else ROOT / "services" / service
    return sorted((ROOT / "shared").rglob("*.py")) + sorted(own.rglob("*.py"))


def _is_environ_read(func: ast.expr) -> bool:
    text = ast.unparse(func)
    return text in ("os.environ.get", "os.getenv", "environ.get", "getenv")


def _template(node: ast.expr, service: str) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        # the formatted part of an env name in these modules is the service's name, upper-cased
        return "".join(v.value if isinstance(v, ast.Constant) else service.upper() for v in node.values)
    return None


def _helpers(tree: ast.Module) -> dict[str, str]:
    """Functions that read ``prefix + their first argument`` from the environment: name → prefix. Also through another
    helper of the module (connectors/ss12000/settings.py's ``_number(name)`` reads ``_env(name)``)."""
    helpers: dict[str, str] = {}
    functions = [fn for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and fn.args.args]
    changed = True
    while changed:
        changed = False
        for fn in functions:
            if fn.name in helpers:
                continue
            param = fn.args.args[0].arg
            for call in ast.walk(fn):
                if not (isinstance(call, ast.Call) and call.args):
                    continue
                through = isinstance(call.func, ast.Name) and call.func.id in helpers
                if not (_is_environ_read(call.func) or through):
                    continue
                outer = helpers[call.func.id] if through else ""  # type: ignore[union-attr]
                arg = call.args[0]
                if isinstance(arg, ast.Name) and arg.id == param:
                    helpers[fn.name] = outer
                elif isinstance(arg, ast.JoinedStr) and len(arg.values) == 2 and isinstance(arg.values[0], ast.Constant) \
                        and isinstance(arg.values[1], ast.FormattedValue) and ast.unparse(arg.values[1].value) == param:
                    helpers[fn.name] = outer + str(arg.values[0].value)
                else:
                    continue
                changed = True
                break
    return helpers


@cache
def env_names_read(service: str) -> frozenset[str]:
    """Every environment variable the service's process reads: shared/ (less the development tools) and
    services/<service>/, rendered for this service."""
    names: set[str] = set()
    for source in _runtime_sources(service):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        helpers = _helpers(tree)
        helper_bodies = {id(n) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and fn.name in helpers for n in ast.walk(fn)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                name = _template(node.slice, service)  # type: ignore[arg-type]
                if name:
                    names.add(name)
            if not isinstance(node, ast.Call) or not node.args or id(node) in helper_bodies:
                continue
            if _is_environ_read(node.func):
                name = _template(node.args[0], service)
            elif isinstance(node.func, ast.Name) and node.func.id in helpers:
                suffix = _template(node.args[0], service)
                name = helpers[node.func.id] + suffix if suffix else None
            else:
                name = None
            if name:
                names.add(name)
    names |= {variable for variable, _ in PATH_LIMITS.get(service, {}).values()}
    return frozenset(names)


REQUIRED_EVERYWHERE = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SKOLIT_HTTP_HOST", "SKOLIT_JWT_JWKS_URL",
                       "SKOLIT_JWT_ISSUER", "SKOLIT_JWT_AUDIENCE")
REQUIRED_NOTIFICATION = ("SKOLIT_NOTIFICATION_KEYS", "SKOLIT_NOTIFICATION_CALLBACK_TOKEN", "SKOLIT_NOTIFICATION_GATEWAY_TOKEN",
                         "SKOLIT_NOTIFICATION_SMTP_HOST", "SKOLIT_NOTIFICATION_SMS_URL", "SKOLIT_NOTIFICATION_PUSH_URL",
                         "SKOLIT_NOTIFICATION_WEB_URL", "SKOLIT_NOTIFICATION_PUBLIC_URL")
#: read by asyncpg (libpq's variable) when DATABASE_URL carries no password: only the provision step gets it
LIBPQ_VARIABLES = {"PGPASSWORD"}


REQUIRED_CONNECTOR = ("SKOLIT_SS12000_URL", "SKOLIT_SS12000_CLIENT_ID", "SKOLIT_SS12000_CLIENT_SECRET")


def required(service: str) -> set[str]:
    names = {*REQUIRED_EVERYWHERE, f"SKOLIT_{service.upper()}_DB_PASSWORD"}
    if service == "notification":
        names |= set(REQUIRED_NOTIFICATION)
    if service == CONNECTOR:
        names |= set(REQUIRED_CONNECTOR)
    return names


def secret_placeholder(name: str, key: str) -> str:
    return f"secret:{name}/{key}"


def container_env(resources: list[dict], container: dict) -> dict[str, str]:
    """The environment Kubernetes gives the container, with a placeholder for each Secret value."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        assert set(source) == {"configMapRef"}, f"{container['name']}: envFrom only from ConfigMaps (Secrets key by key)"
        config_map = one(resources, "ConfigMap", source["configMapRef"]["name"])
        env.update({k: str(v) for k, v in (config_map.get("data") or {}).items()})
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_placeholder(ref["name"], ref["key"])
    return env


def secret_refs(container: dict) -> dict[str, tuple[str, str]]:
    return {
        item["name"]: (item["valueFrom"]["secretKeyRef"]["name"], item["valueFrom"]["secretKeyRef"]["key"])
        for item in container.get("env") or []
        if "secretKeyRef" in (item.get("valueFrom") or {})
    }


@pytest.fixture
def environment_of(monkeypatch: pytest.MonkeyPatch):
    """Replace the process environment with a container's, for Settings.from_env and friends."""

    def apply(env: dict[str, str]) -> None:
        for name in list(os.environ):
            if name.startswith(("SKOLIT_", "KAFKA_", "PG")) or name == "DATABASE_URL":
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


# ---------------------------------------------------------------- parametrisation

ALL_TARGETS = [pytest.param(t, id=t) for t in TARGETS]
TARGET_SERVICE = [pytest.param(t, s, id=f"{t}-{s}") for t in TARGETS for s in SERVICES]
#: the four services and the connector: what holds for every Deployment that runs a Skolit process with a database
TARGET_PROCESS = [pytest.param(t, s, id=f"{t}-{s}") for t in TARGETS for s in PROCESSES]


# ---------------------------------------------------------------- the renderer itself


def test_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(KustomizeError, match="commonLabels"):
        render(tmp_path)


def test_renderer_merges_named_lists_in_builtin_kinds_and_replaces_them_in_custom_ones() -> None:
    base = {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}, {"name": "b"}]}
    patch = {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}]}
    merged = strategic_merge(base, patch, by_name=True)
    assert merged == {"containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                                     {"name": "b"}]}
    assert strategic_merge(base, patch, by_name=False) == patch
    assert strategic_merge({"a": 1, "b": 2}, {"b": None}, by_name=True) == {"a": 1}
    assert is_builtin("apps/v1") and is_builtin("v1") and is_builtin("autoscaling/v2")
    assert not is_builtin("kafka.strimzi.io/v1beta2") and not is_builtin("postgresql.cnpg.io/v1")


def test_renderer_images_and_replicas(tmp_path: Path) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "d", "image": "skolit"}]}}}}
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(deployment))
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["d.yaml"], "namespace": "n",
        "images": [{"name": "skolit", "newName": "registry.invalid/skolit", "newTag": "1.2"}],
        "replicas": [{"name": "d", "count": 3}],
    }))
    (out,) = render(tmp_path)
    assert out["metadata"]["namespace"] == "n" and out["spec"]["replicas"] == 3
    assert out["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.invalid/skolit:1.2"


def test_env_reader_finds_the_variables_the_code_reads() -> None:
    """Guards the AST reader: the real names, per service, and nothing from another service."""
    notification = env_names_read("notification")
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SKOLIT_HTTP_HOST", "SKOLIT_JWT_JWKS_URL", "SKOLIT_LOG_LEVEL",
                 "SKOLIT_NOTIFICATION_PORT", "SKOLIT_NOTIFICATION_DB_PASSWORD", "SKOLIT_NOTIFICATION_KEYS",
                 "SKOLIT_NOTIFICATION_SMTP_HOST", "SKOLIT_NOTIFICATION_SMTP_PASSWORD", "SKOLIT_NOTIFICATION_CALLBACK_TOKEN",
                 "SKOLIT_MAX_BODY_BYTES"):
        assert name in notification, name
    assert "SKOLIT_CATALOG_PORT" not in notification
    catalog = env_names_read("catalog")
    assert {"SKOLIT_CATALOG_LICENCE_NOTICE_DAYS", "SKOLIT_CATALOG_MAX_IMPORT_BYTES", "SKOLIT_CATALOG_DB_PASSWORD"} <= catalog
    assert not any(n.startswith("SKOLIT_NOTIFICATION_") for n in catalog)
    assert "SKOLIT_DATA_DIR" not in catalog, "development tools are not the service's runtime"
    connector = env_names_read(CONNECTOR)
    # SKOLIT_SS12000_PAGE_SIZE is read through _number(name) -> _env(name): a helper of a helper
    assert {"SKOLIT_CONNECTOR_DB_PASSWORD", "SKOLIT_CONNECTOR_PORT", "SKOLIT_CONNECTOR_MAX_IMPORT_BYTES", "SKOLIT_SS12000_URL",
            "SKOLIT_SS12000_CLIENT_SECRET", "SKOLIT_SS12000_CLIENT_SECRET_FILE", "SKOLIT_SS12000_PAGE_SIZE",
            "SKOLIT_SS12000_SYNC_SECONDS", "SKOLIT_SS12000_WEBHOOK_URL", "SKOLIT_SS12000_TOKEN_URL"} <= connector
    assert not any(n.startswith(("SKOLIT_NOTIFICATION_", "SKOLIT_CATALOG_")) for n in connector)
    assert not any(n.startswith("SKOLIT_SS12000_") for n in catalog), "connectors/ is the connector's alone"


# ---------------------------------------------------------------- schemas


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_core_kinds_are_valid_against_the_kubernetes_schemas(target: str) -> None:
    resources = rendered(target)
    checked = 0
    for resource in resources:
        key = (resource["apiVersion"], resource["kind"])
        if key in OPERATOR_KINDS:
            continue
        assert is_builtin(resource["apiVersion"]), f"{key}: neither a core kind nor one of the operators' kinds checked here"
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(resource, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                pytest.fail(f"{resource['kind']}/{resource['metadata']['name']} (Kubernetes {version}) at {where}: {exc.message}")
        checked += 1
    kinds = {r["kind"] for r in resources if (r["apiVersion"], r["kind"]) not in OPERATOR_KINDS}
    assert {"Namespace", "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert checked >= 4 * 4 + 2


def test_the_validator_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(one(rendered("base"), "Deployment", "catalog"))
    main_container(deployment)["readinesProbe"] = main_container(deployment).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_namespaced_resource_is_in_the_skolit_namespace(target: str) -> None:
    resources = rendered(target)
    assert [r["metadata"]["name"] for r in find(resources, "Namespace")] == [NAMESPACE]
    for r in resources:
        if r["kind"] != "Namespace":
            assert r["metadata"].get("namespace") == NAMESPACE, f"{r['kind']}/{r['metadata']['name']}"
    names = [(r["kind"], r["metadata"]["name"]) for r in resources]
    assert len(names) == len(set(names)), "a resource is declared twice"


# ---------------------------------------------------------------- the four services


@pytest.mark.parametrize(("target", "service"), TARGET_SERVICE)
def test_service_has_deployment_service_autoscaler_and_disruption_budget(target: str, service: str) -> None:
    resources = rendered(target)
    deployment = one(resources, "Deployment", service)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()

    svc = one(resources, "Service", service)
    assert svc["spec"]["selector"].items() <= pod_labels.items(), "the Service must select the pods"
    (port,) = svc["spec"]["ports"]
    assert port["port"] == DEFAULT_PORTS[service]
    assert port_number(main_container(deployment), port["targetPort"]) == DEFAULT_PORTS[service]

    pdb = one(resources, "PodDisruptionBudget", service)
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable", 0) < deployment["spec"]["replicas"]

    hpa = one(resources, "HorizontalPodAutoscaler", service)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


@pytest.mark.parametrize(("target", "service"), TARGET_SERVICE)
def test_autoscaler_stays_within_the_partitions_of_the_input_topics(target: str, service: str) -> None:
    resources = rendered(target)
    hpa = one(resources, "HorizontalPodAutoscaler", service)["spec"]
    deployment = one(resources, "Deployment", service)
    topics = input_topics(service)
    assert topics, f"{service} consumes nothing?"
    assert hpa["maxReplicas"] <= max_useful_replicas(service), (
        f"{service}: maxReplicas {hpa['maxReplicas']} > {max_useful_replicas(service)} partitions of its input topics "
        f"{topics}: the extra replicas would get no partition to consume"
    )
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    assert deployment["spec"]["replicas"] == hpa["minReplicas"], "the Deployment starts where the autoscaler would"


# ---------------------------------------------------------------- the SS 12000 connector


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_the_connector_runs_as_one_replica_that_never_overlaps_another(target: str) -> None:
    """A sync must not run twice at once: one replica, no autoscaler to add more, and a rollout that stops the old pod
    before the new one starts (a RollingUpdate surges, or starts the new pod while the old one drains)."""
    resources = rendered(target)
    deployment = one(resources, "Deployment", CONNECTOR)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert not [h for h in find(resources, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == CONNECTOR]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selecting = [d["metadata"]["name"] for d in find(resources, "Deployment")
                 if d["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()]
    assert selecting == [CONNECTOR], "no other workload runs connector pods"

    svc = one(resources, "Service", CONNECTOR)
    assert svc["spec"]["selector"].items() <= pod_labels.items(), "the Service must select the pod"
    (port,) = svc["spec"]["ports"]
    assert port["port"] == DEFAULT_PORTS[CONNECTOR] and port_number(main_container(deployment), port["targetPort"]) == DEFAULT_PORTS[CONNECTOR]


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_the_connectors_kafka_user_writes_what_it_produces_and_reads_nothing(target: str) -> None:
    """It logs in as the city's KafkaUser: Write on every topic of the events it produces (the idempotent producer needs
    no more, KIP-679), and no Read or group: it consumes nothing."""
    from connectors.ss12000.app import SPEC

    assert not SPEC.all_handlers().topics, "the connector consumes no topic"
    produced = {model.TOPIC for model in SPEC.produces}
    user = one(rendered(target), "KafkaUser", KAFKA_USERS[CONNECTOR])
    acls = user["spec"]["authorization"]["acls"]
    writes = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic" and a["resource"]["patternType"] == "literal"
              and "Write" in a["operations"]}
    assert produced and produced <= writes, f"skolit-city may not write {sorted(produced - writes)}"
    assert not [a for a in acls if "Read" in a["operations"] or a["resource"]["type"] == "group"], "it reads nothing"
    describe = [a for a in acls if a["operations"] == ["Describe"]]
    assert [(a["resource"]["name"], a["resource"]["patternType"]) for a in describe] == [("skolit.", "prefixed")], "wait-for-topics lists them"


def test_the_connectors_settings_resolve_to_the_citys_api_not_to_nothing(environment_of) -> None:
    from connectors.ss12000.settings import Ss12000Settings

    for target in TARGETS:
        resources = rendered(target)
        env = container_env(resources, main_container(one(resources, "Deployment", CONNECTOR)))
        environment_of(env)
        settings = Ss12000Settings.from_env()
        assert settings.configured, "SKOLIT_SS12000_URL: without it the connector serves the imports only"
        for url in (settings.url or "", settings.token_endpoint, settings.webhook_url or ""):
            assert url.startswith("https://"), url
        assert settings.client_id and settings.client_secret == secret_placeholder("skolit-ss12000", "client-secret")
        assert "SKOLIT_KEYVAULT_MASTER_KEY" not in env, "it seals no person id: the master key stays with the services"


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_probes_ask_the_service_on_its_port(target: str, service: str) -> None:
    container = main_container(one(rendered(target), "Deployment", service))
    (port,) = container["ports"]
    assert port["containerPort"] == DEFAULT_PORTS[service] and port.get("protocol", "TCP") == "TCP"
    expected = {"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{probe} asks {get['path']}"
        assert port_number(container, get["port"]) == DEFAULT_PORTS[service], probe
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "migrations under a lock need time"


def _compose_command(service: str) -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    command = compose["services"][service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _dockerfile_entrypoint() -> list[str]:
    lines = [line for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith("ENTRYPOINT")]
    return json.loads(lines[-1].split(None, 1)[1])


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_commands_are_the_compose_command_with_provisioning_split_off(target: str, service: str) -> None:
    deployment = one(rendered(target), "Deployment", service)
    compose = _compose_command(service)
    assert _dockerfile_entrypoint() == ["python", "-m"]
    container = main_container(deployment)
    assert "command" not in container, "the image's ENTRYPOINT (python -m) stays"
    assert container["args"] == [a for a in compose if a != "--provision"] == [MODULES[service], "serve"]
    # compose's `serve --provision`: here an init container runs `provision` before the service starts
    assert "--provision" in compose
    provision = init_container(deployment, "provision")
    assert "command" not in provision and provision["args"] == [MODULES[service], "provision"]


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_one_image_with_a_fixed_tag(target: str, service: str) -> None:
    resources = rendered(target)
    images = {c["image"] for d in find(resources, "Deployment") for c in all_containers(d)}
    assert len(images) == 1, f"one image for every service and init container, not {images}"
    (image,) = images
    _, tag, digest = _split_image(image)
    assert (tag and tag != "latest") or digest, image
    for c in all_containers(one(resources, "Deployment", service)):
        assert c.get("imagePullPolicy") == "IfNotPresent"


def _uvicorn_drain_seconds() -> float:
    tree = ast.parse((ROOT / "shared" / "cli.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "timeout_graceful_shutdown":
            return float(ast.literal_eval(node.value))
    raise AssertionError("shared/cli.py passes no timeout_graceful_shutdown to uvicorn")


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_pods_get_time_to_drain(target: str, service: str) -> None:
    spec = one(rendered(target), "Deployment", service)["spec"]["template"]["spec"]
    pre_stop = main_container(one(rendered(target), "Deployment", service))["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    sleep = float(pre_stop[1])
    assert spec["terminationGracePeriodSeconds"] > sleep + _uvicorn_drain_seconds(), (
        "SIGKILL would cut the HTTP drain and the consumer's batch in flight short"
    )


def _dockerfile_uid() -> int:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r"useradd[^\n]*--uid (\d+)", text)
    assert match, "the Dockerfile creates its user with a fixed uid"
    return int(match.group(1))


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_pods_run_unprivileged_with_a_read_only_root(target: str, service: str) -> None:
    deployment = one(rendered(target), "Deployment", service)
    spec = deployment["spec"]["template"]["spec"]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == _dockerfile_uid()
    assert pod["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec.get("automountServiceAccountToken") is False, "the services never call the Kubernetes API"
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for c in all_containers(deployment):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), c["name"]
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{c['name']}: a writable /tmp"


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_resources_requested_and_limited(target: str, service: str) -> None:
    deployment = one(rendered(target), "Deployment", service)
    for c in all_containers(deployment):
        requests, limits = c["resources"]["requests"], c["resources"]["limits"]
        for kind in ("cpu", "memory"):
            assert quantity(requests[kind]) <= quantity(limits[kind]), f"{c['name']}: {kind} request over its limit"
    main = main_container(deployment)["resources"]
    # peaks measured well under 200 MiB (notification, the largest: 133 MiB, docs/benchmarks/broadcast.md)
    assert quantity(main["limits"]["memory"]) >= 200 * 2**20
    assert quantity(main["requests"]["memory"]) >= 128 * 2**20
    # one event loop: a second core would never be used, and the autoscaler measures against the request
    assert quantity(main["limits"]["cpu"]) <= 1


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_prometheus_scrapes_the_metrics_port(target: str, service: str) -> None:
    template = one(rendered(target), "Deployment", service)["spec"]["template"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    assert int(annotations["prometheus.io/port"]) == DEFAULT_PORTS[service]


# ---------------------------------------------------------------- environment


def service_link_names(service_name: str, ports: list[dict]) -> set[str]:
    """The variables Kubernetes' service links would put into every pod of the namespace."""
    prefix = service_name.upper().replace("-", "_")
    names = {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
    for p in ports:
        proto = p.get("protocol", "TCP")
        base = f"{prefix}_PORT_{p['port']}_{proto}"
        names |= {base, f"{base}_PROTO", f"{base}_PORT", f"{base}_ADDR"}
        if p.get("name"):
            names.add(f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}")
    return names


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_service_links_cannot_shadow_a_setting(target: str, service: str) -> None:
    resources = rendered(target)
    spec = one(resources, "Deployment", service)["spec"]["template"]["spec"]
    assert spec.get("enableServiceLinks") is False, "service links inject <SERVICE>_PORT=tcp://... variables"
    # and even with them on, no Service in the namespace would collide with a setting today
    read = env_names_read(service)
    for svc in find(resources, "Service"):
        clash = service_link_names(svc["metadata"]["name"], svc["spec"]["ports"]) & read
        assert not clash, f"Service {svc['metadata']['name']} would set {clash}"
    # ... which would not hold for a Service named skolit-<service>: the check above is not vacuous
    assert f"SKOLIT_{service.upper()}_PORT" in service_link_names(f"skolit-{service}", [{"port": 1}]) & read


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_every_variable_set_is_read_and_every_required_one_is_set(target: str, service: str) -> None:
    resources = rendered(target)
    deployment = one(resources, "Deployment", service)
    read = env_names_read(service)
    main = container_env(resources, main_container(deployment))
    unknown = sorted(set(main) - read)
    assert not unknown, f"{service} sets variables its code never reads: {unknown}"
    missing = sorted(required(service) - set(main))
    assert not missing, f"{service} lacks required variables: {missing}"
    for name in ("SKOLIT_JWT_SECRET", "SKOLIT_ALLOW_CLOCK_OVERRIDE"):
        assert name not in main, f"{name} is for development and tests only"
    for init in deployment["spec"]["template"]["spec"]["initContainers"]:
        env = container_env(resources, init)
        unknown = sorted(set(env) - read - LIBPQ_VARIABLES)
        assert not unknown, f"{service} init container {init['name']} sets unread variables {unknown}"
    assert "PGPASSWORD" not in main, "the superuser's password stays in the provision step"


@pytest.mark.parametrize(("target", "service"), TARGET_PROCESS)
def test_settings_resolve_to_the_cluster_not_to_development_defaults(target: str, service: str, environment_of) -> None:
    resources = rendered(target)
    deployment = one(resources, "Deployment", service)
    container = main_container(deployment)
    env = container_env(resources, container)
    environment_of(env)
    settings = Settings.from_env(service)

    cluster = postgres_cluster(resources)
    url = urlsplit(settings.database_url)
    assert url.hostname == f"{cluster['metadata']['name']}-rw", "the CloudNativePG primary's Service"
    assert (url.port or 5432) == 5432 and url.path == "/" + cluster["spec"]["bootstrap"]["initdb"]["database"]
    assert url.username == role_name(service)
    assert unquote(url.password or "") == secret_placeholder(f"skolit-{service}-db", "password"), "its own role's password"

    kafka = kafka_cluster(resources)
    name = kafka["metadata"]["name"]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert all(lst["tls"] is True for lst in listeners), "no plaintext listener: every client is encrypted"
    secure = [lst for lst in listeners if lst["type"] == "internal" and (lst.get("authentication") or {}).get("type") == "scram-sha-512"]
    assert secure, "an internal TLS listener with SCRAM-SHA-512 logins"
    assert settings.kafka_bootstrap_servers == f"{name}-kafka-bootstrap:{secure[0]['port']}"
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple", "the KafkaUsers' ACLs are enforced"
    # it logs in as its own KafkaUser, whose password the User Operator keeps in <secretPrefix><user>, and trusts the cluster CA
    security = settings.kafka_security
    kafka_user = KAFKA_USERS[service]
    assert (security.protocol, security.sasl_mechanism, security.username) == ("SASL_SSL", "SCRAM-SHA-512", kafka_user)
    prefix = kafka["spec"]["entityOperator"]["userOperator"].get("secretPrefix", "")
    user = one(resources, "KafkaUser", kafka_user)
    assert user["spec"]["authentication"]["type"] == "scram-sha-512" and user["metadata"]["labels"]["strimzi.io/cluster"] == name
    assert secret_refs(container)["KAFKA_SASL_PASSWORD"] == (f"{prefix}{kafka_user}", "password")
    assert security.password == secret_placeholder(f"{prefix}{kafka_user}", "password")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    ca = [v for v in volumes.values() if (v.get("secret") or {}).get("secretName") == f"{name}-cluster-ca-cert"]
    assert len(ca) == 1 and security.cafile == f"{mounts[ca[0]['name']]}/ca.crt", "KAFKA_SSL_CAFILE is the mounted cluster CA"
    wait = init_container(deployment, "wait-for-topics")
    assert secret_refs(wait)["KAFKA_SASL_PASSWORD"] == (f"{prefix}{kafka_user}", "password"), "the init container logs in too"

    assert settings.http_host == "0.0.0.0" and settings.http_port == DEFAULT_PORTS[service]
    assert settings.jwt_secret is None and settings.jwt_secret != DEV_JWT_SECRET, "RS256 from the city's JWKS"
    assert (settings.jwt_jwks_url or "").startswith("https://") and settings.jwt_issuer and settings.jwt_audience
    assert settings.allow_clock_override is False

    # provisioning sets the password the service then logs in with: the same Secret, and the superuser's own
    provision = init_container(deployment, "provision")
    db_password = f"SKOLIT_{service.upper()}_DB_PASSWORD"
    assert secret_refs(provision)[db_password] == secret_refs(container)[db_password] == (f"skolit-{service}-db", "password")
    assert secret_refs(provision)["PGPASSWORD"] == (f"{cluster['metadata']['name']}-superuser", "password")
    assert cluster["spec"]["enableSuperuserAccess"] is True, "CloudNativePG creates the superuser Secret only then"
    admin = urlsplit(container_env(resources, provision)["DATABASE_URL"])
    assert admin.username == "postgres" and admin.password is None, "the admin password comes from PGPASSWORD"


def test_notification_settings_leave_every_development_default(environment_of) -> None:
    from services.notification import crypto
    from services.notification.settings import DEV_CALLBACK_TOKEN, NotificationSettings

    for target in TARGETS:
        resources = rendered(target)
        env = container_env(resources, main_container(one(resources, "Deployment", "notification")))
        environment_of(env)
        ns = NotificationSettings.from_env()
        assert ns.callback_token == secret_placeholder("skolit-notification", "callback-token") != DEV_CALLBACK_TOKEN
        assert ns.gateway_token == secret_placeholder("skolit-notification", "gateway-token")
        assert env["SKOLIT_NOTIFICATION_KEYS"] == secret_placeholder("skolit-notification", "keys") != crypto.DEV_KEYS
        assert ns.smtp_host not in ("127.0.0.1", "localhost") and ns.smtp_starttls
        for url in (ns.sms_url, ns.push_url, ns.public_url, ns.web_url):
            assert url.startswith("https://"), url


# ---------------------------------------------------------------- secrets


def test_no_secret_values_in_the_manifests() -> None:
    files = sorted(p for p in K8S.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".py", ".md"))
    text = "\n".join(p.read_text(encoding="utf-8") for p in files)
    from services.notification import crypto
    from services.notification.settings import DEV_CALLBACK_TOKEN

    for dev_value in (DEV_JWT_SECRET, DEV_CALLBACK_TOKEN, crypto.DEV_KEYS.split(":", 1)[1], *(f"skolit-{s}-dev" for s in PROCESSES)):
        assert dev_value not in text, f"a development secret is in deploy/k8s/: {dev_value}"
    for target in TARGETS:
        resources = rendered(target)
        assert not find(resources, "Secret"), "Secrets are referenced by name, never written here"
        for config_map in find(resources, "ConfigMap"):
            for key, value in (config_map.get("data") or {}).items():
                if key.endswith(".py"):
                    continue
                assert not SECRET_LOOKING.search(key), f"ConfigMap {config_map['metadata']['name']} holds {key}"
                if "://" in str(value):
                    assert urlsplit(str(value)).password is None, f"{key} carries a password"
        for deployment in find(resources, "Deployment"):
            for c in all_containers(deployment):
                for item in c.get("env") or []:
                    if SECRET_LOOKING.search(item["name"]):
                        assert "secretKeyRef" in (item.get("valueFrom") or {}), f"{item['name']} must come from a Secret"


def test_readme_documents_every_secret_and_key() -> None:
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    for deployment in find(rendered("base"), "Deployment"):
        for c in all_containers(deployment):
            for variable, (secret, key) in secret_refs(c).items():
                assert secret in readme and f"`{key}`" in readme, f"README.md does not list Secret {secret}, key {key}"
                assert variable in readme, f"README.md does not say what {variable} is"


# ---------------------------------------------------------------- Kafka


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_topics", K8S / "generate_topics.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_topics_are_committed_as_generated() -> None:
    generator = _generator()
    committed = (BASE / "kafka" / "topics.yaml").read_text(encoding="utf-8")
    assert committed == generator.render(), "run .venv/bin/python deploy/k8s/generate_topics.py"
    assert generator.main(["--check"]) == 0


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_topic_and_dead_letter_topic_is_a_kafka_topic(target: str) -> None:
    resources = rendered(target)
    cluster_name = kafka_cluster(resources)["metadata"]["name"]
    topics = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in find(resources, "KafkaTopic")}
    declared = dict(all_topic_names())
    assert set(topics) == set(declared), f"missing {set(declared) - set(topics)}, extra {set(topics) - set(declared)}"
    for name, partitions in declared.items():
        spec = topics[name]["spec"]
        assert topics[name]["metadata"]["labels"]["strimzi.io/cluster"] == cluster_name, name
        assert spec["partitions"] == partitions, f"{name}: {spec['partitions']} partitions, shared/topics.py says {partitions}"
        assert spec["replicas"] == 3, name
        config = spec["config"]
        assert config["min.insync.replicas"] == "2", name
        retention = int(config["retention.ms"])
        if name.endswith(".dlq"):
            assert partitions == DLQ_PARTITIONS and retention >= 30 * 86_400_000, f"{name}: dead letters are kept for weeks"
        else:
            assert retention == -1, f"{name}: `rebuild` and new consumers replay the topic from its first event"


def test_kafka_cluster_is_kraft_with_three_nodes_and_a_topic_operator() -> None:
    resources = rendered("base")
    kafka = kafka_cluster(resources)
    pools = [p for p in find(resources, "KafkaNodePool") if p["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]]
    assert sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"]) >= 3, "3 brokers for 3 replicas"
    assert sum(p["spec"]["replicas"] for p in pools if "controller" in p["spec"]["roles"]) % 2 == 1, "an odd KRaft quorum"
    assert "zookeeper" not in kafka["spec"]
    assert "topicOperator" in kafka["spec"]["entityOperator"], "the KafkaTopic resources need the Topic Operator"
    config = kafka["spec"]["kafka"]["config"]
    assert config["auto.create.topics.enable"] is False
    assert int(config["min.insync.replicas"]) == 2 and int(config["offsets.topic.replication.factor"]) == 3


#: what a record batch adds around its one record: the batch header (61 bytes) and the record's length, offset and
#: timestamp deltas and header counts (varints); 4 KiB leaves room for all of it with a wide margin
BATCH_FRAMING_ROOM = 4096


def _compose_kafka_environment() -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    env = compose["services"]["kafka"].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_every_size_limit_on_the_way_is_the_size_policy(target: str) -> None:
    """shared/topics.py's size policy is what the brokers and topics enforce, in compose and on Kubernetes: one event
    of MAX_EVENT_BYTES, framed as a record batch, fits MAX_MESSAGE_BYTES, and nothing on the way allows less (an event
    the relay could not publish would be parked) or more (a record no consumer is sized for)."""
    assert MAX_EVENT_BYTES + BATCH_FRAMING_ROOM <= MAX_MESSAGE_BYTES, "no room for the record batch's framing"
    assert TOPIC_CONFIGS["max.message.bytes"] == str(MAX_MESSAGE_BYTES), "ensure_topics creates topics with the policy's size"

    env = _compose_kafka_environment()
    assert int(env.get("KAFKA_MESSAGE_MAX_BYTES", "0")) == MAX_MESSAGE_BYTES, "docker-compose.yml: kafka's KAFKA_MESSAGE_MAX_BYTES"
    assert int(env.get("KAFKA_REPLICA_FETCH_MAX_BYTES", "1048576")) >= MAX_MESSAGE_BYTES, "docker-compose.yml: replica.fetch.max.bytes"

    resources = rendered(target)
    config = kafka_cluster(resources)["spec"]["kafka"]["config"]
    assert int(config.get("message.max.bytes", 0)) == MAX_MESSAGE_BYTES, "kafka/cluster.yaml: message.max.bytes"
    assert int(config.get("replica.fetch.max.bytes", 1048576)) >= MAX_MESSAGE_BYTES, "kafka/cluster.yaml: replica.fetch.max.bytes"

    topics = find(resources, "KafkaTopic")
    assert len(topics) == len(all_topic_names())
    for topic in topics:
        topic_config = topic["spec"]["config"]
        assert topic_config.get("max.message.bytes") == str(MAX_MESSAGE_BYTES), f"{topic['metadata']['name']}: max.message.bytes"
        for key, value in TOPIC_CONFIGS.items():
            assert topic_config.get(key) == value, f"{topic['metadata']['name']}: {key} is not shared/topics.py's {value!r}"


def test_the_generator_takes_the_topic_settings_from_shared_topics() -> None:
    generator = _generator()
    documents = list(yaml.safe_load_all(generator.render()))
    assert all(d["spec"]["config"]["max.message.bytes"] == str(MAX_MESSAGE_BYTES) for d in documents if d)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generator, "TOPIC_CONFIGS", {"max.message.bytes": "2097152"})
        changed = [d for d in yaml.safe_load_all(generator.render()) if d]
    assert {d["spec"]["config"]["max.message.bytes"] for d in changed} == {"2097152"}, "the generator takes the size from TOPIC_CONFIGS"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generator, "TOPIC_CONFIGS", {"retention.ms": "1"})
        with pytest.raises(SystemExit, match="retention.ms"):
            generator.render()


def test_wait_for_topics_waits_for_every_declared_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    spec = importlib.util.spec_from_file_location("wait_for_topics", BASE / "wait_for_topics.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    everything = [name for name, _ in all_topic_names()]
    assert script.missing(everything) == []
    assert script.missing(everything[1:]) == [everything[0]]

    answers: Iterator[set[str]] = iter([set(), set(everything[:3]), set(everything)])
    sleeps: list[float] = []

    async def existing(bootstrap: str) -> set[str]:
        assert bootstrap == "kafka:9092"
        return next(answers)

    async def pause(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setattr(script, "existing_topics", existing)
    monkeypatch.setattr(script, "sleep", pause)
    assert asyncio.run(script.main()) == 0
    assert len(sleeps) == 2, "it waited twice, then found every topic"
    for target in TARGETS:
        resources = rendered(target)
        script_map = one(resources, "ConfigMap", "skolit-wait-for-topics")
        assert script_map["data"]["wait_for_topics.py"] == (BASE / "wait_for_topics.py").read_text(encoding="utf-8")
        for service in PROCESSES:
            deployment = one(resources, "Deployment", service)
            wait = init_container(deployment, "wait-for-topics")
            assert wait["command"] == ["python", "/opt/skolit/wait_for_topics.py"]
            mounts = {m["mountPath"]: m["name"] for m in wait["volumeMounts"]}
            volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
            assert volumes[mounts["/opt/skolit"]]["configMap"]["name"] == "skolit-wait-for-topics"
            names = [c["name"] for c in deployment["spec"]["template"]["spec"]["initContainers"]]
            assert names == ["provision", "wait-for-topics"], names


# ---------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize("target", ALL_TARGETS)
def test_postgres_is_one_highly_available_cluster_with_room_for_every_connection(target: str) -> None:
    resources = rendered(target)
    cluster = postgres_cluster(resources)["spec"]
    assert cluster["instances"] == 3
    assert cluster["affinity"]["enablePodAntiAffinity"] is True
    assert "managed" not in cluster, "roles belong to `provision` (docs/decisions/0008)"
    pool_max = inspect.signature(shared_db.create_pool).parameters["max_size"].default
    peak = sum(one(resources, "HorizontalPodAutoscaler", s)["spec"]["maxReplicas"] * pool_max for s in SERVICES)
    peak += one(resources, "Deployment", CONNECTOR)["spec"]["replicas"] * pool_max  # no autoscaler: it stays at one
    # provision steps, rebuild / dlq-reprocess (a pool of 2), CloudNativePG's own and the reserved slots
    headroom = 20
    max_connections = int(cluster["postgresql"]["parameters"]["max_connections"])
    assert peak + headroom <= max_connections, f"{peak} pooled connections at maxReplicas, max_connections {max_connections}"


def test_decision_0008_records_the_postgres_choice() -> None:
    text = (ROOT / "docs" / "decisions" / "0008-postgresql-on-kubernetes.md").read_text(encoding="utf-8")
    assert text.startswith("# 0008")
    for word in ("CloudNativePG", "0003", "provision"):
        assert word in text, word


# ---------------------------------------------------------------- overlays


def test_national_scales_beyond_the_city_only_as_far_as_partitions_allow() -> None:
    city, national = rendered("city"), rendered("national")
    assert city == rendered("base"), "the city overlay is the base as it is"
    assert one(national, "Deployment", CONNECTOR) == one(city, "Deployment", CONNECTOR), "the connector stays one replica at any scale"
    for service in SERVICES:
        c_hpa = one(city, "HorizontalPodAutoscaler", service)["spec"]
        n_hpa = one(national, "HorizontalPodAutoscaler", service)["spec"]
        assert n_hpa["minReplicas"] > c_hpa["minReplicas"] and n_hpa["maxReplicas"] > c_hpa["maxReplicas"]
        assert n_hpa["maxReplicas"] == max_useful_replicas(service), "national goes as far as the partitions allow"
        c_mem = quantity(main_container(one(city, "Deployment", service))["resources"]["limits"]["memory"])
        n_mem = quantity(main_container(one(national, "Deployment", service))["resources"]["limits"]["memory"])
        assert n_mem > c_mem
        # the patch replaced resources only: env, probes and the rest are the base's
        n_main = main_container(one(national, "Deployment", service))
        c_main = main_container(one(city, "Deployment", service))
        assert {k: v for k, v in n_main.items() if k != "resources"} == {k: v for k, v in c_main.items() if k != "resources"}
