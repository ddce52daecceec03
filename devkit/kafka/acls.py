"""Who may do what on Skolit's Kafka: the ACLs, derived from the code (docs/decisions/0019-kafka-security.md). In devkit/,
because it reads every service's ServiceSpec (shared/ may not import services).

One principal (a SCRAM user) per service, named like its consumer group (``skolit-<service>``), and one for the city's
systems (``skolit-city``, what ``skolit-city publish`` logs in as). From shared/topics.py and each service's ServiceSpec:

* a service **writes** its own topic (the events its ``produces`` names) and the dead-letter twin of every topic it
  consumes (a letter goes to ``<topic>.dlq``, shared/consumer.py);
* it **reads** every topic it consumes and their dead-letter twins (``dlq-reprocess``), in its consumer groups
  ``skolit-<service>`` and ``skolit-<service>.dlq-reprocess`` (``rebuild`` reads without a group);
* the city **writes** the topics of the event types whose producer is the city;
* everyone may **describe** the ``skolit.`` topics: see that they exist and where their partitions are (the k8s init
  container waits for them all, and ``ensure_topics`` must not try to create what it cannot see). Nobody but an
  administrator creates, deletes or alters topics.

Reading implies describing in Kafka, and so does writing; the idempotent producer needs no cluster permission beyond a
topic it may write (KIP-679). deploy/k8s/generate_acls.py writes these as deploy/kafka/acls.txt and as Strimzi KafkaUsers;
devkit/kafka applies them to a secured test cluster.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from shared.settings import SERVICES
from shared.topics import ALL, DLQ_SUFFIX

#: the principal of the city's systems (devkit/city_cli.py's publisher)
CITY = "skolit-city"
#: what every principal may describe: Skolit's topics, by prefix
TOPIC_PREFIX = "skolit."

# Kafka's wire codes (org.apache.kafka.common.resource / acl)
RESOURCE_TYPES = {"TOPIC": 2, "GROUP": 3, "CLUSTER": 4, "TRANSACTIONAL_ID": 5}
PATTERN_TYPES = {"LITERAL": 3, "PREFIXED": 4}
OPERATIONS = {"ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DELETE": 6, "ALTER": 7, "DESCRIBE": 8}
ALLOW = 3


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: ``principal`` (a user name) may ``operation`` the ``resource_type`` named ``name``."""

    principal: str
    resource_type: str  # TOPIC | GROUP
    pattern: str  # LITERAL | PREFIXED
    name: str
    operation: str  # READ | WRITE | DESCRIBE

    def line(self) -> str:
        return f"User:{self.principal:<20} ALLOW  {self.operation:<8} {self.resource_type:<6} {self.pattern:<8} {self.name}"


def principal(service: str) -> str:
    """The SCRAM user (and KafkaUser) of a service: the same name as its consumer group."""
    return f"skolit-{service}"


@dataclass(frozen=True)
class Access:
    """What one principal does on Kafka: topics it reads, topics it writes, the consumer groups it uses."""

    principal: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    groups: tuple[str, ...]


@cache
def service_access(service: str) -> Access:
    """From the service's ServiceSpec: the topics of its handlers (replicas and privacy part included) and of the event
    types it produces."""
    spec = importlib.import_module(f"services.{service}.app").SPEC
    consumed = sorted(spec.all_handlers().topics)
    produced = sorted({model.TOPIC for model in spec.produces})
    reads = sorted(set(consumed) | {t + DLQ_SUFFIX for t in consumed})
    writes = sorted(set(produced) | {t + DLQ_SUFFIX for t in consumed})
    group = principal(service)  # Settings.consumer_group
    return Access(principal(service), tuple(reads), tuple(writes), (group, group + ".dlq-reprocess"))


@cache
def city_access() -> Access:
    import shared.events  # noqa: F401 - registers every contract
    from shared.events.registry import REGISTRY

    topics = sorted({m.TOPIC for m in REGISTRY.values() if getattr(m, "PRODUCER", None) == "city"})
    return Access(CITY, (), tuple(topics), ())


def accesses() -> list[Access]:
    return [service_access(s) for s in SERVICES] + [city_access()]


def acls_of(access: Access) -> list[Acl]:
    out = [Acl(access.principal, "TOPIC", "PREFIXED", TOPIC_PREFIX, "DESCRIBE")]
    out += [Acl(access.principal, "TOPIC", "LITERAL", t, "READ") for t in access.reads]
    out += [Acl(access.principal, "TOPIC", "LITERAL", t, "WRITE") for t in access.writes]
    out += [Acl(access.principal, "GROUP", "LITERAL", g, "READ") for g in access.groups]
    return out


def all_acls() -> list[Acl]:
    return [acl for access in accesses() for acl in acls_of(access)]


def declared_topics() -> set[str]:
    return {t.name for t in ALL} | {t.name + DLQ_SUFFIX for t in ALL}


__all__ = ["ALLOW", "CITY", "OPERATIONS", "PATTERN_TYPES", "RESOURCE_TYPES", "Access", "Acl", "accesses", "acls_of", "all_acls",
           "city_access", "principal", "service_access"]
