"""Skolit's Kafka ACLs are generated from the code (devkit/kafka/acls.py, deploy/k8s/generate_acls.py) and committed as
generated: deploy/kafka/acls.txt and the Strimzi KafkaUsers (deploy/k8s/base/kafka/users.yaml). Each principal gets what
its code does and nothing more; the client security settings (shared/settings.py KafkaSecurity) read the environment
the deployments set.
"""

from __future__ import annotations

import importlib.util
import ssl
from pathlib import Path

import pytest
import yaml

from devkit.kafka.acls import CITY, TOPIC_PREFIX, accesses, all_acls, principal, service_access
from shared.settings import SERVICES, KafkaSecurity, Settings
from shared.topics import ALL, DLQ_SUFFIX, all_topic_names

ROOT = Path(__file__).resolve().parents[2]


def generator():
    spec = importlib.util.spec_from_file_location("generate_acls", ROOT / "deploy" / "k8s" / "generate_acls.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_acl_files_are_committed_as_generated() -> None:
    for path, text in generator().outputs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.relative_to(ROOT)} is stale: run .venv/bin/python deploy/k8s/generate_acls.py"


def test_kafka_users_carry_the_same_acls_as_the_text_file() -> None:
    users = [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "kafka" / "users.yaml").read_text(encoding="utf-8")) if d]
    assert sorted(u["metadata"]["name"] for u in users) == sorted(a.principal for a in accesses())
    from_yaml = set()
    for user in users:
        assert user["spec"]["authentication"]["type"] == "scram-sha-512" and user["spec"]["authorization"]["type"] == "simple"
        for rule in user["spec"]["authorization"]["acls"]:
            r = rule["resource"]
            for op in rule["operations"]:
                from_yaml.add((user["metadata"]["name"], r["type"].upper(), r["patternType"].upper(), r["name"], op.upper()))
    lines = [line.split() for line in (ROOT / "deploy" / "kafka" / "acls.txt").read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    from_txt = {(p.removeprefix("User:"), kind, pattern, name, op) for p, allow, op, kind, pattern, name in lines if allow == "ALLOW"}
    assert from_yaml == from_txt == {(a.principal, a.resource_type, a.pattern, a.name, a.operation) for a in all_acls()}


def test_a_principal_per_service_and_one_for_the_city_named_like_their_consumer_groups() -> None:
    assert [a.principal for a in accesses()] == [principal(s) for s in SERVICES] + [CITY]
    for service in SERVICES:
        group = Settings.from_env(service).consumer_group
        assert service_access(service).groups == (group, group + ".dlq-reprocess")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_only_its_own_topic_and_its_dead_letters(service: str) -> None:
    access = service_access(service)
    consumed = [t for t in access.reads if not t.endswith(DLQ_SUFFIX)]
    own = {t for t in access.writes if not t.endswith(DLQ_SUFFIX)}
    assert own == {f"skolit.{service}"}, own
    assert {t for t in access.writes if t.endswith(DLQ_SUFFIX)} == {t + DLQ_SUFFIX for t in consumed}
    assert not any(t.startswith("skolit.city.") and not t.endswith(DLQ_SUFFIX) for t in access.writes), "only the city writes its topics"


def test_only_read_write_and_describe_and_only_declared_names() -> None:
    declared = {name for name, _ in all_topic_names()}
    for acl in all_acls():
        assert acl.operation in ("READ", "WRITE", "DESCRIBE"), acl  # no Create, Delete, Alter, All: those are the operator's
        if acl.resource_type == "TOPIC" and acl.pattern == "LITERAL":
            assert acl.name in declared, acl
        elif acl.resource_type == "TOPIC":
            assert (acl.pattern, acl.name, acl.operation) == ("PREFIXED", TOPIC_PREFIX, "DESCRIBE"), acl
        else:
            assert acl.resource_type == "GROUP" and acl.pattern == "LITERAL" and acl.operation == "READ", acl


def test_every_topic_has_its_writer_and_every_event_topic_a_reader() -> None:
    writers = {t for a in accesses() for t in a.writes}
    readers = {t for a in accesses() for t in a.reads}
    for topic in ALL:
        assert topic.name in writers, f"nobody may write {topic.name}"
    city = next(a for a in accesses() if a.principal == CITY)
    assert city.writes and all(t.startswith("skolit.city.") for t in city.writes) and not city.reads and not city.groups
    unread = sorted(t.name for t in ALL if t.name not in readers)
    assert not unread, f"no service may read {unread}: a topic nobody reads is a contract nobody honours"


# ---------------------------------------------------------------- the client settings (shared/settings.py)


def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_PASSWORD_FILE",
                 "KAFKA_SSL_CAFILE", "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE"):
        monkeypatch.delenv(name, raising=False)


def test_plaintext_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    _clean(monkeypatch)
    security = KafkaSecurity.from_env()
    assert security == KafkaSecurity() and security.client_kwargs() == {} and security.faststream() is None
    assert Settings.from_env("catalog").kafka_security == KafkaSecurity()


def test_sasl_ssl_with_scram_and_a_password_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from faststream.security import SASLScram512

    _clean(monkeypatch)
    (tmp_path / "pw").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "sasl_ssl")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "skolit-catalog")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "pw"))
    security = Settings.from_env("catalog").kafka_security
    assert (security.protocol, security.sasl_mechanism, security.username, security.password) == ("SASL_SSL", "SCRAM-SHA-512", "skolit-catalog", "s3cret")
    kwargs = security.client_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "skolit-catalog" and kwargs["sasl_plain_password"] == "s3cret"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext) and kwargs["ssl_context"].check_hostname
    fs = security.faststream()
    assert isinstance(fs, SASLScram512) and fs.use_ssl and fs.username == "skolit-catalog"
    assert "s3cret" not in repr(security) and "s3cret" not in security.describe()


def test_plain_over_sasl_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    from faststream.security import SASLPlaintext

    _clean(monkeypatch)
    for name, value in {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
                        "KAFKA_SASL_PASSWORD": "p"}.items():
        monkeypatch.setenv(name, value)
    security = KafkaSecurity.from_env()
    assert "ssl_context" not in security.client_kwargs() and security.client_kwargs()["sasl_mechanism"] == "PLAIN"
    fs = security.faststream()
    assert isinstance(fs, SASLPlaintext) and not fs.use_ssl


@pytest.mark.parametrize(("env", "message"), [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
     "KAFKA_SASL_MECHANISM"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/c.pem"}, "KAFKA_SSL_KEYFILE"),
])
def test_a_misconfiguration_is_named(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    _clean(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        KafkaSecurity.from_env()
