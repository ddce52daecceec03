"""The senders: a few loops per channel take due deliveries, send them and record what happened.

Claiming, sending and recording are three steps on purpose: the claim commits at once (a lease, so
another sender skips these rows), the network call happens outside any transaction, and the outcomes
are written in one transaction with their events. A sender that dies between sending and recording
leaves a lease that runs out; the next sender sends again with the same reference, which the gateway
uses to drop the repeat (e-mail carries it as Message-ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg

from services.notification import templates
from services.notification.channels import Channel, Outcome, Outgoing, open_channels
from services.notification.crypto import Keyring, KeyMissing
from services.notification.settings import SOURCE, NotificationSettings
from services.notification.store import deliveries as store
from services.notification.store import devices as device_store
from services.notification.usecases import push
from services.notification.usecases.bounces import is_undeliverable
from services.notification.usecases.deliveries import record_outcomes
from shared import metrics
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

CONTACT_COLUMN = {"email": "email", "sms": "mobile"}


class RateLimit:
    """A token bucket: ``rate`` messages per second, bursts up to one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = max(rate, 0.001)
        self.tokens = self.rate
        self.stamp = time.monotonic()

    def available(self) -> int:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return int(self.tokens)

    def spend(self, n: int) -> None:
        """Take ``n`` (negative: give back what a reservation did not use)."""
        self.tokens -= n

    def wait_seconds(self) -> float:
        return max(0.0, (1 - self.tokens) / self.rate)


