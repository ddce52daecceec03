"""Production mode fails closed (shared/production.py, docs/decisions/0023-production-mode.md): each development secret
and each missing production setting is named, per process; a complete production environment passes; no value is
ever printed; docker-compose.yml commits no secret and runs every Skolit process in production; its generated .env and
the Kubernetes pods' environments pass the rules."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from devkit import compose_env
from shared import production
from shared.privacy.vault import DEV_MASTER_KEY
from shared.production import CONNECTOR, PROCESSES, WEB, enforce, problems
from shared.settings import DEV_JWT_SECRET, SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE = ROOT / "deploy" / "compose.env.example"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEYS?$|MASTER_KEY", re.IGNORECASE)


def complete(process: str) -> dict[str, str]:
    """Everything production asks of ``process``, with fresh random secrets."""
    env = {
        "SKOLIT_ENV": "production",
        "DATABASE_URL": "postgresql://postgres@db.example.se:5432/skolit",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka.example.se:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": f"skolit-{process}",
        "KAFKA_SASL_PASSWORD": compose_env.password(),
        f"SKOLIT_{process.upper()}_DB_PASSWORD": compose_env.password(),
        "SKOLIT_JWT_JWKS_URL": "https://login.example.se/oidc/jwks",
        "SKOLIT_JWT_ISSUER": "https://login.example.se/oidc",
        "SKOLIT_JWT_AUDIENCE": "skolit",
        "SKOLIT_KEYVAULT_MASTER_KEY": compose_env.key32(),
        "SKOLIT_CORS_ORIGINS": "https://skolit.example.se",
    }
    if process == "notification":
        env.update(SKOLIT_NOTIFICATION_SMTP_HOST="smtp.example.se", SKOLIT_NOTIFICATION_WEB_URL="https://skolit.example.se",
                   SKOLIT_NOTIFICATION_PUBLIC_URL="https://skolit.example.se/notification",
                   SKOLIT_NOTIFICATION_KEYS=compose_env.keyring(), SKOLIT_NOTIFICATION_CALLBACK_TOKEN=compose_env.token())
    if process == "reporting":
        env["SKOLIT_REPORTING_LINK_SECRET"] = compose_env.token()
    if process == CONNECTOR:
        env.update(SKOLIT_SS12000_URL="https://ss12000.example.se/v2", SKOLIT_SS12000_CLIENT_SECRET=compose_env.token())
    if process == WEB:
        env = {"SKOLIT_ENV": "production", "SKOLIT_WEB_SESSION_SECRET": compose_env.token(), "SKOLIT_WEB_BASE_URL": "https://skolit.example.se",
               "SKOLIT_WEB_OIDC_ISSUER": "https://login.example.se/oidc",
               **{f"SKOLIT_WEB_{s.upper()}_URL": f"http://{s}:8101" for s in (*SERVICES, "connector")}}
    return env


@pytest.mark.parametrize("process", PROCESSES)
def test_a_complete_production_environment_starts(process: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = complete(process)
    assert problems(process, env) == []
    enforce(process, env)  # no SystemExit
    assert capsys.readouterr().err == ""


# (process or "services" for the four, what to change, the variable the one problem names)
DEV_KEY = base64.b64encode(production.DEV_NOTIFICATION_KEY).decode()
CASES = [
    ("services+connector", {"SKOLIT_JWT_SECRET": DEV_JWT_SECRET}, "SKOLIT_JWT_SECRET"),
    ("services+connector", {"SKOLIT_JWT_SECRET": "a-long-random-but-still-a-shared-hs256-secret"}, "SKOLIT_JWT_SECRET"),
    ("services+connector", {"SKOLIT_JWT_JWKS_URL": None}, "SKOLIT_JWT_JWKS_URL"),
    ("services+connector", {"SKOLIT_JWT_ISSUER": ""}, "SKOLIT_JWT_ISSUER"),
    ("services+connector", {"SKOLIT_JWT_AUDIENCE": None}, "SKOLIT_JWT_AUDIENCE"),
    ("services+connector", {"SKOLIT_ALLOW_CLOCK_OVERRIDE": "true"}, "SKOLIT_ALLOW_CLOCK_OVERRIDE"),
    ("services+connector", {"DB_PASSWORD": None}, "SKOLIT_{UP}_DB_PASSWORD"),
    ("services+connector", {"DB_PASSWORD": "skolit-{svc}-dev"}, "SKOLIT_{UP}_DB_PASSWORD"),
    ("services+connector", {"DB_PASSWORD": "short-one"}, "SKOLIT_{UP}_DB_PASSWORD"),
    ("services+connector", {"DATABASE_URL": None}, "DATABASE_URL"),
    ("services+connector", {"DATABASE_URL": "postgresql://postgres:skolit@db.example.se/skolit"}, "DATABASE_URL's password"),
    ("services+connector", {"DB_PASSWORD": None, "DATABASE_URL": None,
                            "SKOLIT_{UP}_DATABASE_URL": "postgresql://skolit_{svc}:skolit-{svc}-dev@db.example.se/skolit"},
     "SKOLIT_{UP}_DATABASE_URL's password"),
    ("services+connector", {"KAFKA_BOOTSTRAP_SERVERS": None}, "KAFKA_BOOTSTRAP_SERVERS"),
    ("services+connector", {"KAFKA_SASL_PASSWORD": "skolit-{svc}-kafka-dev"}, "KAFKA_SASL_PASSWORD"),
    ("services+connector", {"KAFKA_SASL_PASSWORD": None}, "KAFKA_SASL_PASSWORD"),
    ("services+connector", {"KAFKA_SASL_PASSWORD": None, "KAFKA_SASL_PASSWORD_FILE": "/nonexistent/skolit-kafka"}, "KAFKA_SASL_PASSWORD_FILE"),
    ("services", {"SKOLIT_KEYVAULT_MASTER_KEY": None}, "SKOLIT_KEYVAULT_MASTER_KEY"),
    ("services", {"SKOLIT_KEYVAULT_MASTER_KEY": DEV_MASTER_KEY}, "SKOLIT_KEYVAULT_MASTER_KEY"),
    ("services", {"SKOLIT_KEYVAULT_MASTER_KEY": base64.b64encode(b"sixteen bytes!!!").decode()}, "SKOLIT_KEYVAULT_MASTER_KEY"),
    ("services", {"SKOLIT_CORS_ORIGINS": None}, "SKOLIT_CORS_ORIGINS"),
    ("services", {"SKOLIT_CORS_ORIGINS": "https://skolit.example.se,*"}, "SKOLIT_CORS_ORIGINS"),
    ("notification", {"SKOLIT_NOTIFICATION_SMTP_HOST": None}, "SKOLIT_NOTIFICATION_SMTP_HOST"),
    ("notification", {"SKOLIT_NOTIFICATION_WEB_URL": None}, "SKOLIT_NOTIFICATION_WEB_URL"),
    ("notification", {"SKOLIT_NOTIFICATION_PUBLIC_URL": None}, "SKOLIT_NOTIFICATION_PUBLIC_URL"),
    ("notification", {"SKOLIT_NOTIFICATION_CALLBACK_TOKEN": None}, "SKOLIT_NOTIFICATION_CALLBACK_TOKEN"),
    ("notification", {"SKOLIT_NOTIFICATION_CALLBACK_TOKEN": production.DEV_CALLBACK_TOKEN}, "SKOLIT_NOTIFICATION_CALLBACK_TOKEN"),
    ("notification", {"SKOLIT_NOTIFICATION_CALLBACK_TOKEN": "too-short-a-token"}, "SKOLIT_NOTIFICATION_CALLBACK_TOKEN"),
    ("notification", {"SKOLIT_NOTIFICATION_KEYS": None}, "SKOLIT_NOTIFICATION_KEYS"),
    # the development key under another id, and as an old key kept for reading, is still the development key
    ("notification", {"SKOLIT_NOTIFICATION_KEYS": f"k2:{compose_env.key32()},renamed:{DEV_KEY}"}, "SKOLIT_NOTIFICATION_KEYS"),
    ("notification", {"SKOLIT_NOTIFICATION_KEYS": "k1:not-base64-of-32-bytes"}, "SKOLIT_NOTIFICATION_KEYS"),
    ("notification", {"SKOLIT_NOTIFICATION_WEBPUSH_ALLOW_HTTP": "true"}, "SKOLIT_NOTIFICATION_WEBPUSH_ALLOW_HTTP"),
    ("notification", {"SKOLIT_NOTIFICATION_SMS_PROVIDER": "46elks", "SKOLIT_NOTIFICATION_46ELKS_USERNAME": "u0123456789abcdef"},
     "SKOLIT_NOTIFICATION_46ELKS_PASSWORD"),
    ("notification", {"SKOLIT_NOTIFICATION_BOUNCE_TOKEN": "short"}, "SKOLIT_NOTIFICATION_BOUNCE_TOKEN"),
    ("reporting", {"SKOLIT_REPORTING_LINK_SECRET": None}, "SKOLIT_REPORTING_LINK_SECRET"),
    ("reporting", {"SKOLIT_REPORTING_LINK_SECRET": production.DEV_LINK_SECRET}, "SKOLIT_REPORTING_LINK_SECRET"),
    ("reporting", {"SKOLIT_REPORTING_LINK_SECRET": "shorter-than-32"}, "SKOLIT_REPORTING_LINK_SECRET"),
    (CONNECTOR, {"SKOLIT_SS12000_CLIENT_SECRET": None}, "SKOLIT_SS12000_CLIENT_SECRET"),
    (WEB, {"SKOLIT_WEB_DEV": "true"}, "SKOLIT_WEB_DEV"),
    (WEB, {"SKOLIT_WEB_DEV_PERSONAS": "/tmp/personas.json"}, "SKOLIT_WEB_DEV_PERSONAS"),
    (WEB, {"SKOLIT_WEB_SESSION_SECRET": None}, "SKOLIT_WEB_SESSION_SECRET"),
    (WEB, {"SKOLIT_WEB_SESSION_SECRET": production.DEV_SESSION_SECRET}, "SKOLIT_WEB_SESSION_SECRET"),
    (WEB, {"SKOLIT_WEB_SESSION_SECRET": "x" * 31}, "SKOLIT_WEB_SESSION_SECRET"),
    (WEB, {"SKOLIT_WEB_OIDC_ISSUER": None}, "SKOLIT_WEB_OIDC_ISSUER"),
    (WEB, {"SKOLIT_WEB_BASE_URL": None}, "SKOLIT_WEB_BASE_URL"),
    (WEB, {"SKOLIT_WEB_BASE_URL": "http://skolit.example.se"}, "SKOLIT_WEB_BASE_URL"),
    (WEB, {"SKOLIT_WEB_CATALOG_URL": None}, "SKOLIT_WEB_CATALOG_URL"),
    (WEB, {"SKOLIT_WEB_CONNECTOR_URL": None}, "SKOLIT_WEB_CONNECTOR_URL"),
]


def _expand(who: str) -> list[str]:
    if who == "services+connector":
        return [*SERVICES, CONNECTOR]
    return list(SERVICES) if who == "services" else [who]


def _apply(env: dict[str, str], change: dict[str, str | None], process: str) -> dict[str, str]:
    out = dict(env)
    for name, value in change.items():
        name = f"SKOLIT_{process.upper()}_DB_PASSWORD" if name == "DB_PASSWORD" else name.format(UP=process.upper(), svc=process)
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value.format(svc=process)
    return out


@pytest.mark.parametrize(("process", "change", "variable"),
                         [pytest.param(p, c, v, id=f"{p}-{v}-{i}") for i, (who, c, v) in enumerate(CASES) for p in _expand(who)])
def test_each_development_secret_and_missing_setting_is_named(process: str, change: dict[str, str | None], variable: str) -> None:
    found = problems(process, _apply(complete(process), change, process))
    assert len(found) == 1, found
    assert found[0].startswith(variable.format(UP=process.upper(), svc=process) + " "), found


def test_what_production_allows_besides() -> None:
    """Not every difference is a problem: a loopback web address (a trial on one machine), the issuer from
    SKOLIT_JWT_ISSUER, a secret from its file, a database URL whose password comes from elsewhere."""
    web = complete(WEB)
    assert problems(WEB, {**web, "SKOLIT_WEB_BASE_URL": "http://localhost:3000"}) == []
    issuer = {k: v for k, v in web.items() if k != "SKOLIT_WEB_OIDC_ISSUER"}
    assert problems(WEB, {**issuer, "SKOLIT_JWT_ISSUER": "https://login.example.se/oidc"}) == []
    connector = {k: v for k, v in complete(CONNECTOR).items() if k != "SKOLIT_SS12000_CLIENT_SECRET"}
    assert problems(CONNECTOR, {**connector, "SKOLIT_SS12000_CLIENT_SECRET_FILE": "/run/secrets/ss12000"}) == []
    assert problems(CONNECTOR, {k: v for k, v in connector.items() if k != "SKOLIT_SS12000_URL"}) == []
    catalog = {k: v for k, v in complete("catalog").items() if k not in ("DATABASE_URL", "SKOLIT_CATALOG_DB_PASSWORD")}
    assert problems("catalog", {**catalog, "SKOLIT_CATALOG_DATABASE_URL": "postgresql://skolit_catalog@db.example.se/skolit"}) == []
    # SASL off: no Kafka password to judge
    plain = {k: v for k, v in complete("catalog").items() if not k.startswith("KAFKA_SASL")}
    assert problems("catalog", {**plain, "KAFKA_SECURITY_PROTOCOL": "SSL"}) == []


def test_every_variable_a_rule_names_is_one_the_code_reads() -> None:
    """A rule on a name no code reads would pass a configuration running on the default (a renamed setting)."""
    read: set[str] = set()
    for folder in ("shared", "services", "web", "connectors"):
        for source in (ROOT / folder).rglob("*.py"):
            if source.name == "production.py" and source.parent.name == "shared":
                continue
            text = source.read_text(encoding="utf-8")
            read |= set(re.findall(r"\b(?:SKOLIT|KAFKA)_[A-Z0-9_]+[A-Z0-9]\b", text))
            # notification's settings read SKOLIT_NOTIFICATION_<NAME> through _get("<NAME>", ...)
            if source.parent.name == "notification" and source.name == "settings.py":
                read |= {f"SKOLIT_NOTIFICATION_{n}" for n in re.findall(r'_get\("([A-Z0-9_]+)"', text)}
    named = set(re.findall(r"\b(?:SKOLIT|KAFKA)_[A-Z0-9_]+[A-Z0-9]\b", (ROOT / "shared" / "production.py").read_text(encoding="utf-8")))
    assert named - read == set(), sorted(named - read)


def test_a_kafka_password_file_is_read_and_judged(tmp_path: Path) -> None:
    secret = tmp_path / "kafka-password"
    env = {k: v for k, v in complete("assessment").items() if k != "KAFKA_SASL_PASSWORD"}
    secret.write_text(compose_env.password() + "\n", encoding="utf-8")
    assert problems("assessment", {**env, "KAFKA_SASL_PASSWORD_FILE": str(secret)}) == []
    secret.write_text("skolit-assessment-kafka-dev\n", encoding="utf-8")
    assert problems("assessment", {**env, "KAFKA_SASL_PASSWORD_FILE": str(secret)}) == [
        "KAFKA_SASL_PASSWORD_FILE's password ends in -dev, as the development passwords do: set a random one"]


def test_provision_checks_only_the_database_it_sets_the_password_of() -> None:
    env = {"SKOLIT_ENV": "production", "DATABASE_URL": "postgresql://postgres@db.example.se/skolit", "SKOLIT_JWT_SECRET": DEV_JWT_SECRET}
    assert problems("catalog", {**env, "SKOLIT_CATALOG_DB_PASSWORD": compose_env.password()}, parts=("database",)) == []
    assert [p.split()[0] for p in problems("catalog", env, parts=("database",))] == ["SKOLIT_CATALOG_DB_PASSWORD"]
    with pytest.raises(ValueError, match="no rules"):
        problems("catalog", env, parts=("smtp",))
    with pytest.raises(ValueError, match="unknown process"):
        problems("gateway", env)


def test_development_is_the_default_and_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    """`make run` and the tests: the development secrets are taken, nothing is checked."""
    dev = {"SKOLIT_JWT_SECRET": DEV_JWT_SECRET, "SKOLIT_ALLOW_CLOCK_OVERRIDE": "true", "SKOLIT_WEB_DEV": "true"}
    for process in PROCESSES:
        enforce(process, dev)
        enforce(process, {**dev, "SKOLIT_ENV": "Development"})
    assert capsys.readouterr().err == ""


def test_an_unknown_environment_is_refused_rather_than_taken_for_development(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        enforce("catalog", {"SKOLIT_ENV": "prod"})
    assert refused.value.code == 2
    assert "SKOLIT_ENV is neither development nor production" in capsys.readouterr().err


def test_a_refused_start_exits_2_with_one_line_per_problem_naming_each_variable_and_no_value(capsys: pytest.CaptureFixture[str]) -> None:
    """Every secret set to a value of its own that the rules refuse (too short, a development suffix): the output
    names each variable and holds none of the values."""
    marker = "Qz7"
    env = {
        "SKOLIT_ENV": "production", "SKOLIT_JWT_SECRET": f"{marker}-jwt", "SKOLIT_ASSESSMENT_DB_PASSWORD": f"{marker}-db-dev",
        "DATABASE_URL": f"postgresql://postgres:{marker}pg@db.example.se/skolit", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": f"{marker}-kafka-dev",
        "SKOLIT_KEYVAULT_MASTER_KEY": base64.b64encode(f"{marker}-short-key".encode()).decode(), "SKOLIT_CORS_ORIGINS": "*",
    }
    with pytest.raises(SystemExit) as refused:
        enforce("assessment", env)
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert marker not in err and env["SKOLIT_KEYVAULT_MASTER_KEY"] not in err
    headline, *lines = err.splitlines()
    assert "assessment" in headline and "production" in headline and f"{len(lines)} problem(s)" in headline
    named = [line.split()[0] for line in lines]
    assert named == ["SKOLIT_JWT_SECRET", "SKOLIT_JWT_JWKS_URL", "SKOLIT_JWT_ISSUER", "SKOLIT_JWT_AUDIENCE", "SKOLIT_ASSESSMENT_DB_PASSWORD",
                     "DATABASE_URL's", "KAFKA_SASL_PASSWORD", "SKOLIT_KEYVAULT_MASTER_KEY", "SKOLIT_CORS_ORIGINS"], lines


def test_the_copied_development_defaults_are_the_originals() -> None:
    """shared/ imports neither services/ nor web/, so the rules hold copies: these keep them equal."""
    from services.notification import crypto
    from services.notification.settings import DEV_CALLBACK_TOKEN
    from services.reporting.settings import DEV_LINK_SECRET
    from web.settings import DEV_SESSION_SECRET

    assert production.DEV_CALLBACK_TOKEN == DEV_CALLBACK_TOKEN
    assert production.DEV_LINK_SECRET == DEV_LINK_SECRET
    assert production.DEV_SESSION_SECRET == DEV_SESSION_SECRET
    assert [production.DEV_NOTIFICATION_KEY] == list(crypto.Keyring.parse(crypto.DEV_KEYS).keys.values())


def test_check_production_names_each_process_and_fails(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from services.__main__ import check_production

    for name, value in complete("reporting").items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SKOLIT_JWT_SECRET", raising=False)
    monkeypatch.delenv("SKOLIT_ALLOW_CLOCK_OVERRIDE", raising=False)
    assert check_production(["reporting"]) == 0
    monkeypatch.setenv("SKOLIT_REPORTING_LINK_SECRET", production.DEV_LINK_SECRET)
    assert check_production(["reporting"]) == 2
    out = capsys.readouterr().out
    assert "reporting: ready for production" in out and "  SKOLIT_REPORTING_LINK_SECRET is a development value" in out
    assert production.DEV_LINK_SECRET not in out


# ---------------------------------------------------------------- docker-compose.yml


def _compose() -> dict:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _skolit_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if str(svc.get("image", "")).startswith("skolit:")}


REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class Unset(LookupError):
    pass


def _service_env(compose: dict, name: str) -> dict[str, str]:
    """A compose service's environment as the process gets it: a value interpolated to nothing (``KEY: ${X:-}``) is
    empty, not YAML's null (``interpolate`` works on the text, compose on the parsed values)."""
    return {k: "" if v is None else str(v) for k, v in compose["services"][name]["environment"].items()}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``$$`` is a dollar, ``${NAME:-default}``, ``${NAME:?error}`` (Unset when empty)."""
    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name, "")
        if value:
            return value
        if op in (":?", "?"):
            raise Unset(f"{name}: {arg}")
        return arg or ""

    return "$".join(REFERENCE.sub(one, part) for part in text.split("$$"))


def test_compose_runs_every_skolit_process_in_production() -> None:
    skolit = _skolit_services(_compose())
    assert set(skolit) == {*SERVICES, CONNECTOR, "web", "notification-sender"}, sorted(skolit)  # the senders apart: decision 0029
    for name, svc in skolit.items():
        assert svc["environment"].get("SKOLIT_ENV") == "production", name


def test_compose_commits_no_secret_and_no_secret_default() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    references = REFERENCE.findall(text)
    secrets_ = {name for name, _, _ in references if SECRET_NAME.search(name)}
    assert {"POSTGRES_PASSWORD", "SKOLIT_KEYVAULT_MASTER_KEY", "SKOLIT_WEB_SESSION_SECRET", "SKOLIT_CITY_KAFKA_PASSWORD"} <= secrets_
    for name, op, arg in references:
        if not SECRET_NAME.search(name):
            continue
        optional = op == ":-" and arg == ""  # an optional secret: nothing unless .env has it
        assert optional or (op, arg) == (":?", f"set {name} in .env — see deploy/compose.env.example"), f"${{{name}{op}{arg}}}"
    for dev in (DEV_JWT_SECRET, "change-me", "kafka-admin-dev", *(f"skolit-{s}-dev" for s in SERVICES), *(f"skolit-{s}-kafka-dev" for s in SERVICES)):
        assert dev not in text, dev
    assert not any("SKOLIT_JWT_SECRET" in svc.get("environment", {}) for svc in _compose()["services"].values()), "HS256 tokens"
    # a secret-named variable never holds a literal: every one is a reference
    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and SECRET_NAME.search(key) and isinstance(value, str | int):
                    assert REFERENCE.fullmatch(str(value)), f"{key}: a literal value"
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(_compose()["services"])


def test_the_example_lists_every_name_compose_asks_for() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == compose_env.example(), "regenerate: python -m devkit.compose_env --example > deploy/compose.env.example"
    listed = {line.split("=", 1)[0].lstrip("# ") for line in compose_env.example().splitlines() if "=" in line and not line.startswith("#   ")}
    required = {name for name, op, _ in REFERENCE.findall(COMPOSE.read_text(encoding="utf-8")) if op == ":?"}
    assert required <= listed, sorted(required - listed)
    made = dict(line.split("=", 1) for line in compose_env.env_file({}).splitlines() if line and not line.startswith("#"))
    assert required <= set(made), sorted(required - set(made))
    assert all(made[s.name] for s in compose_env.SECRETS)


def test_compose_without_a_secret_stops_naming_it() -> None:
    made = dict(line.split("=", 1) for line in compose_env.env_file({}).splitlines() if line and not line.startswith("#"))
    text = COMPOSE.read_text(encoding="utf-8")
    interpolate(text, made)
    with pytest.raises(Unset, match="SKOLIT_KEYVAULT_MASTER_KEY: set SKOLIT_KEYVAULT_MASTER_KEY in .env"):
        interpolate(text, {k: v for k, v in made.items() if k != "SKOLIT_KEYVAULT_MASTER_KEY"})


def test_compose_with_a_generated_env_passes_the_production_rules() -> None:
    """What `python -m devkit.compose_env > .env && docker compose up` gives each Skolit process starts in production;
    the same .env twice gives different secrets."""
    made = dict(line.split("=", 1) for line in compose_env.env_file({}).splitlines() if line and not line.startswith("#"))
    again = dict(line.split("=", 1) for line in compose_env.env_file({}).splitlines() if line and not line.startswith("#"))
    assert all(made[s.name] != again[s.name] for s in compose_env.SECRETS)
    compose = yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8"), made))
    for name in _skolit_services(compose):
        env = _service_env(compose, name)
        process = {"notification-sender": "notification"}.get(name, name)  # notification's `work` process: its settings
        assert problems(process, env) == [], name
    assert {*SERVICES, CONNECTOR, WEB} <= set(_skolit_services(compose))
    users = dict(pair.split("=", 1) for pair in compose["services"]["kafka-users"]["environment"]["USERS"].split())
    for name in SERVICES:
        assert users[f"skolit-{name}"] == compose["services"][name]["environment"]["KAFKA_SASL_PASSWORD"], "kafka-users made its password"
    assert users["skolit-city"] == compose["services"][CONNECTOR]["environment"]["KAFKA_SASL_PASSWORD"], "the connector is the city's user"


def test_compose_passes_the_city_api_to_the_connector_and_refuses_it_without_its_secret() -> None:
    """With SKOLIT_SS12000_URL in .env the connector syncs, and refuses to start until the client's secret is there too:
    compose passes both through (the secret is the city's, so .env gets it by hand, never a generated one)."""
    made = dict(line.split("=", 1) for line in compose_env.env_file({"SKOLIT_SS12000_URL": "https://ss12000.example.se/v2",
                                                                     "SKOLIT_SS12000_CLIENT_ID": "skolit"}).splitlines()
                if line and not line.startswith("#"))
    assert made["SKOLIT_SS12000_CLIENT_SECRET"] == ""

    def connector_env(values: dict[str, str]) -> dict[str, str]:
        return _service_env(yaml.safe_load(interpolate(COMPOSE.read_text(encoding="utf-8"), values)), CONNECTOR)

    env = connector_env(made)
    assert env["SKOLIT_SS12000_URL"] == "https://ss12000.example.se/v2" and env["SKOLIT_SS12000_CLIENT_ID"] == "skolit"
    assert [p.split()[0] for p in problems(CONNECTOR, env)] == ["SKOLIT_SS12000_CLIENT_SECRET"]
    secret = compose_env.token()
    env = connector_env({**made, "SKOLIT_SS12000_CLIENT_SECRET": secret})
    assert env["SKOLIT_SS12000_CLIENT_SECRET"] == secret and problems(CONNECTOR, env) == []


# ---------------------------------------------------------------- deploy/k8s


@pytest.mark.parametrize("target", ["base", "city", "national"])
def test_kubernetes_pods_pass_the_production_rules(target: str) -> None:
    """The manifests name every setting production needs; the Secrets (never committed) are filled in here as the
    README says to make them."""
    from tests.unit.test_k8s_manifests import find, init_container, main_container, rendered

    makers = {"SKOLIT_KEYVAULT_MASTER_KEY": compose_env.key32, "SKOLIT_NOTIFICATION_KEYS": compose_env.keyring}

    def env_of(container: dict, resources: list[dict]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            config = next(c for c in find(resources, "ConfigMap") if c["metadata"]["name"] == source["configMapRef"]["name"])
            env.update({k: str(v) for k, v in (config.get("data") or {}).items()})
        for item in container.get("env") or []:
            env[item["name"]] = str(item["value"]) if "value" in item else makers.get(item["name"], compose_env.token)()
        return env

    resources = rendered(target)
    deployments = {d["metadata"]["name"]: d for d in find(resources, "Deployment")}
    for process in (*SERVICES, CONNECTOR, WEB):
        env = env_of(main_container(deployments[process]), resources)
        assert env.get("SKOLIT_ENV") == "production", process
        assert problems(process, env) == [], (target, process)
    # the connector's ConfigMap names the city's API, so its Secret is needed: without it, the pod would not start
    connector = env_of(main_container(deployments[CONNECTOR]), resources)
    assert connector.get("SKOLIT_SS12000_URL")
    assert [p.split()[0] for p in problems(CONNECTOR, {k: v for k, v in connector.items() if k != "SKOLIT_SS12000_CLIENT_SECRET"})] == [
        "SKOLIT_SS12000_CLIENT_SECRET"]
    for service in (*SERVICES, CONNECTOR):
        provision = env_of(init_container(deployments[service], "provision"), resources)
        assert provision.get("SKOLIT_ENV") == "production" and problems(service, provision, parts=("database",)) == []
