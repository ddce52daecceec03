"""Init container: wait until every topic in shared/topics.py exists on the broker, then exit.

On Kubernetes the topics are Strimzi KafkaTopic resources (kafka/topics.yaml), created by the Topic Operator
with 3 replicas and min.insync.replicas 2. A service creates any topic it finds missing when it starts
(``ensure_topics`` in shared/topics.py), with one replica: started before the Topic Operator has done its work,
it would create them unreplicated. So each pod waits here first. Run by the image's Python; ``shared`` is the
installed package.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable

POLL_SECONDS = 5.0
# The pause between polls; a seam so a test can count pauses without patching asyncio for the whole process.
sleep = asyncio.sleep


def missing(existing: Iterable[str]) -> list[str]:
    """The declared topics (dead-letter twins included) that are not among ``existing``."""
    from shared.topics import all_topic_names

    have = set(existing)
    return sorted(name for name, _ in all_topic_names() if name not in have)


async def existing_topics(bootstrap: str) -> set[str]:
    """The topics the cluster lists, asked with the pod's own Kafka login (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
    KAFKA_SSL_CAFILE: shared/settings.py); its ACLs let it see (Describe) every skolit.* topic."""
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.settings import KafkaSecurity

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **KafkaSecurity.from_env().client_kwargs())
    try:
        await admin.start()
        return set(await admin.list_topics())
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def main() -> int:
    bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    while True:
        try:
            absent = missing(await existing_topics(bootstrap))
        except Exception as exc:  # the broker may not be up yet: keep waiting
            print(f"Kafka at {bootstrap} not reachable yet ({type(exc).__name__}: {exc})", flush=True)
        else:
            if not absent:
                print(f"every topic exists on {bootstrap}", flush=True)
                return 0
            print(f"waiting for {len(absent)} topic(s) from the Topic Operator: {', '.join(absent)}", flush=True)
        await sleep(POLL_SECONDS)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
