"""A person's own contact details and push devices (issue 19 item 5; the routes: routes/me.py).

Anyone signed in acts for themselves: the token's subject is their person id, which must be a person known from
the city's events. Every read, change and confirmation is in the access log as ``own-data`` (access_audit.py).

E-mail and phone: a new address or number is kept pending (encrypted like the contact details, crypto.py) and a
code of ``domain.CODE_DIGITS`` digits goes to it — by e-mail over SMTP, by SMS through the gateway — valid
``domain.CODE_TTL``, ``domain.CODE_ATTEMPTS`` tries; the code is kept only as a keyed hash bound to the person, the
channel and the value. Until the code is given back the one in use stays in use; then the new one takes its place.
At most ``domain.CODES_PER_WINDOW`` codes per channel an hour (each is a message to someone). "Confirmed" says the
address in use is the one the person confirmed (a keyed hash of it is kept): the city's systems writing the same
address keep it confirmed, writing another one makes the new one unconfirmed — the bulk path stays the city's
(PUT /persons/{id}/contacts, PUT /contacts; last write wins).

Devices: several per person, each with a label, a platform and its token (encrypted; shown only by its last four
characters), when it was registered and when a push last reached it. A push goes to every device (usecases/push.py).
The push token the city's systems set is the person's one ``city`` device: listed with the others, removable by the
person, replaced when the city sends another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID, uuid4

import asyncpg

from services.notification import domain, templates
from services.notification.channels import Outcome, Outgoing
from services.notification.access_audit import OWN_DATA, Action, log_at
from services.notification.crypto import KeyMissing
from services.notification.settings import KEYS
from services.notification.store import contacts as store
from services.notification.providers import webpush
from services.notification.store import devices as device_store
from shared.auth import Principal
from shared.privacy import vault
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork

Channel = Literal["email", "phone"]
#: the contact column of each channel, and the channel it is sent on
COLUMN = {"email": "email", "phone": "mobile"}
SENT_ON = {"email": "email", "phone": "sms"}


# --- who ---------------------------------------------------------------------------------------------


async def me(conn: asyncpg.Connection, caller: Principal) -> UUID:
    """The caller's person id: their token's subject, a person known from the city's events."""
    try:
        person = UUID(caller.subject.strip())
    except ValueError:
        raise Problem(403, "Forbidden", "your own contact details and devices are for persons: this token's subject is not a person id") from None
    if not await store.person_known(conn, person):
        raise Problem(404, "Not found", f"person {person} is not known from the city's events")
    return person


# --- keyed hashes ------------------------------------------------------------------------------------


def _key(purpose: bytes) -> bytes:
    return hashlib.sha256(b"skolit.notification." + purpose + b":" + vault.master_key()).digest()


def code_hash(person: UUID, channel: str, value: str, code: str) -> bytes:
    """A confirmation code as kept: HMAC over the person, channel, value and code (a code guessed offline from a copy
    of the database would need the key vault's master key)."""
    return hmac.new(_key(b"contact-code"), b"\x00".join((person.bytes, channel.encode(), value.encode(), code.encode())), hashlib.sha256).digest()


def confirmed_hash(person: UUID, channel: str, value: str) -> bytes:
    """What a person confirmed, as kept: HMAC over the person, channel and value (never the value itself)."""
    return hmac.new(_key(b"contact-confirmed"), b"\x00".join((person.bytes, channel.encode(), value.encode())), hashlib.sha256).digest()


# --- views -------------------------------------------------------------------------------------------


def _decrypt(key_id: str, person: UUID, blob: bytes | None) -> str | None:
    try:
        return KEYS.decrypt(key_id, person, blob)
    except KeyMissing:
        return None


def _in_use(row: asyncpg.Record | None, person: UUID) -> dict[str, str | None]:
    if row is None:
        return {"email": None, "phone": None}
    return {channel: _decrypt(row["key_id"], person, row[COLUMN[channel]]) for channel in ("email", "phone")}


