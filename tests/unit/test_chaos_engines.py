"""make chaos on Apache Kafka (chaos/): the broker faults are planned in slots of their own, only on that engine, and
docs/chaos.md shows the Kafka run beside the Tansu run's figures."""

from __future__ import annotations

import random

import pytest

from chaos import faults as faultlib
from chaos.run import parse


def test_kafka_mode_plans_each_broker_fault_in_a_slot_of_its_own() -> None:
    opts = faultlib.FaultOptions(kills=4, postgres_restarts=1, broker_outages=1, broker_kills=2, broker_stops=1, broker_pauses=1, cluster_restarts=1)
    planned = faultlib.plan(random.Random(1), 10.0, 610.0, opts)
    kinds = [f.kind for f in planned]
    assert kinds.count("broker-kill") == 2 and kinds.count("cluster-restart") == 1
    assert kinds.count("broker-stop") == 1 and kinds.count("broker-pause") == 1
    slotted = sorted(f.at for f in planned if f.kind in (*faultlib.BROKER_FAULTS, "postgres-restart", "broker-outage"))
    slot = 600.0 / 7
    assert [int((t - 10.0) // slot) for t in slotted] == list(range(7))  # one infrastructure fault per slot
    for f in planned:
        if f.kind in faultlib.BROKER_DOWN_S:
            low, high = faultlib.BROKER_DOWN_S[f.kind]
            assert low <= f.duration <= high


def test_broker_faults_default_on_kafka_and_are_refused_on_tansu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAOS_ENGINE", raising=False)
    tansu = parse([])
    assert (tansu.engine, tansu.broker_kills, tansu.cluster_restarts) == ("tansu", 0, 0)
    assert tansu.out.endswith("docs/chaos")
    kafka = parse(["--engine", "kafka"])
    assert (kafka.broker_kills, kafka.broker_stops, kafka.broker_pauses, kafka.cluster_restarts) == (2, 1, 1, 1)
    assert kafka.out.endswith("docs/chaos-kafka")
    monkeypatch.setenv("CHAOS_ENGINE", "kafka")
    assert parse([]).engine == "kafka"
    with pytest.raises(SystemExit):
        parse(["--engine", "tansu", "--broker-kills", "1"])
