"""shared/kafka_records.py: a fetched batch can always be read, whatever bytes its header names hold."""

from __future__ import annotations

from typing import Any

import aiokafka.consumer.fetcher as fetcher
import pytest
from aiokafka.record._crecords import DefaultRecordBatch as FastBatch
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from shared import kafka_records
from shared.kafka_records import LenientRecordBatch, TolerantBatch, TolerantMemoryRecords


class RawName(str):
    """A header name that encodes to bytes that are not UTF-8, as another Kafka client can send it."""

    def encode(self, *args: Any, **kwargs: Any) -> bytes:  # type: ignore[override]
        return b"\xff\xfe" + super().encode()


def batch(records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]], compression: int = 0) -> bytes:
    builder = _DefaultRecordBatchBuilderPy(magic=2, compression_type=compression, is_transactional=0, producer_id=-1,
                                           producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for offset, (key, value, headers) in enumerate(records):
        builder.append(offset, timestamp=1_700_000_000_000 + offset, key=key, value=value, headers=headers)
    return bytes(builder.build())


def read(buf: bytes) -> list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]]:
    """As aiokafka's fetcher reads it: records below the position already handed out are skipped."""
    out: list[tuple[int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]] = []
    records = TolerantMemoryRecords(buf)
    position = 0
    while records.has_next():
        b = records.next_batch()
        assert b.validate_crc()
        for r in b:
            if r.offset < position:
                continue
            out.append((r.offset, r.key, r.value, list(r.headers)))
            position = r.offset + 1
    return out


HOSTILE = [
    (b"k0", b"first", [("ce_id", b"a")]),
    (None, None, [(RawName("name"), b"\xff"), ("null-value", None)]),
    (b"k2", b"third", []),
]


@pytest.mark.parametrize("compression", [0, 1], ids=["plain", "gzip"])
def test_a_header_name_that_is_not_utf8_is_read_with_replacement_characters(compression: int) -> None:
    buf = batch(HOSTILE, compression)
    with pytest.raises(UnicodeDecodeError):
        list(FastBatch(buf))  # aiokafka alone cannot read the batch
    records = read(buf)
    assert [r[0] for r in records] == [0, 1, 2], "every record once, in order"
    assert records[0][1:] == (b"k0", b"first", [("ce_id", b"a")])
    assert records[1][1:3] == (None, None)
    assert records[1][3] == [("\ufffd\ufffdname", b"\xff"), ("null-value", None)]
    assert records[2][1:] == (b"k2", b"third", [])


def test_an_ordinary_batch_is_read_by_aiokafkas_fast_reader_and_unchanged() -> None:
    buf = batch([(b"k", b"v", [("ce_id", b"x"), ("h", None)]), (b"k2", b"", [])])
    b = TolerantMemoryRecords(buf).next_batch()
    assert isinstance(b, TolerantBatch) and isinstance(b._batch, FastBatch)
    assert read(buf) == [(0, b"k", b"v", [("ce_id", b"x"), ("h", None)]), (1, b"k2", b"", [])]


def test_the_lenient_reader_agrees_with_aiokafka_on_readable_batches() -> None:
    buf = batch([(b"key", b"x" * 5000, [("a", b"1"), ("b", b"")]), (None, b"{}", [])], compression=1)
    fast = [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in FastBatch(buf)]
    lenient = [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in LenientRecordBatch(buf)]
    assert lenient == fast


def test_install_puts_the_tolerant_reader_into_aiokafkas_fetcher() -> None:
    # If a new aiokafka moves this seam, this fails instead of consumers stalling on a header name.
    kafka_records.install()
    assert fetcher.MemoryRecords is TolerantMemoryRecords
    assert fetcher.PartitionRecords.__init__.__code__.co_varnames[:3] == ("self", "tp", "records")
