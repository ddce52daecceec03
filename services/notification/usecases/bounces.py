"""E-mail bounces (providers/dsn.py reads them): the delivery a bounce names fails as ``bounced`` — from ``delivered``
too, since the mail server had taken it — and the recipient's fallback chain moves on (usecases/deliveries.py). A hard
bounce (5.x.x) also marks the address undeliverable, as a keyed hash of it: every later e-mail to that address fails
at once in the sender and falls back, until the address changes. A repeated or late bounce changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notification.crypto import KeyMissing
from services.notification.providers.dsn import Bounce
from services.notification.settings import KEYS, NotificationSettings
from services.notification.store import bounces as store
from services.notification.usecases.deliveries import mark_failed
from shared.privacy import vault
from shared.uow import UnitOfWork


def undeliverable_hash(person: UUID, address: str) -> bytes:
    key = hashlib.sha256(b"skolit.notification.email-undeliverable:" + vault.master_key()).digest()
    return hmac.new(key, person.bytes + b"\x00" + address.strip().lower().encode(), hashlib.sha256).digest()


def is_undeliverable(person: UUID, address: str, digest: bytes | None) -> bool:
    return digest is not None and hmac.compare_digest(bytes(digest), undeliverable_hash(person, address))


async def apply_bounces(uow: UnitOfWork, bounces: list[Bounce], *, now: datetime, settings: NotificationSettings) -> list[dict[str, Any]]:
    results = []
    for b in bounces:
        row = await store.email_delivery(uow.conn, int(b.reference)) if b.reference else None
        if row is None:
            results.append({"reference": b.reference, "matched": False, "changed": False, "kind": b.kind})
            continue
        changed, fallbacks = await mark_failed(uow, [row["id"]], [b.reason], "bounced", now, settings, from_states=("sending", "delivered"))
        marked = False
        if b.kind == "hard" and row["email"] is not None:
            try:
                address = KEYS.decrypt(row["key_id"], row["person"], row["email"])
            except KeyMissing:
                address = None
            # the address in use now, unless the bounce is about another one (changed since the message went)
            if address and (b.recipient is None or b.recipient.strip().lower() == address.strip().lower()):
                await store.mark_undeliverable(uow.conn, row["person"], undeliverable_hash(row["person"], address), now, b.reason)
                marked = True
        results.append({"reference": b.reference, "matched": True, "changed": bool(changed), "kind": b.kind,
                        "fallback": bool(fallbacks), "addressUndeliverable": marked})
    return results
