"""The Apache Kafka Skolit is tested on is the one operators deploy (issue 22): the broker settings devkit/kafka's launcher
uses (``broker_settings``) are those docker-compose.yml (one node) and the Strimzi Kafka resource (three nodes) set, read
from the files; the Kafka version devkit/kafka/pom.xml pins is docker-compose's image and Strimzi's ``version``; and a
secured test cluster logs clients in and authorizes them as both deployments do. No broker is started.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devkit.kafka import AUTHORIZER, CLIENT_SASL_MECHANISM, LOCAL_SIZING, broker_settings, kafka_version

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def compose_broker() -> dict[str, str]:
    """docker-compose's kafka environment as broker settings: the apache/kafka image turns KAFKA_A_B into a.b
    (``___`` into ``-``, ``__`` into ``_``)."""
    env = compose()["services"]["kafka"]["environment"]
    out = {}
    for key, value in env.items():
        if key.startswith("KAFKA_"):
            name = key.removeprefix("KAFKA_").lower().replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def strimzi() -> dict:
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "kafka" / "cluster.yaml").read_text(encoding="utf-8"))
    return next(d for d in docs if d and d["kind"] == "Kafka")


def strimzi_broker() -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in strimzi()["spec"]["kafka"]["config"].items()}


def test_the_reader_turns_compose_variables_into_broker_settings() -> None:
    settings = compose_broker()
    assert settings["message.max.bytes"] == "1048576"
    assert "listener.name.client.scram-sha-512.sasl.jaas.config" in settings
    assert settings["auto.create.topics.enable"] == "false"


@pytest.mark.parametrize(("where", "nodes", "read"), [("docker-compose.yml", 1, compose_broker), ("Strimzi cluster.yaml", 3, strimzi_broker)])
def test_the_launcher_runs_the_broker_settings_operators_deploy(where: str, nodes: int, read) -> None:
    deployed = read()
    ours = broker_settings(nodes)
    different = {k: (v, deployed.get(k, "(not set)")) for k, v in ours.items() if deployed.get(k) != v}
    assert not different, f"devkit/kafka broker_settings({nodes}) and {where} disagree (launcher, deployed): {different}"


def test_only_thread_counts_are_sized_down_for_a_small_machine() -> None:
    assert all(k.endswith(("threads", ".threads.per.data.dir")) for k in LOCAL_SIZING), LOCAL_SIZING
    assert not set(LOCAL_SIZING) & set(broker_settings(3))


def test_three_replicas_and_two_in_sync_where_operators_run_a_cluster() -> None:
    config = strimzi_broker()
    assert config["default.replication.factor"] == "3" and config["min.insync.replicas"] == "2"
    pool = next(d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "kafka" / "cluster.yaml").read_text(encoding="utf-8"))
                if d and d["kind"] == "KafkaNodePool")
    assert pool["spec"]["replicas"] == 3


def test_one_kafka_version_everywhere() -> None:
    version = kafka_version()
    services = compose()["services"]
    for name in ("kafka", "kafka-users"):
        image = services[name]["image"]
        assert image == f"apache/kafka:{version}", f"docker-compose.yml {name} runs {image}, devkit/kafka/pom.xml pins {version}"
    assert strimzi()["spec"]["kafka"]["version"] == version, "the Strimzi Kafka resource's spec.kafka.version"


def test_clients_log_in_and_are_authorized_as_in_production() -> None:
    kafka = strimzi()["spec"]["kafka"]
    assert [lst["authentication"]["type"] for lst in kafka["listeners"]] == [CLIENT_SASL_MECHANISM.lower()]
    assert all(lst["tls"] for lst in kafka["listeners"])
    # Strimzi's simple authorization is KRaft's StandardAuthorizer, the launcher's
    assert kafka["authorization"]["type"] == "simple" and AUTHORIZER.endswith(".StandardAuthorizer")
    settings = compose_broker()
    protocols = dict(item.split(":") for item in settings["listener.security.protocol.map"].split(","))
    client = settings["advertised.listeners"].split(",")[0].split(":")[0]
    assert protocols[client].startswith("SASL_"), "compose's client listener takes logins only"
    assert settings[f"listener.name.{client.lower()}.sasl.enabled.mechanisms"] == CLIENT_SASL_MECHANISM
    env = compose()["x-skolit-env"]
    assert env["KAFKA_SECURITY_PROTOCOL"] == protocols[client] and env["KAFKA_SASL_MECHANISM"] == CLIENT_SASL_MECHANISM
