"""The HTTP server's protocol: uvicorn's httptools (llhttp, in C) with a bound on the request head.

Measured against h11 (pure Python) at 500 reads/s on two cores, the parser alone moved the reads' p50 from 25–100 ms
to 7–25 ms (docs/decisions/0025-httptools-with-a-head-limit.md). llhttp itself sets no limit on a request head: a
client could send header bytes for ever and uvicorn would keep them. ``HeadLimitedProtocol`` counts the bytes fed
to the parser while a head is still open and, past ``head_buffer_bytes``, answers 431 as a problem document and
closes the connection. Heads between ``SKOLIT_MAX_HEADER_BYTES`` and that bound reach shared/limits.py, whose 431
names the limit; the bound here only stops a head that never ends.
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.problems import MEDIA_TYPE, TYPE_BASE


class HeadLimitedProtocol(HttpToolsProtocol):
    #: set by ``protocol_with_head_limit``
    head_buffer_bytes: int = 64 * 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_open = False
        self._head_seen = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._head_seen = 0

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        # A chunk in which a head begins is not counted (it may end the previous request's body), so a head
        # is refused at most one transport read (≤ 256 KiB) after it passed the bound.
        was_open = self._head_open
        super().data_received(data)
        if not (was_open and self._head_open) or self.transport.is_closing():
            return
        self._head_seen += len(data)
        if self._head_seen > self.head_buffer_bytes:
            self._refuse_head()

    def _refuse_head(self) -> None:
        body = orjson.dumps({"type": TYPE_BASE + "request-header-fields-too-large", "title": "Request header fields too large",
                             "status": 431, "detail": f"the request's head passed {self.head_buffer_bytes} bytes without ending",
                             "maxBytes": self.head_buffer_bytes})
        self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: " + MEDIA_TYPE.encode()
                             + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        self.transport.close()
        self._head_open = False


def protocol_with_head_limit(head_buffer_bytes: int) -> type[HeadLimitedProtocol]:
    """The protocol class to give ``uvicorn.run(http=...)``: a request head may take at most ``head_buffer_bytes``."""
    return type("HeadLimitedProtocol", (HeadLimitedProtocol,), {"head_buffer_bytes": head_buffer_bytes})
