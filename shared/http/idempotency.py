"""Idempotency keys for creating requests (docs/api.md, "Retrying a create").

A mobile client on a train sends ``POST /requests`` and loses the answer: did it land? With an
``Idempotency-Key`` header the client sends the same request again and gets the first answer again — the
same status and body, marked ``Idempotency-Replayed: true`` — and nothing is created twice.

Keys are per caller (the verified token's subject; stored as a SHA-256, never the id) and kept one day. The
same key with a different request is a 422 naming the header; the same key while the first request is still
running is a 409 with Retry-After. Only answers below 500 are kept: after a server error the retry runs anew.
The key is claimed in its own short transaction before the route runs, so two retries racing cannot both
create; a process that dies mid-request leaves a claim that lapses after ``CLAIM_SECONDS``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg

from shared.problems import MEDIA_TYPE, TYPE_BASE

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HEADER = b"idempotency-key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
CLAIM_SECONDS = 60
KEPT_HEADERS = (b"content-type", b"location", b"content-disposition")

CLAIM = """
    INSERT INTO idempotency_key (caller, key, fingerprint, locked_until)
    VALUES ($1, $2, $3, now() + make_interval(secs => $4))
    ON CONFLICT (caller, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = NULL, headers = NULL, body = NULL,
        created_at = now(), locked_until = EXCLUDED.locked_until
    WHERE idempotency_key.created_at < now() - interval '1 day'
       OR (idempotency_key.status IS NULL AND idempotency_key.locked_until < now() AND idempotency_key.fingerprint = EXCLUDED.fingerprint)
    RETURNING true
"""
EXISTING = "SELECT fingerprint, status, headers, body FROM idempotency_key WHERE caller = $1 AND key = $2"
DONE = "UPDATE idempotency_key SET status = $3, headers = $4::jsonb, body = $5, locked_until = NULL WHERE caller = $1 AND key = $2"
RELEASE = "DELETE FROM idempotency_key WHERE caller = $1 AND key = $2 AND status IS NULL"


def caller_hash(subject: str) -> str:
    return hashlib.sha256(f"skolit-idempotency:{subject}".encode()).hexdigest()


def _problem(status: int, title: str, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = {"type": TYPE_BASE + title.lower().replace(" ", "-"), "title": title, "status": status, "detail": detail,
            "field": "header.Idempotency-Key", "errors": [{"location": "header.Idempotency-Key", "message": detail}]}
    return status, [(b"content-type", MEDIA_TYPE.encode()), *(headers or [])], json.dumps(body).encode()


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class IdempotentCreates:
    """ASGI middleware: POSTs carrying an Idempotency-Key are answered once and replayed after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == HEADER), None)
        if raw is None:
            await self.app(scope, receive, send)
            return
        key = raw.decode("latin-1")
        if not KEY_PATTERN.match(key):
            await _answer(send, *_problem(422, "Invalid request", "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is good)"))
            return
        subject = await self._subject(scope)
        if subject is None:  # no valid token: the route answers 401, nothing to remember
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = scope.get("query_string", b"")
        fingerprint = hashlib.sha256(b"\n".join([scope["path"].encode(), query, body])).hexdigest()
        caller = caller_hash(subject)
        pool: asyncpg.Pool = scope["app"].state.pool
        row = None
        async with pool.acquire() as conn:
            claimed = await conn.fetchval(CLAIM, caller, key, fingerprint, CLAIM_SECONDS)
            if not claimed:
                row = await conn.fetchrow(EXISTING, caller, key)
                if row is None:  # removed in between (retention, erasure): go round once more
                    claimed = await conn.fetchval(CLAIM, caller, key, fingerprint, CLAIM_SECONDS)
        if not claimed:
            if row is None:
                await _answer(send, *_problem(409, "Conflict", "a request with this Idempotency-Key is still being answered; retry shortly",
                                              [(b"retry-after", b"1")]))
            elif row["fingerprint"] != fingerprint:
                await _answer(send, *_problem(422, "Invalid request", "this Idempotency-Key was used with another request; use a new key for a new request"))
            elif row["status"] is None:
                await _answer(send, *_problem(409, "Conflict", "a request with this Idempotency-Key is still being answered; retry shortly",
                                              [(b"retry-after", b"1")]))
            else:
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row["headers"])]
                await _answer(send, row["status"], [*headers, (b"idempotency-replayed", b"true")], bytes(row["body"]))
            return
        await self._run_and_keep(scope, body, send, pool, caller, key)

    async def _subject(self, scope: Scope) -> str | None:
        authorization = next((v for k, v in scope["headers"] if k == b"authorization"), b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            principal = await scope["app"].state.verifier.verify(token.strip())
        except Exception:  # any refusal is the route's to explain
            return None
        return str(principal.subject)

    async def _run_and_keep(self, scope: Scope, body: bytes, send: Send, pool: asyncpg.Pool, caller: str, key: str) -> None:
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() in KEPT_HEADERS]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            try:
                async with pool.acquire() as conn:
                    if status < 500:
                        kept = json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers])
                        await conn.execute(DONE, caller, key, status, kept, b"".join(chunks))
                    else:
                        await conn.execute(RELEASE, caller, key)
            except Exception:  # the answer went out; a lost record only means a retry is answered anew
                log.exception("could not keep the answer of an idempotent request")