def channel_view(person: UUID, channel: str, row: asyncpg.Record | None, pending: asyncpg.Record | None, now: datetime) -> dict[str, Any]:
    value = _in_use(row, person)[channel]
    column = COLUMN[channel]
    digest = row[column + "_confirmed"] if row is not None else None
    confirmed = bool(value and digest and hmac.compare_digest(bytes(digest), confirmed_hash(person, channel, value)))
    waiting = None
    if pending is not None:
        waiting = {"value": _decrypt(pending["key_id"], person, pending["value"]), "expiresAt": pending["expires_at"],
                   "expired": now >= pending["expires_at"], "triesLeft": domain.tries_left(pending["attempts"])}
    return {"value": value, "confirmed": confirmed, "confirmedAt": row[column + "_confirmed_at"] if confirmed and row is not None else None,
            "pending": waiting}


def device_view(person: UUID, d: asyncpg.Record) -> dict[str, Any]:
    token = _decrypt(d["key_id"], person, d["token"])
    sub = webpush.parse_subscription(token) if token else None
    if sub is not None:  # a browser's subscription: its endpoint's ending tells it apart
        token = sub.endpoint
    return {"id": d["id"], "label": d["label"], "platform": d["platform"], "source": d["source"],
            "tokenEnding": domain.token_hint(token) if token else None, "createdAt": d["created_at"], "lastUsedAt": d["last_used_at"]}


async def _view(conn: asyncpg.Connection, person: UUID, now: datetime) -> dict[str, Any]:
    row = await store.own_contact(conn, person)
    pending = {p["channel"]: p for p in await store.pending(conn, person)}
    return {"personId": person, **{c: channel_view(person, c, row, pending.get(c), now) for c in ("email", "phone")},
            "language": row["language"] if row is not None else "sv",
            "devices": [device_view(person, d) for d in await device_store.devices(conn, person)]}


# --- contact details ---------------------------------------------------------------------------------


async def read_contacts(uow: UnitOfWork, caller: Principal, *, now: datetime, path: str) -> dict[str, Any]:
    """The caller's e-mail and phone (in use, confirmed or not, pending) and devices."""
    person = await me(uow.conn, caller)
    view = await _view(uow.conn, person, now)
    await log_at(uow.conn, path, caller, Action.CONTACT_READ, why_code=OWN_DATA, subject=person)
    return view


@dataclass(frozen=True)
class CodeToSend:
    """A confirmation code to send once the pending value is stored (routes/me.py sends it after the commit)."""

    channel: str      # the channel it goes on: email or sms
    to: str
    code: str
    language: str
    view: dict[str, Any]


async def request_change(uow: UnitOfWork, caller: Principal, channel: Channel, value: str, *, now: datetime, path: str) -> CodeToSend:
    """A new address or number, pending until confirmed, with a fresh code for it (a pending one is replaced)."""
    person = await me(uow.conn, caller)
    [before] = await store.pending(uow.conn, person, channel, lock=True) or [None]
    window = domain.code_window(before["codes_sent"], before["first_sent_at"], now) if before is not None else (1, now)
    if window is None:
        assert before is not None
        wait = int((before["first_sent_at"] + domain.CODE_WINDOW - now).total_seconds()) + 1
        raise Problem(429, "Too many requests", f"at most {domain.CODES_PER_WINDOW} codes an hour for your {channel}; try again later",
                      headers={"Retry-After": str(max(1, wait))})
    code = domain.new_code(secrets.randbelow)
    await store.save_pending(uow.conn, person=person, channel=channel, key_id=KEYS.current, value=KEYS.encrypt(person, value),  # type: ignore[arg-type]
                             code_hash=code_hash(person, channel, value, code), expires_at=now + domain.CODE_TTL,
                             codes_sent=window[0], first_sent_at=window[1])
    await log_at(uow.conn, path, caller, Action.CONTACT_PENDING, why_code=OWN_DATA, subject=person)
    row = await store.own_contact(uow.conn, person)
    [pending] = await store.pending(uow.conn, person, channel)
    return CodeToSend(SENT_ON[channel], value, code, await store.language(uow.conn, person), channel_view(person, channel, row, pending, now))


class Sends(Protocol):
    async def send_one(self, name: str, item: Outgoing) -> Outcome: ...