class Sender:
    def __init__(self, pool: asyncpg.Pool, settings: NotificationSettings, keyring: Keyring, channels: dict[str, Channel] | None = None) -> None:
        self.pool, self.settings, self.keyring = pool, settings, keyring
        self.channels = channels
        self.limits = {name: RateLimit(settings.rates.get(name, 100.0)) for name in ("email", "sms", "push")}
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: dict[str, asyncio.Event] = {}

    async def open(self) -> None:
        """The channels, for ``send_one`` and ``flush`` in a process whose loops run elsewhere (shared/service.py Worker)."""
        if self.channels is None:
            self.channels = open_channels(self.settings)

    async def start(self) -> None:
        await self.open()
        assert self.channels is not None
        # Several loops per channel, so the connections are never idle while one loop claims its batch or records the
        # last one's outcomes (one loop left e-mail waiting on the database about half the time: issue-24 status page).
        # SKIP LOCKED gives each loop its own rows, as it does across replicas; the loops share the channel's
        # connections and its rate limit. Only the first loop of a channel polls while nothing is due; the others wait
        # until a claim finds work, so an idle service does not query the database once per loop.
        self._busy = {name: asyncio.Event() for name in self.channels}
        self._tasks = [asyncio.create_task(self._loop(name, polls=i == 0), name=f"notification-sender-{name}-{i}")
                       for name in self.channels for i in range(max(1, self.settings.sender_loops.get(name, 1)))]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in (self.channels or {}).values():
            await channel.close()

    async def _loop(self, name: str, polls: bool = True) -> None:
        limit, busy = self.limits[name], self._busy[name]
        while True:
            try:
                if not polls:
                    await busy.wait()
                room = limit.available()
                if room < 1:
                    await asyncio.sleep(limit.wait_seconds())
                    continue
                # reserved before the claim, so loops sharing the limit cannot together claim more than it allows;
                # what the claim did not use goes back
                reserved = min(room, self.settings.batch_size)
                limit.spend(reserved)
                tally = 0
                try:
                    tally = await self.send_due(name, datetime.now(UTC), reserved)
                finally:
                    limit.spend(tally - reserved)
                if tally == 0:
                    busy.clear()
                    if polls:
                        await asyncio.sleep(self.settings.poll_seconds)
                else:
                    busy.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s sender failed; trying again shortly", name)
                await asyncio.sleep(max(1.0, self.settings.poll_seconds))

    async def send_due(self, name: str, now: datetime, limit: int) -> int:
        """One batch of a channel: claim, send, record. Returns how many were claimed."""
        assert self.channels is not None
        channel = self.channels[name]
        async with self.pool.acquire() as conn:
            claimed = await store.claim(conn, name, now, limit, now + timedelta(seconds=self.settings.lease_seconds))
            metrics.NOTIFICATION_QUEUE_AGE.labels(name).set(max([(now - c["send_after"]).total_seconds() for c in claimed], default=0))
            if not claimed:
                return 0
            ids = [c["id"] for c in claimed]
            rows = await store.outgoing(conn, ids)
            digests = await store.digest_items(conn, [r["id"] for r in rows if r["message_type"] == "digest"])
            # push goes to every device of the person, each send with its own reference (usecases/push.py)
            targets = await device_store.push_targets(conn, [r["id"] for r in rows]) if name == "push" else []
        items, unsendable, aliases = self._compose(name, rows, digests, targets)
        sent = await channel.send(items) if items else []
        sent += [replace(o, reference=alias) for o in sent for alias in aliases.get(o.reference, ())]
        attempts = {r["id"]: r["attempts"] for r in rows}
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, SOURCE)
            outcomes = [*sent, *unsendable]
            if name == "push":
                outcomes = await push.delivery_outcomes(uow, [r["id"] for r in rows], outcomes)
            await record_outcomes(uow, name, outcomes, attempts, now, self.settings)
        return len(ids)

    def _compose(self, name: str, rows: list[asyncpg.Record], digests: list[asyncpg.Record],
                 targets: Sequence[asyncpg.Record] = ()) -> tuple[list[Outgoing], list[Outcome], dict[str, list[str]]]:
        """What to send: per delivery to its contact's address or number; push per device (``targets``, each with its
        send's reference; the outcomes are then per device: usecases/push.py). The same token on two devices of a
        person (the city's systems and the person registered one phone) gets one push, whose outcome is the other's
        too: the aliases, sent reference → the references that share it."""
        bundles: dict[int, list[tuple[str, dict[str, object], str | None]]] = {}
        for d in digests:
            bundles.setdefault(d["bundled_into"], []).append((d["message_type"], dict(d["data"]), d["school"]))
        devices: dict[int, list[asyncpg.Record]] = {}
        for t in targets:
            devices.setdefault(t["delivery_id"], []).append(t)
        items: list[Outgoing] = []
        unsendable: list[Outcome] = []
        aliases: dict[str, list[str]] = {}
        for r in rows:
            recipients: list[tuple[str, str]] = []
            if name == "push":
                for t in devices.get(r["id"], []):
                    try:
                        recipients.append((str(t["reference"]), self.keyring.decrypt(t["key_id"], t["person"], t["token"]) or ""))
                    except KeyMissing:
                        unsendable.append(Outcome(str(t["reference"]), "permanent", error="key-missing"))
                first: dict[str, str] = {}
                for reference, token in recipients:
                    if token in first:
                        aliases.setdefault(first[token], []).append(reference)
                    else:
                        first[token] = reference
                recipients = [(reference, token) for token, reference in first.items()]
            else:
                reference = str(r["id"])
                try:
                    to = self.keyring.decrypt(r["key_id"], r["person"], r[CONTACT_COLUMN[name]]) if r["key_id"] else None
                except KeyMissing:
                    unsendable.append(Outcome(reference, "permanent", error="key-missing"))
                    continue
                if not to:  # contact details removed since the message was made
                    unsendable.append(Outcome(reference, "permanent", error="no-contact"))
                    continue
                if name == "email" and is_undeliverable(r["person"], to, r["email_undeliverable"]):  # a hard bounce said so
                    unsendable.append(Outcome(reference, "permanent", error="address-undeliverable"))
                    continue
                recipients = [(reference, to)]
            if not recipients:
                continue  # push without a device left to send to: its sends so far decide (usecases/push.py)
            web = self.settings.web_url
            if r["message_type"] == "digest":
                subject, body, used = templates.compose_digest(r["language"], bundles.get(r["id"], []), web)
            else:
                subject, body, used = templates.compose(r["message_type"], r["language"], dict(r["data"]), r["school"], web)
            items.extend(Outgoing(reference, to, subject, body, used) for reference, to in recipients)
        return items, unsendable, aliases

    async def send_one(self, name: str, item: Outgoing) -> Outcome:
        """One message at once, outside the queue and the rate limit: a confirmation code to a new address or number
        (usecases/self_service.py), which has no delivery row and is not retried (the person asks for a new code)."""
        assert self.channels is not None
        [outcome] = await self.channels[name].send([item])
        return outcome

    async def flush(self, now: datetime, rounds: int = 50) -> dict[str, int]:
        """Everything due as of ``now`` on every channel, ignoring the rate limits (an operator's or a
        test's "send now"); stops when nothing is due or after ``rounds`` batches per channel."""
        assert self.channels is not None
        counts = {}
        for name in self.channels:
            total = 0
            for _ in range(rounds):
                n = await self.send_due(name, now, self.settings.batch_size)
                total += n
                if n == 0:
                    break
            counts[name] = total
        return counts
