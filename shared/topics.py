"""Every topic Skolit uses, with its partition count: the one place they are declared.

Services create what is missing at start (``ensure_topics``). Each topic has a dead-letter twin,
``<topic>.dlq``, for events that can never be applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


CITY_ORGANISATION = Topic("skolit.city.organisation", 6, "SS 12000 organisations: districts and school units (city systems)")
CITY_PERSON = Topic("skolit.city.person", 6, "SS 12000 persons, by id and protection marking only (city systems)")
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


def all_topic_names() -> list[tuple[str, int]]:
    names: list[tuple[str, int]] = []
    for t in ALL:
        names.append((t.name, t.partitions))
        names.append((t.dlq, DLQ_PARTITIONS))
    return names


async def ensure_topics(bootstrap_servers: str, replication_factor: int = 1) -> list[str]:
    """Create every declared topic that does not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, p, replication_factor) for n, p in all_topic_names() if n not in existing]
        if not missing:
            return []
        try:
            await admin.create_topics(missing)
        except TopicAlreadyExistsError:
            # another service created them in the meantime: that is the outcome we wanted
            pass
        created = [t.name for t in missing]
        log.info("created topics %s", created)
        return created
    finally:
        await admin.close()
