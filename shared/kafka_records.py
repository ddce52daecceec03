"""Reading Kafka record batches so that no bytes a record holds can fail a fetch.

aiokafka decodes every header *name* as strict UTF-8 while it unpacks a fetched batch (the Kafka protocol
says names are strings; the broker does not check, and the Java client reads them leniently). A record
with a name that is not UTF-8 makes aiokafka's batch iterator raise in the middle of ``getmany``: the
record can be neither applied nor dead-lettered and the partition stalls on it. Skolit owns decoding
(shared/consumer.py), so it reads such a batch itself: ``TolerantMemoryRecords`` hands aiokafka's fetcher
batches that iterate with aiokafka's fast reader and, only if that raises on a header name, read the same
bytes again with ``LenientRecordBatch``, which turns such a name into text with U+FFFD for the bad bytes.
The fetcher skips the records it has already handed out (it compares offsets), so nothing is repeated.

``install()`` puts it into aiokafka's fetcher; tests/unit/test_kafka_records.py fails if a new aiokafka
moves that seam (the version is pinned below 0.15 in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiokafka.consumer.fetcher as _fetcher
from aiokafka.record.default_records import _DefaultRecordBatchPy, _DefaultRecordPy
from aiokafka.record.memory_records import _MemoryRecordsPy
from aiokafka.record.util import decode_varint

_MAGIC_OFFSET = 16  # offset(8) + length(4) + partition leader epoch(4)


class LenientRecordBatch(_DefaultRecordBatchPy):
    """aiokafka's pure-Python v2 batch reader, except that header names need not be UTF-8."""

    def _read_msg(self, decode_varint: Any = decode_varint) -> _DefaultRecordPy:  # noqa: C901 - one record's layout, in order
        buffer = self._buffer
        pos: int = self._pos  # type: ignore[has-type]  # aiokafka sets it in an untyped __init__
        length, pos = decode_varint(buffer, pos)
        start = pos
        _, pos = decode_varint(buffer, pos)  # attributes: unused in v2 records
        ts_delta, pos = decode_varint(buffer, pos)
        timestamp = self.max_timestamp if self.timestamp_type == self.LOG_APPEND_TIME else self.first_timestamp + ts_delta
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _nullable_bytes(buffer, pos)
        value, pos = _nullable_bytes(buffer, pos)
        count, pos = decode_varint(buffer, pos)
        if count < 0:
            raise ValueError(f"invalid number of record headers {count}")
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(count):
            name_len, pos = decode_varint(buffer, pos)
            if name_len < 0:
                raise ValueError(f"invalid negative header name size {name_len}")
            name = bytes(buffer[pos : pos + name_len]).decode("utf-8", errors="replace")
            pos += name_len
            header_value, pos = _nullable_bytes(buffer, pos)
            headers.append((name, header_value))
        if pos - start != length:
            raise ValueError(f"invalid record size: expected {length} bytes, read {pos - start}")
        self._pos = pos
        return _DefaultRecordPy(self.base_offset + offset_delta, timestamp, self.timestamp_type, key, value, headers)


def _nullable_bytes(buffer: Any, pos: int) -> tuple[bytes | None, int]:
    size, pos = decode_varint(buffer, pos)
    if size < 0:
        return None, pos
    return bytes(buffer[pos : pos + size]), pos + size


class TolerantBatch:
    """One fetched v2 batch: aiokafka's own (fast) reader, with the lenient one as a fallback for this batch."""

    def __init__(self, batch: Any, raw: bytes) -> None:
        self._batch = batch
        self._raw = raw

    def __getattr__(self, name: str) -> Any:  # base_offset, next_offset, validate_crc, is_control_batch, ...
        return getattr(self._batch, name)

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._batch
        except UnicodeDecodeError:
            # Records already handed out come again; the fetcher skips offsets below its position.
            yield from LenientRecordBatch(self._raw)


class TolerantMemoryRecords(_MemoryRecordsPy):
    """aiokafka's reader of a fetch response's record set, handing out TolerantBatch for v2 batches."""

    def next_batch(self, *args: Any, **kwargs: Any) -> Any:
        raw = self._next_slice
        batch = super().next_batch(*args, **kwargs)
        if raw is None or batch is None or raw[_MAGIC_OFFSET] < 2:
            return batch
        return TolerantBatch(batch, bytes(raw))


def install() -> None:
    """Make aiokafka's fetcher read batches through TolerantMemoryRecords (idempotent)."""
    if not hasattr(_fetcher, "MemoryRecords"):
        raise RuntimeError("aiokafka.consumer.fetcher.MemoryRecords is gone: shared/kafka_records.py needs a new seam")
    _fetcher.MemoryRecords = TolerantMemoryRecords
