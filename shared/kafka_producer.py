"""The producer settings every Kafka producer Skolit runs uses: the services' outbox relay (shared/runtime.py) and the
city CLI (devkit/city_cli.py).

``acks=all`` always. The idempotent producer (``enable_idempotence``) when the broker supports it, found out rather
than assumed: Apache Kafka does (every record batch then carries a producer id and sequence, so a retried batch is not
written twice and a partition's order survives retries); the embedded Tansu broker lists InitProducerId among its APIs
but answers it with an error, so it is asked, not trusted. The outbox and the inboxes stay the guarantee; the idempotent
producer only takes duplicates and reordering caused by producer retries off the topics.
docs/decisions/0018-apache-kafka-engine.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka.client import AIOKafkaClient

from shared.settings import KafkaSecurity, kafka_security

log = logging.getLogger(__name__)

#: Kafka's API key of InitProducerId, which an idempotent producer calls before its first write
INIT_PRODUCER_ID = 22
#: error codes that mean "ask again shortly" (coordinator loading / moving, not enough replicas yet)
_RETRIABLE = {14, 15, 16, 19, 51}  # COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR, NOT_ENOUGH_REPLICAS, CONCURRENT_TRANSACTIONS

#: answers found per bootstrap string and user, for the life of the process (a broker does not lose the feature)
_known: dict[tuple[str, str | None], bool] = {}


class IdempotenceUnknown(ConnectionError):
    """No broker answered the question (unreachable, or only retriable answers before the timeout)."""


async def supports_idempotence(bootstrap_servers: str, *, timeout: float = 15.0, security: KafkaSecurity | None = None) -> bool:
    """True if the cluster grants a producer id (InitProducerId without a transactional id) — what an idempotent producer
    needs. False if the brokers lack the API or refuse it. Raises IdempotenceUnknown when no broker could be asked.
    With ACLs on, Kafka (>= 3.0) grants it to a principal allowed to write any topic (KIP-679)."""
    security = kafka_security(security)
    key = (bootstrap_servers, security.username)
    if key in _known:
        return _known[key]
    answer = await asyncio.wait_for(_ask(bootstrap_servers, timeout, security), timeout + 5)
    _known[key] = answer
    log.info("Kafka at %s: idempotent producer %s", bootstrap_servers, "supported" if answer else "not supported (InitProducerId refused)")
    return answer


async def _ask(bootstrap_servers: str, timeout: float, security: KafkaSecurity) -> bool:
    from aiokafka.protocol.transaction import InitProducerIdRequest

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000), **security.client_kwargs())
    await client.bootstrap()
    deadline = time.monotonic() + timeout
    last: object = None
    try:
        while time.monotonic() < deadline:
            nodes = [b.nodeId for b in client.cluster.brokers()]
            for node_id in nodes:
                try:
                    conn = await client._get_conn(node_id)
                    if conn is None:
                        continue
                    versions: dict[int, Any] = getattr(conn, "_versions", {}) or {}
                    if versions and INIT_PRODUCER_ID not in versions:
                        return False
                    response = await client.send(node_id, InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000))
                except Exception as exc:  # noqa: BLE001 - this broker could not be asked: try the next
                    last = exc
                    continue
                code = int(response.error_code)
                if code == 0 and int(response.producer_id) >= 0:
                    return True
                if code not in _RETRIABLE:
                    return False
                last = f"error code {code}"
            await asyncio.sleep(0.5)
        raise IdempotenceUnknown(f"no broker at {bootstrap_servers} answered InitProducerId within {timeout:.0f} s (last: {last})")
    finally:
        await client.close()


def producer_settings(idempotent: bool) -> dict[str, Any]:
    """aiokafka/FastStream producer keyword arguments: acks=all, and idempotence when the broker supports it."""
    return {"acks": "all", "enable_idempotence": idempotent}


async def settings_for(bootstrap_servers: str, security: KafkaSecurity | None = None) -> dict[str, Any]:
    """``producer_settings`` for this cluster, asking it whether it supports idempotence (once per process), with the
    client's TLS / SASL settings (``security``, or the environment's)."""
    security = kafka_security(security)
    return producer_settings(await supports_idempotence(bootstrap_servers, security=security)) | security.client_kwargs()
