"""The container deployment files agree with the code: Dockerfile, docker-compose.yml, Prometheus.

No Docker engine is needed: the files are parsed and checked against shared/settings.py (the only
place the services read their environment) and the service list and ports declared there.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import yaml  # pyyaml is in the dev extra: a missing module must fail, not skip

from shared.settings import CONNECTOR, DEFAULT_PORTS, SERVICES, WORK_PORT_OFFSET  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
SETTINGS_SOURCE = ROOT / "shared" / "settings.py"


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict), "docker-compose.yml has no services"
    return data


@pytest.fixture(scope="module")
def prometheus() -> dict:
    data = yaml.safe_load(PROMETHEUS_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "prometheus.yml is not a mapping"
    return data


def environment(service: dict) -> dict[str, str]:
    """A compose service's environment, in either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: v for k, v in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def interpolate(value: str) -> str:
    """Resolve compose ``${NAME:-default}`` / ``${NAME-default}`` to the default, as with an empty .env, and a required
    ``${NAME:?message}`` (a secret .env must give: docker-compose.yml commits none) to its name, standing in for it."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-?])([^}]*))?\}",
                  lambda m: m.group(1) if m.group(2) == "?" else m.group(3) or "", value)


def as_argv(command: object) -> list[str]:
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(command)
    return [str(c) for c in command]


def normalised_build(service: dict) -> dict | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    build = dict(build)
    build.setdefault("dockerfile", "Dockerfile")
    return build


def published_ports(service: dict) -> list[tuple[int, int]]:
    """(host port, container port) pairs from the short ("[ip:]host:container[/proto]") or long syntax."""
    pairs: list[tuple[int, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
            continue
        spec = str(entry).split("/", 1)[0]
        parts = spec.split(":")
        assert len(parts) >= 2, f"port {entry!r} is not published on the host"
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def healthcheck_text(service: dict) -> str:
    """The healthcheck's command line, without compose's leading CMD / CMD-SHELL marker."""
    test = (service.get("healthcheck") or {}).get("test")
    argv = as_argv(test)
    if argv and argv[0] in ("CMD", "CMD-SHELL"):
        argv = argv[1:]
    return " ".join(argv)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    if pending.strip():
        logical.append(pending)
    out = []
    for line in logical:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instr, args in dockerfile_instructions():
        if instr != "ENV":
            continue
        tokens = shlex.split(args)
        if tokens and "=" not in tokens[0]:  # legacy "ENV KEY value"
            env[tokens[0]] = " ".join(tokens[1:])
            continue
        for token in tokens:
            key, _, value = token.partition("=")
            env[key] = value
    return env


def exec_form(instr: str) -> list[str]:
    found = [args for name, args in dockerfile_instructions() if name == instr]
    assert found, f"the Dockerfile has no {instr}"
    value = json.loads(found[-1])  # the last one wins; exec (JSON) form, so no shell wraps the process
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def _env_name_template(node: ast.expr, service: str) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        # Every formatted part of an env name in settings.py is the service name (upper-cased).
        return "".join(
            v.value if isinstance(v, ast.Constant) else service.upper() for v in node.values
        )
    return None


def env_names_read_by_settings(service: str) -> set[str]:
    """Every environment variable name shared/settings.py reads, rendered for one service."""
    tree = ast.parse(SETTINGS_SOURCE.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        reader = (
            (isinstance(func, ast.Name) and func.id == "_env")
            or (isinstance(func, ast.Attribute) and func.attr == "getenv")
            or (isinstance(func, ast.Attribute) and func.attr == "get" and ast.unparse(func.value) == "os.environ")
        )
        if reader:
            name = _env_name_template(node.args[0], service)
            if name:
                names.add(name)
    return names


#: the Skolit processes with a database, Kafka and an API: the four services and the SS 12000 connector
PROCESSES = (*SERVICES, CONNECTOR)
SKOLIT = [pytest.param(name, id=name) for name in PROCESSES]
#: the module each runs as (python -m <module>)
MODULES = {**{s: f"services.{s}" for s in SERVICES}, CONNECTOR: "connectors.ss12000"}


# ---------------------------------------------------------------- settings.py as the reference


def test_settings_reader_finds_the_documented_variables() -> None:
    """Guards the helper below: it must find the real names, per service, and not everything."""
    catalog = env_names_read_by_settings("catalog")
    for name in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "SKOLIT_HTTP_HOST", "SKOLIT_JWT_SECRET",
                 "SKOLIT_JWT_JWKS_URL", "SKOLIT_LOG_LEVEL", "SKOLIT_CATALOG_PORT",
                 "SKOLIT_CATALOG_DB_PASSWORD", "SKOLIT_CATALOG_DATABASE_URL"):
        assert name in catalog, name
    assert "SKOLIT_ASSESSMENT_PORT" not in catalog
    assert "POSTGRES_PASSWORD" not in catalog


# ---------------------------------------------------------------- docker-compose.yml


def test_compose_has_every_part(compose: dict) -> None:
    services = compose["services"]
    for name in (*PROCESSES, "postgres", "kafka", "prometheus"):
        assert name in services, f"docker-compose.yml lacks the {name} service"


def test_skolit_services_share_one_build_of_the_repository_dockerfile(compose: dict) -> None:
    builds = [normalised_build(compose["services"][name]) for name in PROCESSES]
    assert all(b is not None for b in builds), "every Skolit service is built from the Dockerfile"
    assert all(b == builds[0] for b in builds), f"the services use different builds: {builds}"
    images = {compose["services"][name].get("image") for name in PROCESSES}
    assert len(images) == 1, f"one image for the four services and the connector, not {images}"
    dockerfile = (ROOT / builds[0]["context"] / builds[0]["dockerfile"]).resolve()
    assert dockerfile == DOCKERFILE.resolve() and dockerfile.is_file()


@pytest.mark.parametrize("name", SKOLIT)
def test_service_runs_its_own_module(compose: dict, name: str) -> None:
    service = compose["services"][name]
    entrypoint = as_argv(service.get("entrypoint")) or exec_form("ENTRYPOINT")
    command = as_argv(service.get("command")) or exec_form("CMD")
    argv = entrypoint + command
    assert argv[:3] == ["python", "-m", MODULES[name]], argv
    # serve (the default) or serve --provision, never a one-shot command like migrate
    assert argv[3:4] in ([], ["serve"]), argv


@pytest.mark.parametrize("name", SKOLIT)
def test_service_reaches_the_compose_postgres_and_kafka(compose: dict, name: str) -> None:
    services = compose["services"]
    env = environment(services[name])
    url = urlsplit(interpolate(env.get("DATABASE_URL", "")))
    assert url.scheme in ("postgresql", "postgres"), env.get("DATABASE_URL")
    assert url.hostname == "postgres", "DATABASE_URL must point at the compose postgres service"
    assert (url.port or 5432) == 5432
    pg_env = environment(services["postgres"])
    assert url.path.lstrip("/") == pg_env.get("POSTGRES_DB", "postgres"), "the database postgres creates"
    assert interpolate(url.password or "") == interpolate(pg_env.get("POSTGRES_PASSWORD", "")), "admin password"
    assert (url.username or "postgres") == pg_env.get("POSTGRES_USER", "postgres")

    bootstrap = interpolate(env.get("KAFKA_BOOTSTRAP_SERVERS", ""))
    assert bootstrap, "KAFKA_BOOTSTRAP_SERVERS is not set"
    advertised = environment(services["kafka"]).get("KAFKA_ADVERTISED_LISTENERS", "")
    advertised_hosts = {entry.split("://", 1)[-1] for entry in advertised.split(",")}
    for server in bootstrap.split(","):
        assert server.split(":")[0] == "kafka", bootstrap
        assert server in advertised_hosts, f"{server} is not a listener kafka advertises ({advertised})"


@pytest.mark.parametrize("name", SKOLIT)
def test_service_listens_on_all_interfaces_on_its_published_port(compose: dict, name: str) -> None:
    service = compose["services"][name]
    env = {**dockerfile_env(), **environment(service)}
    up = name.upper()
    host = env.get(f"SKOLIT_{up}_HOST") or env.get("SKOLIT_HTTP_HOST") or "127.0.0.1"
    assert interpolate(host) == "0.0.0.0", "a container must bind 0.0.0.0, not the 127.0.0.1 default"
    port = int(interpolate(env.get(f"SKOLIT_{up}_PORT", "")) or DEFAULT_PORTS[name])
    assert port == DEFAULT_PORTS[name]
    assert (DEFAULT_PORTS[name], port) in published_ports(service), f"{name} must publish {DEFAULT_PORTS[name]}"


@pytest.mark.parametrize("name", SKOLIT)
def test_service_waits_for_healthy_postgres_and_kafka(compose: dict, name: str) -> None:
    depends = compose["services"][name].get("depends_on")
    assert isinstance(depends, dict), "the long depends_on form is needed for conditions"
    for dependency in ("postgres", "kafka"):
        assert (depends.get(dependency) or {}).get("condition") == "service_healthy", dependency
        assert healthcheck_text(compose["services"][dependency]), f"{dependency} needs a healthcheck to be waited on"


@pytest.mark.parametrize("name", SKOLIT)
def test_service_healthcheck_asks_its_own_readyz(compose: dict, name: str) -> None:
    text = healthcheck_text(compose["services"][name])
    assert "urllib" in text and text.split()[0] in ("python", "python3"), text
    found = re.findall(r"https?://(?:127\.0\.0\.1|localhost):(\d+)/readyz", text)
    assert found == [str(DEFAULT_PORTS[name])], f"{name} healthcheck checks {found}, not its port"


@pytest.mark.parametrize("name", SKOLIT)
def test_service_environment_is_only_what_settings_reads(compose: dict, name: str) -> None:
    # production needs the service's own secrets too (the key vault's, notification's, reporting's): what its process
    # reads in shared/ and services/<name>/, found as the Kubernetes manifests' test finds it
    from tests.unit.test_k8s_manifests import env_names_read

    known = env_names_read_by_settings(name) | env_names_read(name)
    unknown = sorted(set(environment(compose["services"][name])) - known)
    assert not unknown, f"{name} sets variables shared/settings.py does not read: {unknown}"


def test_dockerfile_skolit_variables_are_read_by_settings() -> None:
    names = {k for k in dockerfile_env() if k.startswith(("SKOLIT_", "DATABASE_", "KAFKA_"))}
    known = set.intersection(*(env_names_read_by_settings(s) for s in SERVICES))
    assert names <= known, f"Dockerfile sets unknown variables {sorted(names - known)}"


def test_kafka_is_apache_kafka_in_kraft_mode(compose: dict) -> None:
    services = compose["services"]
    kafka = services["kafka"]
    assert str(kafka.get("image", "")).startswith("apache/kafka:"), kafka.get("image")
    env = environment(kafka)
    assert set(env.get("KAFKA_PROCESS_ROLES", "").split(",")) == {"broker", "controller"}
    node_id = env.get("KAFKA_NODE_ID")
    assert node_id, "KRaft needs KAFKA_NODE_ID"
    voters = env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
    assert voters.split("@")[0] == node_id, f"the node itself is the controller quorum: {voters}"
    controller = env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")
    assert controller and f"{controller}://" in env.get("KAFKA_LISTENERS", "")
    assert f"{controller}:" in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "")
    assert voters.endswith(":" + env["KAFKA_LISTENERS"].split(f"{controller}://", 1)[1].split(",")[0].split(":")[-1])
    # single node: internal topics with one replica
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
        assert env.get(key) == "1", key
    # the services create their topics with the declared partitions (shared/topics.py)
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() == "false"
    assert "kafka-broker-api-versions.sh" in healthcheck_text(kafka)
    # no ZooKeeper anywhere
    assert not any("zookeeper" in name.lower() for name in services)
    assert not any("ZOOKEEPER" in key for key in env)


@pytest.mark.parametrize("name", SKOLIT)
def test_service_logs_in_to_kafka_as_its_own_user(compose: dict, name: str) -> None:
    """Compose's Kafka takes only SASL logins on the listener the services use (docs/decisions/0019-kafka-security.md);
    each service logs in as its own SCRAM user (the principal of deploy/kafka/acls.txt), made by kafka-users before it starts."""
    from devkit.kafka.acls import CITY, accesses, principal

    services = compose["services"]
    env = environment(services[name])
    # the connector publishes the city's events: it is the city's principal (what devkit/kafka/acls.py grants it)
    user = CITY if name == CONNECTOR else principal(name)
    kafka = environment(services["kafka"])
    protocols = dict(item.split(":") for item in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listener = next(entry.split("://")[0] for entry in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",") if entry.endswith(env["KAFKA_BOOTSTRAP_SERVERS"]))
    assert protocols[listener] in ("SASL_PLAINTEXT", "SASL_SSL") and env["KAFKA_SECURITY_PROTOCOL"] == protocols[listener]
    assert env["KAFKA_SASL_MECHANISM"] == kafka[f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_USERNAME"] == user
    assert interpolate(env["KAFKA_SASL_PASSWORD"]), "a password (from .env)"
    users = dict(pair.split("=", 1) for pair in interpolate(environment(services["kafka-users"])["USERS"]).split())
    assert sorted(users) == sorted(a.principal for a in accesses()), "kafka-users makes every principal of the ACLs"
    assert users[user] == interpolate(env["KAFKA_SASL_PASSWORD"]), "the password the service logs in with"
    assert (services[name]["depends_on"].get("kafka-users") or {}).get("condition") == "service_completed_successfully"


def test_the_connector_runs_alone_with_the_citys_api_from_env(compose: dict) -> None:
    """One container (a sync must not run twice at once): no replicas, and its fixed host port would refuse a second.
    The SS 12000 settings come from .env, the client secret never with a default; no key vault key (it seals nothing)."""
    service = compose["services"][CONNECTOR]
    assert (service.get("deploy") or {}).get("replicas", 1) == 1 and "scale" not in service
    assert (DEFAULT_PORTS[CONNECTOR], DEFAULT_PORTS[CONNECTOR]) in published_ports(service)
    env = environment(service)
    for name in ("SKOLIT_SS12000_URL", "SKOLIT_SS12000_TOKEN_URL", "SKOLIT_SS12000_CLIENT_ID", "SKOLIT_SS12000_CLIENT_SECRET",
                 "SKOLIT_SS12000_WEBHOOK_URL", "SKOLIT_SS12000_PAGE_SIZE", "SKOLIT_SS12000_SYNC_SECONDS"):
        assert env.get(name, "").startswith("${" + name + ":"), f"{name} comes from .env"
    assert env["SKOLIT_SS12000_CLIENT_SECRET"] == "${SKOLIT_SS12000_CLIENT_SECRET:-}", "the city's secret: no default"
    assert "SKOLIT_KEYVAULT_MASTER_KEY" not in env
    assert CONNECTOR in (compose["services"]["prometheus"].get("depends_on") or [])


def test_prometheus_mounts_the_repository_config(compose: dict) -> None:
    prom = compose["services"]["prometheus"]
    assert str(prom.get("image", "")).startswith("prom/prometheus")
    mounts = [str(v).split(":") for v in prom.get("volumes") or []]
    sources = {(ROOT / m[0]).resolve(): m[1] for m in mounts if len(m) >= 2}
    assert sources.get(PROMETHEUS_FILE.resolve()) == "/etc/prometheus/prometheus.yml", mounts
    assert (9090, 9090) in published_ports(prom)


# ---------------------------------------------------------------- prometheus.yml


def test_prometheus_scrapes_exactly_the_four_services_and_the_connector(prometheus: dict, compose: dict) -> None:
    jobs = [job for job in prometheus.get("scrape_configs") or [] if job.get("job_name") == "skolit"]
    assert len(jobs) == 1, "one scrape job named skolit"
    job = jobs[0]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    interval = job.get("scrape_interval") or (prometheus.get("global") or {}).get("scrape_interval")
    assert interval == "15s"
    targets: dict[str, tuple[str, str | None]] = {}
    for static in job.get("static_configs") or []:
        for target in static.get("targets") or []:
            assert target not in targets, f"{target} is scraped twice"
            labels = static.get("labels") or {}
            targets[target] = (labels.get("service"), labels.get("process"))
    # and notification's senders in their own process (decision 0029), on its port + WORK_PORT_OFFSET
    assert targets == {f"{name}:{DEFAULT_PORTS[name]}": (name, None) for name in PROCESSES} | {
        f"notification-sender:{DEFAULT_PORTS['notification'] + WORK_PORT_OFFSET}": ("notification", "work")}
    for target in targets:
        assert target.split(":")[0] in compose["services"], target


def test_every_scraped_process_is_missed_when_it_is_not_scraped(prometheus: dict) -> None:
    """SkolitServiceDown fires for a target that answers badly (up == 0) and for one that is not scraped at all
    (absent): the absent() clauses name every service prometheus.yml scrapes, the connector included."""
    rules = yaml.safe_load((PROMETHEUS_FILE.parent / "rules" / "skolit.rules.yml").read_text(encoding="utf-8"))
    (down,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "SkolitServiceDown"]
    absent = set(re.findall(r'absent\(up\{job="skolit", service="([a-z]+)"\}\)', down["expr"]))
    scraped = {(s.get("labels") or {}).get("service") for job in prometheus["scrape_configs"] for s in job.get("static_configs") or []}
    assert absent == scraped == set(PROCESSES), (sorted(absent), sorted(scraped))


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_a_service_module() -> None:
    assert exec_form("ENTRYPOINT") == ["python", "-m"]
    cmd = exec_form("CMD")
    assert cmd and cmd[0] in {f"services.{s}" for s in SERVICES}, cmd


def test_dockerfile_base_and_install() -> None:
    instructions = dockerfile_instructions()
    assert [args for name, args in instructions if name == "FROM"] == ["python:3.11-slim"]
    installs = [args for name, args in instructions if name == "RUN" and "pip install" in args]
    assert installs, "the Dockerfile installs the project with pip"
    assert any(re.search(r"pip install (--no-cache-dir )?\.(\s|$)", args) for args in installs), installs
    assert not any("[embedded" in args or "[dev" in args or " -e " in args for args in installs), installs
    assert dockerfile_env().get("SKOLIT_HTTP_HOST") == "0.0.0.0"


def test_dockerfile_does_not_run_as_root() -> None:
    instructions = dockerfile_instructions()
    users = [args for name, args in instructions if name == "USER"]
    assert users, "the Dockerfile needs a USER line"
    user = users[-1].split(":")[0]  # the last USER is the one the container runs as
    assert user not in ("root", "0"), users[-1]
    if not user.isdigit():
        creates = [args for name, args in instructions if name == "RUN" and re.search(r"\b(useradd|adduser)\b", args)]
        assert any(re.search(rf"\b{re.escape(user)}\s*($|&&|;)", args) for args in creates), f"no RUN creates user {user}"


def _copied_sources() -> list[str]:
    sources: list[str] = []
    for name, args in dockerfile_instructions():
        if name not in ("COPY", "ADD"):
            continue
        tokens = [t for t in shlex.split(args) if not t.startswith("--")]
        sources.extend(t.rstrip("/") for t in tokens[:-1])
    return sources


def test_dockerfile_copies_what_the_package_build_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", "services", "shared"}
    readme = pyproject["project"].get("readme")
    if isinstance(readme, str):
        needed.add(readme)
    copied = set(_copied_sources())
    assert needed <= copied, f"the image build lacks {sorted(needed - copied)}"
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            p = pattern[1:] if negate else pattern
            p = p.strip("/")
            if fnmatch.fnmatch(path, p) or (p.startswith("**/") and fnmatch.fnmatch(path, p[3:])):
                result = not negate
        return result

    for source in _copied_sources():
        assert not ignored(source), f".dockerignore drops {source}, which the Dockerfile copies"
    for path in (".venv", ".skolit", ".git", "__pycache__", "tests", "docs", "devkit", "bench", "chaos"):
        assert ignored(path), f".dockerignore should drop {path}"
