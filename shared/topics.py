"""Every topic Skolit uses, with its partition count: the one place they are declared.

Services create what is missing at start (``ensure_topics``). Each topic has a dead-letter twin,
``<topic>.dlq``, for events that can never be applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import KafkaSecurity, kafka_security

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"

# ---- The size policy (docs/decisions/0012-event-size-policy-and-outbox-parking.md) --------------------------------
#: The largest event Skolit accepts from a topic and publishes to one, counted as what a record carries: key, value, and
#: every header's name and value. An inbound record over it is dead-lettered as a bounded letter; an event of Skolit's own
#: over it is refused where it is created (HTTP 413), never written to the outbox.
MAX_EVENT_BYTES = 1_000_000
#: What the broker's topics (``max.message.bytes``), the producer (``max_request_size``) and the consumer
#: (``max_partition_fetch_bytes``) are set to: one event of MAX_EVENT_BYTES plus the record batch's framing (61 bytes
#: of batch header and a few varints per record) fits with room to spare.
MAX_MESSAGE_BYTES = 1_048_576
#: The part of an oversized record's body a dead letter keeps, beside the whole body's size and SHA-256.
DEAD_LETTER_BODY_PREFIX_BYTES = 64 * 1024
#: Every topic Skolit creates carries these settings (deploy/k8s's KafkaTopics and docker-compose's broker say the same).
TOPIC_CONFIGS = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


CITY_ORGANISATION = Topic("skolit.city.organisation", 6, "SS 12000 organisations: districts and school units (city systems)")
CITY_PERSON = Topic("skolit.city.person", 6, "SS 12000 persons, by id, protection marking and name (city systems)")
CITY_DUTY = Topic("skolit.city.duty", 6, "SS 12000 staff duties at school units (city systems)")
CITY_GUARDIANSHIP = Topic("skolit.city.guardianship", 6, "Guardian → pupil relations at school units (city systems)")
CITY_FIGURES = Topic("skolit.city.figures", 6, "Per-school figures the city measures: Wi-Fi, devices, training (city systems)")
CITY_USAGE = Topic("skolit.city.usage", 6, "Aggregated app launches per app and school unit, never per pupil (city systems)")
ASSESSMENT = Topic("skolit.assessment", 6, "Events produced by the assessment service")
CATALOG = Topic("skolit.catalog", 6, "Events produced by the catalog service")
REPORTING = Topic("skolit.reporting", 3, "Events produced by the reporting service")
NOTIFICATION = Topic("skolit.notification", 6, "Events produced by the notification service")

ALL: tuple[Topic, ...] = (
    CITY_ORGANISATION,
    CITY_PERSON,
    CITY_DUTY,
    CITY_GUARDIANSHIP,
    CITY_USAGE,
    CITY_FIGURES,
    ASSESSMENT,
    CATALOG,
    REPORTING,
    NOTIFICATION,
)
DLQ_PARTITIONS = 1
BY_NAME = {t.name: t for t in ALL}


def is_declared(name: str) -> bool:
    """A topic Skolit declares (or its dead-letter twin): the only ones the outbox relay publishes to."""
    return name in BY_NAME or (name.endswith(DLQ_SUFFIX) and name[: -len(DLQ_SUFFIX)] in BY_NAME)


def all_topic_names() -> list[tuple[str, int]]:
    names: list[tuple[str, int]] = []
    for t in ALL:
        names.append((t.name, t.partitions))
        names.append((t.dlq, DLQ_PARTITIONS))
    return names


#: CreateTopics answers per topic: already there (another service was first), or not this principal's to create
_TOPIC_ALREADY_EXISTS = 36
_NOT_AUTHORIZED = {29, 31}  # TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED


async def ensure_topics(bootstrap_servers: str, replication_factor: int = 1, *, security: KafkaSecurity | None = None) -> list[str]:
    """Create every declared topic that does not exist yet; returns the names created.

    With ACLs on (docs/decisions/0019-kafka-security.md) a service's principal may not create topics: they come from the
    operator (Strimzi's KafkaTopics, or an administrator), and a refusal is logged, not raised. TLS / SASL: ``security``,
    or the environment's."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_security(security).client_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, p, replication_factor, topic_configs=dict(TOPIC_CONFIGS)) for n, p in all_topic_names() if n not in existing]
        if not missing:
            return []
        try:
            response = await admin.create_topics(missing)
        except TopicAlreadyExistsError:
            # another service created them in the meantime: that is the outcome we wanted
            return []
        errors = {str(t[0]): int(t[1]) for t in getattr(response, "topic_errors", None) or getattr(response, "topics", None) or []}
        created = [t.name for t in missing if errors.get(t.name, 0) == 0]
        refused = sorted(name for name, code in errors.items() if code in _NOT_AUTHORIZED)
        failed = {name: code for name, code in errors.items() if code not in (0, _TOPIC_ALREADY_EXISTS) and code not in _NOT_AUTHORIZED}
        if created:
            log.info("created topics %s", created)
        if refused:
            log.warning("topics %s are missing and this client may not create them (ACLs): the operator creates them", refused)
        if failed:
            log.warning("creating topics failed: %s (Kafka error codes)", failed)
        return created
    finally:
        await admin.close()