async def send_code(sender: Sends, code: CodeToSend, *, field: str) -> None:
    """The code to the new address or number, at once (after the pending value is committed). Refused for good (no such
    mailbox, not a mobile number) is a 422 naming the field; the mail server or gateway unreachable a 503 — the person
    asks again (a new code)."""
    subject, body, used = templates.render("contact-code", code.language, {"code": code.code, "minutes": int(domain.CODE_TTL.total_seconds() // 60)})
    try:
        outcome = await sender.send_one(code.channel, Outgoing(f"code-{uuid4().hex}", code.to, subject, body, used, callback=False))
    except (UnicodeError, ValueError) as exc:  # an address the channel cannot even write down (e.g. characters SMTP cannot carry)
        raise rejected(422, f"this {field} cannot be written in a message ({type(exc).__name__}): check it", field) from None
    if outcome.result == "permanent":
        raise rejected(422, f"the code could not be delivered to this {field} ({outcome.error or 'refused'}): check it", field)
    if outcome.result == "temporary":
        raise Problem(503, "Service unavailable", f"the code could not be sent just now ({outcome.error or 'unreachable'}); ask again shortly",
                      headers={"Retry-After": "30"})


async def _write_own(conn: asyncpg.Connection, person: UUID, actor: str, values: dict[str, str | None], confirmed: dict[str, bytes | None],
                     confirmed_at: dict[str, datetime | None]) -> None:
    """The person's e-mail and phone, all encrypted again with the current key (a row has one key), and the city device's
    token too when it was written with another key (it is read back with the row's key)."""
    await store.set_own(conn, person=person, key_id=KEYS.current, email=KEYS.encrypt(person, values["email"]),
                        mobile=KEYS.encrypt(person, values["phone"]), email_confirmed=confirmed["email"], mobile_confirmed=confirmed["phone"],
                        confirmed_at={"email": confirmed_at["email"], "mobile": confirmed_at["phone"]}, actor=actor)
    for d in await device_store.devices(conn, person):
        if d["source"] == "city" and d["key_id"] != KEYS.current:
            token = _decrypt(d["key_id"], person, d["token"])
            if token is not None:
                await device_store.rekey_device(conn, d["id"], KEYS.current, KEYS.encrypt(person, token))  # type: ignore[arg-type]


async def _current(conn: asyncpg.Connection, person: UUID) -> tuple[dict[str, str | None], dict[str, bytes | None], dict[str, datetime | None]]:
    row = await store.own_contact(conn, person, lock=True)
    values = _in_use(row, person)
    confirmed = {c: (bytes(row[COLUMN[c] + "_confirmed"]) if row is not None and row[COLUMN[c] + "_confirmed"] else None) for c in values}
    at = {c: (row[COLUMN[c] + "_confirmed_at"] if row is not None else None) for c in values}
    return values, confirmed, at


@dataclass(frozen=True)
class Confirmation:
    """What a try of a code came to: the channel's view when confirmed, else the problem to answer with — after
    the transaction commits, so that a wrong try counts."""

    view: dict[str, Any] | None
    problem: Problem | None


async def confirm(uow: UnitOfWork, caller: Principal, channel: Channel, code: str, *, now: datetime, path: str) -> Confirmation:
    person = await me(uow.conn, caller)
    [pending] = await store.pending(uow.conn, person, channel, lock=True) or [None]
    if pending is None:
        raise Problem(404, "Not found", f"no new {channel} is waiting for a code: ask for one with PUT /me/contacts/{channel}")
    value = _decrypt(pending["key_id"], person, pending["value"])
    matches = value is not None and hmac.compare_digest(bytes(pending["code_hash"]), code_hash(person, channel, value, code))
    verdict = domain.code_verdict(matches=matches, attempts=pending["attempts"], expires_at=pending["expires_at"], now=now)
    if verdict != "confirmed":
        await log_at(uow.conn, path, caller, Action.CONTACT_CONFIRM_FAILED, why_code=OWN_DATA, subject=person)
        again = f"ask for a new code with PUT /me/contacts/{channel}"
        if verdict == "expired":
            return Confirmation(None, Problem(409, "Code expired", f"the code was valid for {int(domain.CODE_TTL.total_seconds() // 60)} minutes; "
                                                                    f"{again}", type_="https://skolit.se/problems/code-expired", field="code"))
        if verdict == "exhausted":
            return Confirmation(None, Problem(409, "Too many attempts", f"the code was tried {domain.CODE_ATTEMPTS} times; {again}",
                                              type_="https://skolit.se/problems/code-attempts-exhausted", field="code"))
        attempts = await store.count_attempt(uow.conn, person, channel)
        left = domain.tries_left(attempts)
        return Confirmation(None, rejected(422, f"the code does not match; {left} {'try' if left == 1 else 'tries'} left"
                                                + ("" if left else f" — {again}"), "code"))
    values, confirmed, at = await _current(uow.conn, person)
    values[channel], confirmed[channel], at[channel] = value, confirmed_hash(person, channel, value), now  # type: ignore[arg-type]
    await _write_own(uow.conn, person, caller.subject, values, confirmed, at)
    await store.drop_pending(uow.conn, person, channel)
    await log_at(uow.conn, path, caller, Action.CONTACT_CONFIRM, why_code=OWN_DATA, subject=person)
    return Confirmation(channel_view(person, channel, await store.own_contact(uow.conn, person), None, now), None)


async def remove(uow: UnitOfWork, caller: Principal, channel: Channel, *, path: str) -> None:
    """The caller's e-mail or phone, in use and pending, removed (the city's systems may set one again)."""
    person = await me(uow.conn, caller)
    dropped = await store.drop_pending(uow.conn, person, channel)
    values, confirmed, at = await _current(uow.conn, person)
    if values[channel] is None and not dropped:
        raise Problem(404, "Not found", f"you have no {channel} to remove")
    values[channel], confirmed[channel], at[channel] = None, None, None
    await _write_own(uow.conn, person, caller.subject, values, confirmed, at)
    await log_at(uow.conn, path, caller, Action.CONTACT_REMOVE, why_code=OWN_DATA, subject=person)


# --- devices -----------------------------------------------------------------------------------------


async def list_devices(uow: UnitOfWork, caller: Principal, *, path: str) -> list[dict[str, Any]]:
    person = await me(uow.conn, caller)
    found = [device_view(person, d) for d in await device_store.devices(uow.conn, person)]
    await log_at(uow.conn, path, caller, Action.DEVICE_READ, why_code=OWN_DATA, subject=person)
    return found


async def add_device(uow: UnitOfWork, caller: Principal, *, label: str, platform: str, token: str, path: str) -> tuple[dict[str, Any], bool]:
    """A new device, or — the same token registered again (an app reinstalled, a retry) — the one there, relabelled.
    (the device, whether it is new)."""
    person = await me(uow.conn, caller)
    await device_store.lock_person(uow.conn, person)
    devices = await device_store.devices(uow.conn, person)
    same = next((d for d in devices if d["source"] == "self" and _decrypt(d["key_id"], person, d["token"]) == token), None)
    if same is not None:
        row = await device_store.relabel_device(uow.conn, same["id"], label=label, platform=platform)
        created = False
    else:
        if sum(d["source"] == "self" for d in devices) >= domain.MAX_DEVICES:
            raise Problem(409, "Conflict", f"at most {domain.MAX_DEVICES} devices: remove one you no longer use first")
        row = await device_store.add_device(uow.conn, id=uuid4(), person=person, label=label, platform=platform, key_id=KEYS.current,
                                            token=KEYS.encrypt(person, token))  # type: ignore[arg-type]
        created = True
    await log_at(uow.conn, path, caller, Action.DEVICE_ADD, why_code=OWN_DATA, subject=person)
    return device_view(person, row), created


async def remove_device(uow: UnitOfWork, caller: Principal, device: UUID, *, path: str) -> None:
    """One of the caller's devices; another person's is not found (404, as one that does not exist)."""
    person = await me(uow.conn, caller)
    if not await device_store.delete_device(uow.conn, person, device):
        raise Problem(404, "Not found", f"you have no device {device}")
    await log_at(uow.conn, path, caller, Action.DEVICE_REMOVE, why_code=OWN_DATA, subject=person)
