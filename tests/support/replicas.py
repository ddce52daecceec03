"""Who holds which partitions when a service runs as several processes in one consumer group.

Two sources, each checked against the other:

- the **broker**, through the Kafka admin API (DescribeGroups): the group's state and its member
  ids. Tansu answers DescribeGroups with the members but with empty ``member_assignment`` bytes (and
  an empty protocol name), so the broker cannot tell us who owns what;
- each **process**, in its own log: aiokafka's group coordinator writes
  ``Joined group '<g>' (generation N) with member_id <m>`` and then
  ``Setting newly assigned partitions {TopicPartition(...), ...} for group <g>`` after every
  rebalance. The last of each pair is the process's current member id and assignment.

aiokafka 0.14's ``AIOKafkaAdminClient.describe_consumer_groups`` cannot read Tansu's answer for
several groups (seen with the four): it sends DescribeGroups v3 but decodes the response with the v2
schema, which lacks v3's per-group ``authorized_operations`` field, and fails with "Buffer underrun
decoding string". ``describe_groups`` below sends v3 and decodes it with the v3 response schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol import admin as proto
from aiokafka.protocol.api import Request

from shared.topics import BY_NAME

JOINED = re.compile(r"Joined group '(?P<group>[^']+)' \(generation (?P<gen>-?\d+)\) with member_id (?P<member>\S+)")
ASSIGNED = re.compile(r"Setting newly assigned partitions (?P<parts>.*) for group (?P<group>\S+)\s*$")
TOPIC_PARTITION = re.compile(r"TopicPartition\(topic='(?P<topic>[^']+)', partition=(?P<partition>\d+)\)")

Partitions = frozenset[tuple[str, int]]


class _DescribeGroupsV3(proto.DescribeGroupsRequest_v3):
    RESPONSE_TYPE = proto.DescribeGroupsResponse_v3  # aiokafka 0.14 has DescribeGroupsResponse_v2 here


class _DescribeGroups(Request[_DescribeGroupsV3]):
    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[_DescribeGroupsV3]) -> _DescribeGroupsV3:
        return request_struct_class(self._groups, False)


@dataclass(frozen=True)
class GroupState:
    group: str
    error_code: int
    state: str
    members: frozenset[str]


async def describe_groups(bootstrap: str, groups: list[str]) -> dict[str, GroupState]:
    """The broker's view of each consumer group: its state and its members' ids."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        coordinator = await admin.find_coordinator(groups[0])  # one broker: it coordinates every group
        response = await admin._client.send(coordinator, _DescribeGroups(groups))  # noqa: SLF001 - see the module docstring
    finally:
        await admin.close()
    out: dict[str, GroupState] = {}
    for error_code, group, state, _ptype, _protocol, members, *_ in response.groups:
        out[group] = GroupState(group, error_code, state, frozenset(m[0] for m in members))
    return out


@dataclass
class Membership:
    """What one process says about its place in the group, from its log."""

    member_id: str | None = None
    generation: int | None = None
    #: partitions of the last "Setting newly assigned partitions" after the last join
    partitions: Partitions = field(default_factory=frozenset)
    assignments: int = 0  # how many assignments the process received in its life


def membership(log_path: Path, group: str) -> Membership:
    m = Membership()
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return m
    for line in text.splitlines():
        if (j := JOINED.search(line)) and j["group"] == group:
            m.member_id, m.generation, m.partitions = j["member"], int(j["gen"]), frozenset()
        elif (a := ASSIGNED.search(line)) and a["group"] == group:
            m.partitions = frozenset((t["topic"], int(t["partition"])) for t in TOPIC_PARTITION.finditer(a["parts"]))
            m.assignments += 1
    return m


def all_partitions(topics: list[str]) -> Partitions:
    """Every partition of these topics, as declared in shared/topics.py (and created by ensure_topics)."""
    return frozenset((t, p) for t in topics for p in range(BY_NAME[t].partitions))


def per_topic(partitions: Partitions) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        out.setdefault(topic, []).append(partition)
    return out


def metric_sum(metrics_text: str, name: str, **labels: str) -> float:
    """Sum of a Prometheus sample over every series whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def metric_partitions(metrics_text: str, service: str) -> Partitions:
    """The (topic, partition) pairs this process has consumed records from: skolit_consumer_lag's labels."""
    from prometheus_client.parser import text_string_to_metric_families

    out: set[tuple[str, int]] = set()
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "skolit_consumer_lag" and sample.labels.get("service") == service:
                out.add((sample.labels["topic"], int(sample.labels["partition"])))
    return frozenset(out)
