"""The consume loop: raw records from Kafka to the BatchProcessor, offsets committed only after its transaction.

Skolit reads topics with aiokafka directly rather than through FastStream's subscriber: FastStream's batch
parser decodes every header as UTF-8 before any handler runs, so one record with other bytes in a header made
it raise for the whole batch, after which the offsets moved past events that were never applied nor
dead-lettered (issue 17). Here nothing stands between the broker and ``BatchProcessor.process``, which turns
every record into an applied, duplicate or dead-lettered one (shared/consumer.py); header names that are not
UTF-8 are read by shared/kafka_records.py. FastStream still publishes (shared/runtime.py).

The rule for offsets: a partition's offset is committed past a record only after the transaction that applied
or dead-lettered it has committed. A transient failure (database away) seeks back to the batch's first
records, so they come again; so does anything unexpected (a bug), which is logged and counted, never skipped.
A commit refused because the group rebalanced meanwhile is harmless: the next owner reads the batch again and
the inbox makes it a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shared import kafka_records, metrics
from shared.consumer import BatchProcessor, ReadModelLag, TransientFailure, record_lag
from shared.settings import KafkaSecurity, kafka_security
from shared.topics import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)


#: How a consumer group behaves on a cluster (docs/decisions/0018-apache-kafka-engine.md), set here rather than left to
#: aiokafka's defaults. Eager round-robin assignment: aiokafka implements only the eager (stop-the-world) protocol, neither
#: cooperative-sticky nor KIP-848; a rebalance may hand a batch in flight to another member, whose inbox makes it a
#: duplicate. A member that stops heartbeating (SIGKILL) loses its partitions after the session timeout; a batch must be
#: applied within max.poll.interval (one transaction of at most consumer_max_records records).
GROUP_SETTINGS: dict[str, Any] = {
    "partition_assignment_strategy": (RoundRobinPartitionAssignor,),
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 3_000,
    "max_poll_interval_ms": 300_000,
}


def new_consumer(bootstrap_servers: str, *topics: str, security: KafkaSecurity | None = None, **kwargs: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer for Skolit's records: offsets committed by hand, a fetch that holds the largest event
    the size policy allows, and batches read through shared/kafka_records.py so that no header name can fail a fetch.
    Every consumer Skolit runs (services, ``dlq-reprocess``, ``rebuild``) is made here; ``security`` (TLS, SASL) is the
    environment's (KAFKA_SECURITY_PROTOCOL ...) unless given."""
    kafka_records.install()
    settings: dict[str, Any] = {
        **kafka_security(security).client_kwargs(),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # the size policy (shared/topics.py): a partition's fetch holds at least one event of the largest size
        "max_partition_fetch_bytes": MAX_MESSAGE_BYTES,
        **GROUP_SETTINGS,
    }
    settings.update(kwargs)
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap_servers, **settings)


class BatchConsumer:
    def __init__(
        self,
        processor: BatchProcessor,
        *,
        bootstrap_servers: str,
        topics: list[str],
        group: str,
        client_id: str,
        max_records: int = 500,
        poll_timeout_ms: int = 500,
        retry_delay: float = 1.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.processor = processor
        self.topics = topics
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.retry_delay = retry_delay
        self.consumer = new_consumer(bootstrap_servers, *topics, security=security, group_id=group, client_id=client_id)
        #: skolit_read_model_lag_seconds of these topics: 0 once caught up, else how long the oldest record not applied has waited
        self.lag = ReadModelLag(processor.service)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        #: set while the loop runs (for readiness)
        self.running = False

    async def start(self) -> None:
        try:
            await self.consumer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
            raise
        self._stopping.clear()
        self.lag.watch(self.topics)
        self._task = asyncio.create_task(self._run(), name=f"{self.processor.service}-consumer")

    async def stop(self) -> None:
        """Let the batch in flight finish and commit, then leave the group."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        self.lag.forget()

    async def _run(self) -> None:
        self.running = True
        try:
            while not self._stopping.is_set():
                try:
                    batches = await self.consumer.getmany(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
                except KafkaError as exc:  # broker away: aiokafka reconnects by itself
                    log.warning("%s: fetching from Kafka failed (%s); retrying", self.processor.service, exc)
                    await self._pause()
                    continue
                except Exception:  # must not end the loop: a consumer that stops reading stalls its partitions
                    log.exception("%s: fetching from Kafka failed unexpectedly; retrying", self.processor.service)
                    await self._pause()
                    continue
                self._observe_waiting(batches)
                if batches:
                    await self._handle(batches)
        finally:
            self.running = False

    async def _handle(self, batches: dict[TopicPartition, list[Any]]) -> None:
        records = [r for part in batches.values() for r in part]
        try:
            await self.processor.process(records)
        except TransientFailure as exc:
            log.warning("%s: batch not applied now (%s); reading it again", self.processor.service, exc)
            self._rewind(batches)
            await self._pause()
            return
        except Exception:
            # A bug, not bad input (the processor dead-letters bad input itself): never skip the records.
            log.exception("%s: applying a batch failed unexpectedly; reading it again", self.processor.service)
            for tp in batches:
                metrics.EVENTS_FAILED.labels(self.processor.service, tp.topic, "unexpected").inc()
            self._rewind(batches)
            await self._pause()
            return
        offsets = {tp: part[-1].offset + 1 for tp, part in batches.items() if part}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced while the batch was applied: its next owner reads it again, as a duplicate.
            log.info("%s: offsets not committed after a rebalance (%s); the inbox makes the replay harmless", self.processor.service, exc)
        except KafkaError as exc:
            log.warning("%s: committing offsets failed (%s); the batch will be read again as duplicates", self.processor.service, exc)
        record_lag(self.processor.service, self.consumer, records)
        for tp, part in batches.items():
            if part:
                self.lag.applied(part[-1], self._highwater(tp))

    def _highwater(self, tp: TopicPartition) -> int | None:
        """The partition's high-water mark as last fetched; None when unknown or no longer the consumer's (aiokafka asserts
        that the partition is assigned, and a rebalance can take it away while a batch is applied)."""
        try:
            return self.consumer.highwater(tp)
        except (AssertionError, IllegalStateError):
            return None

    def _observe_waiting(self, batches: dict[TopicPartition, list[Any]]) -> None:
        """What the read-model lag needs from every fetch, records or none: which partitions are still the consumer's,
        their high-water marks (aiokafka updates them with each fetch response, empty ones too) and the first record
        fetched of each partition."""
        try:
            assigned = self.consumer.assignment()
        except IllegalStateError:  # not subscribed (stopping)
            assigned = set()
        self.lag.polled(assigned, lambda key: self._highwater(TopicPartition(*key)))
        for part in batches.values():
            if part:
                self.lag.fetched(part[0])

    def _rewind(self, batches: dict[TopicPartition, list[Any]]) -> None:
        for tp, part in batches.items():
            if part:
                with contextlib.suppress(IllegalStateError):  # no longer ours after a rebalance
                    self.consumer.seek(tp, part[0].offset)

    async def _pause(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=self.retry_delay)
