"""skolit_read_model_lag_seconds (shared/consumer.py ReadModelLag): 0 when the consumer has applied everything its
partitions hold, however old the last event; otherwise how long the oldest record not applied yet has waited.
Issue 20: a quiet city topic whose events carry source times months back read as a 113-day outage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from prometheus_client import REGISTRY

from shared.consumer import ReadModelLag

TOPIC = "skolit.city.organisation"
DAY = 86400.0


@dataclass
class Rec:
    offset: int
    timestamp: int  # Kafka timestamp, ms
    topic: str = TOPIC
    partition: int = 0
    key: bytes | None = None
    value: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


NOW = 1_800_000_000.0


def at(seconds_ago: float) -> int:
    return int((NOW - seconds_ago) * 1000)


def tracker() -> tuple[ReadModelLag, Clock, str]:
    clock = Clock(NOW)
    service = f"lag-test-{uuid.uuid4().hex[:8]}"
    lag = ReadModelLag(service, clock=clock)
    lag.watch([TOPIC, "skolit.city.person"])
    return lag, clock, service


def scraped(service: str, topic: str = TOPIC) -> float | None:
    return REGISTRY.get_sample_value("skolit_read_model_lag_seconds", {"service": service, "topic": topic})


def test_a_quiet_topic_reads_caught_up_however_old_its_last_event() -> None:
    lag, clock, service = tracker()
    assert scraped(service) == 0.0  # exported from the start, not absent until a first event
    old = Rec(offset=41, timestamp=at(113 * DAY))  # written 113 days ago: a quiet topic read from the start
    lag.polled({(TOPIC, 0)}, lambda key: 42)
    lag.fetched(old)
    assert scraped(service) == 113 * DAY  # while it is being applied, it really is that old
    lag.applied(old, highwater=42)  # position 42 == high-water mark 42: nothing waits
    assert scraped(service) == 0.0
    clock.now += 30 * DAY  # a month without a single event
    lag.polled({(TOPIC, 0)}, lambda key: 42)
    assert scraped(service) == 0.0


def test_a_stuck_batch_reads_as_a_lag_that_grows_with_time() -> None:
    lag, clock, service = tracker()
    first = Rec(offset=10, timestamp=at(5))
    lag.polled({(TOPIC, 0)}, lambda key: 20)
    lag.fetched(first)
    assert scraped(service) == 5.0
    clock.now += 600  # the batch fails and is read again: same first record, its time is kept
    lag.polled({(TOPIC, 0)}, lambda key: 25)
    lag.fetched(first)
    assert scraped(service) == 605.0
    assert scraped(service, "skolit.city.person") == 0.0  # other topics are their own


def test_more_waiting_after_a_batch_counts_from_the_next_record_once_fetched() -> None:
    lag, clock, service = tracker()
    lag.polled({(TOPIC, 0)}, lambda key: 1000)
    lag.fetched(Rec(offset=0, timestamp=at(120)))
    lag.applied(Rec(offset=499, timestamp=at(60)), highwater=1000)
    assert scraped(service) == 60.0  # 500 more wait, not fetched yet: the last applied one stands in
    lag.polled({(TOPIC, 0)}, lambda key: 1000)
    lag.fetched(Rec(offset=500, timestamp=at(59)))
    assert scraped(service) == 59.0  # the real oldest waiting record
    lag.applied(Rec(offset=999, timestamp=at(1)), highwater=1000)
    assert scraped(service) == 0.0


def test_a_stand_in_clears_when_the_next_fetch_finds_the_partition_caught_up() -> None:
    """The high-water mark seen at the commit can be behind the broker's; an (empty) fetch brings the current one."""
    lag, clock, service = tracker()
    lag.fetched(Rec(offset=7, timestamp=at(3)))
    lag.applied(Rec(offset=7, timestamp=at(3)), highwater=9)  # looks like one more waits
    assert scraped(service) == 3.0
    lag.polled({(TOPIC, 0)}, lambda key: 8)  # it was a stale mark: position 8 == high-water mark 8
    assert scraped(service) == 0.0


def test_the_slowest_partition_is_the_topics_lag_and_given_away_partitions_are_forgotten() -> None:
    lag, clock, service = tracker()
    lag.fetched(Rec(offset=3, timestamp=at(40), partition=0))
    lag.fetched(Rec(offset=9, timestamp=at(400), partition=1))
    assert scraped(service) == 400.0
    lag.polled({(TOPIC, 0)}, lambda key: 100)  # a rebalance gave partition 1 to another replica: it reports it now
    assert scraped(service) == 40.0
    lag.forget()  # the consumer stopped
    assert scraped(service) == 0.0


def test_a_record_without_a_timestamp_counts_from_when_it_was_seen_and_a_future_one_reads_zero() -> None:
    lag, clock, service = tracker()
    lag.fetched(Rec(offset=0, timestamp=-1))
    clock.now += 12
    assert scraped(service) == 12.0
    lag.forget()
    lag.fetched(Rec(offset=1, timestamp=at(-30)))  # a producer whose clock runs ahead
    assert scraped(service) == 0.0


def test_the_consume_loop_survives_a_partition_taken_away_while_its_batch_was_applied() -> None:
    """aiokafka asserts a partition is assigned before it tells its high-water mark; a rebalance during a batch made
    the lag bookkeeping after the commit raise out of the consume loop. Now the partition is just forgotten."""
    import asyncio

    from aiokafka import TopicPartition

    from shared.kafka_consumer import BatchConsumer

    class Processor:
        service = f"lag-test-{uuid.uuid4().hex[:8]}"

        async def process(self, records: list[Rec]) -> dict[str, int]:
            return {"applied": len(records)}

    class Revoked:
        committed: dict[TopicPartition, int] = {}

        async def commit(self, offsets: dict[TopicPartition, int]) -> None:
            self.committed = offsets

        def highwater(self, tp: TopicPartition) -> int:
            raise AssertionError("Partition is not assigned")

        def assignment(self) -> set[TopicPartition]:
            return set()

    async def scenario() -> None:
        consumer = BatchConsumer(Processor(), bootstrap_servers="127.0.0.1:9", topics=[TOPIC], group="g", client_id="c")  # type: ignore[arg-type]
        fake = Revoked()
        consumer.consumer = fake  # type: ignore[assignment]
        consumer.lag.clock = Clock(NOW)
        consumer.lag.watch([TOPIC])
        tp = TopicPartition(TOPIC, 0)
        batch = {tp: [Rec(offset=5, timestamp=at(50)), Rec(offset=6, timestamp=at(40))]}
        consumer._observe_waiting(batch)  # type: ignore[arg-type]
        assert scraped(Processor.service) == 50.0
        await consumer._handle(batch)  # type: ignore[arg-type]
        assert fake.committed == {tp: 7}
        assert scraped(Processor.service) == 0.0

    asyncio.run(scenario())
