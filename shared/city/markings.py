"""Protected identities are never shown to others (README; docs/privacy.md, legal basis B5).

Skolit shows people by their SS 12000 person id (and, through shared/city/people.py, their name), and
for a person whose city record carries a protection marking (Sekretessmarkering, Skyddad folkbokföring)
even that id is identifying. Services that show who did what (assessment: who opened a round, submitted, wrote an
action or a note, the audit trail; catalog: who requested an app, who decided, who changed a record)
keep the city's markings (shared/city/replica.py ``MARKINGS``), and ``HideProtectedIdentities`` passes
each of their JSON and CSV answers through one filter: every person id of a protected identity in it —
as a field, inside a text, in an audit entry's detail — becomes ``protected-identity``, except the
caller's own (everyone may see their own data).

One filter at the edge rather than a rule per field, so a field added later cannot forget it. It costs a
scan of the answer for UUIDs and a look-up in the set of protected persons, which each process keeps in memory
(``ProtectedPersons``, a few percent of a city's persons): read again as soon as this process has committed a change
of marking (shared/city/replica.py ``markings_changed``, after the batch's commit) and at least every
``SKOLIT_MARKINGS_REFRESH_SECONDS`` (1 s), for the markings another replica of the service applied. It was one
database query per answer, as costly as the answer's own (issue 24's profile of the catalogue search). If the set
cannot be read, the answer is withheld (503), never sent unfiltered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from uuid import UUID

from shared.city.replica import all_protected_persons, markings_generation
from shared.problems import MEDIA_TYPE, TYPE_BASE

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: what others see instead of a protected person's id
PLACEHOLDER = "protected-identity"
UUID_PATTERN = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FILTERED_TYPES = (b"application/json", b"application/problem+json", b"text/csv")
#: documents about the API itself, not about anyone
UNFILTERED_PATHS = frozenset({"/openapi.json", "/docs", "/redoc", "/asyncapi.json", "/healthz", "/readyz", "/metrics"})


#: how old the set of protected persons may be before an answer reads it again (markings another replica applied)
REFRESH_SECONDS = float(os.environ.get("SKOLIT_MARKINGS_REFRESH_SECONDS", "1") or 1)


class ProtectedPersons:
    """The protected persons of this service's person table, in memory: read again when this process committed a change
    of marking, or when the copy is older than ``refresh_seconds``. One read at a time; answers wait for it."""

    def __init__(self, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.refresh_seconds = refresh_seconds
        self.ids: frozenset[UUID] = frozenset()
        self._generation = -1
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._generation == markings_generation() and time.monotonic() - self._read_at < self.refresh_seconds

    async def current(self, pool: Any) -> frozenset[UUID]:
        if self._fresh():
            return self.ids
        async with self._lock:
            if not self._fresh():
                # taken before the read: a change committed while it runs moves the generation, so the next answer reads again
                generation, started = markings_generation(), time.monotonic()
                async with pool.acquire() as conn:
                    self.ids = await all_protected_persons(conn)
                self._generation, self._read_at = generation, started
        return self.ids


def ids_in(body: bytes) -> set[UUID]:
    return {UUID(m.decode()) for m in set(UUID_PATTERN.findall(body))}


class IdsFound:
    """The ids in an answer, found once per answer: a service that keeps its hot answers whole (the catalogue search,
    the school report) sends the same bytes again and again, and scanning them took 0.22 ms of CPU a request for a
    20-hit search page against 0.04 µs for the look-up (bytes keep their hash; the same object compares by identity).
    Holds at most ``budget`` bytes of answers, oldest out first; an answer larger than a tenth of it is scanned each
    time. What is remembered is only which ids an answer contains, never whether they are protected: that is
    looked up per answer, so a marking applied since changes the next answer at once."""

    def __init__(self, budget: int = 4 * 1024 * 1024) -> None:
        self.budget = budget
        self._found: OrderedDict[bytes, frozenset[UUID]] = OrderedDict()
        self._held = 0

    def __call__(self, body: bytes) -> frozenset[UUID]:
        found = self._found.get(body)
        if found is not None:
            self._found.move_to_end(body)
            return found
        found = frozenset(ids_in(body))
        if len(body) * 10 <= self.budget:
            self._found[body] = found
            self._held += len(body)
            while self._held > self.budget:
                old, _ = self._found.popitem(last=False)
                self._held -= len(old)
        return found


def hide(body: bytes, protected: set[UUID]) -> bytes:
    """``body`` with every id in ``protected`` (any letter case) replaced by the placeholder."""
    if not protected:
        return body
    wanted = {str(p) for p in protected}
    return UUID_PATTERN.sub(lambda m: PLACEHOLDER.encode() if m.group(0).decode().lower() in wanted else m.group(0), body)


class HideProtectedIdentities:
    """Pure ASGI middleware: buffers a 2xx JSON or CSV answer, hides protected identities, sends it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.protected = ProtectedPersons()
        self.ids_in = IdsFound()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # HEAD carries no body to filter (and must keep GET's Content-Length)
        if scope["type"] != "http" or scope.get("method") == "HEAD" or scope.get("path") in UNFILTERED_PATHS:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
                if 200 <= message["status"] < 300 and kind in FILTERED_TYPES:
                    start = message
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send_filtered(scope, start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, capture)

    async def _send_filtered(self, scope: Scope, start: Message, body: bytes, send: Send) -> None:
        try:
            body = await self._filter(scope, body)
        except Exception:
            log.exception("could not check the answer to %s for protected identities; withheld", scope.get("path"))
            problem = (b'{"type":"' + TYPE_BASE.encode() + b'service-unavailable","title":"Service unavailable","status":503,'
                       b'"detail":"the answer could not be checked for protected identities; try again shortly"}')
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", MEDIA_TYPE.encode()), (b"content-length", str(len(problem)).encode()),
                                    (b"retry-after", b"5")]})
            await send({"type": "http.response.body", "body": problem})
            return
        headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _filter(self, scope: Scope, body: bytes) -> bytes:
        candidates = self.ids_in(body)
        if not candidates:
            return body
        app = scope["app"]
        protected = set(candidates & await self.protected.current(app.state.pool))
        if protected:
            protected -= await _callers_own(app, scope)
        return hide(body, protected)


async def _callers_own(app: Any, scope: Scope) -> set[UUID]:
    """The caller's own person id (the token's subject, verified), which they may always see."""
    header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return set()
    try:
        principal = await app.state.verifier.verify(token.strip())
        return {UUID(principal.subject)}
    except Exception:  # not a valid token, or a subject that is not a person id: nothing of theirs to exempt
        return set()
