"""Per-person keys, for crypto-shredding: what cannot be deleted in place (Kafka topics, the outbox's
history, dead-letter topics, backups) holds a person's id only *sealed* with that person's own key, and
erasing the person destroys the key, which leaves every sealed copy unreadable.

The vault is one table, ``keyvault.person_key``: per person a random key id and a random 256-bit data key,
stored wrapped (AES-256-GCM) under the master key ``SKOLIT_KEYVAULT_MASTER_KEY`` (base64 of 32 bytes; the
embedded default falls back to a development key that must never reach production), so a dump of the
database alone does not open anything. It stands in for the city's key management service: every service
may seal and open (provisioning grants that to each service's role), and only the erasure coordinator
destroys. In production its backups must be kept shorter than the promise made to the person (decision
0009), since a restored key would open old copies again.

A sealed reference is text: ``pk1.<key id>.<base64url(nonce + ciphertext)>`` of the person's id, with the
key id as associated data. The key id is random, so a sealed reference whose key is gone says nothing about
whom it was about. Sealing twice gives different text (a fresh nonce): sealed references cannot be compared.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pk1"
NONCE_BYTES = 12
DEV_MASTER_KEY = base64.b64encode(b"skolit-keyvault-dev-master-32b!!").decode()

#: the vault's table, created by provisioning (shared/db.py) with rights for every service's role
SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS keyvault;
CREATE TABLE IF NOT EXISTS keyvault.person_key (
    person      uuid PRIMARY KEY,
    key_id      uuid        NOT NULL UNIQUE,
    wrapped     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- what was destroyed and why, without saying whose it was (the key id is random)
CREATE TABLE IF NOT EXISTS keyvault.destroyed_key (
    key_id        uuid PRIMARY KEY,
    destroyed_at  timestamptz NOT NULL DEFAULT now(),
    reason        text        NOT NULL
);
"""


class NotSealed(ValueError):
    """The text is not a sealed reference (a plain id where a sealed one belongs, or garbage)."""


class KeyDestroyed(LookupError):
    """The person's key was destroyed (erased): the reference can never be opened again."""


class VaultKeyError(RuntimeError):
    """The master key does not open a stored key: the vault is misconfigured (``SKOLIT_KEYVAULT_MASTER_KEY`` is not
    the key that wrapped it). Not the input's fault, so not a ``NotSealed``: a consumer retries rather than
    dead-lettering the event, until the configuration is fixed."""


def master_key() -> bytes:
    key = base64.b64decode(os.environ.get("SKOLIT_KEYVAULT_MASTER_KEY") or DEV_MASTER_KEY)
    if len(key) != 32:
        raise ValueError("SKOLIT_KEYVAULT_MASTER_KEY must be base64 of 32 bytes")
    return key


@dataclass(frozen=True)
class Sealed:
    key_id: uuid.UUID
    blob: bytes

    @classmethod
    def parse(cls, text: str) -> Sealed:
        prefix, _, rest = text.partition(".")
        key_text, _, blob_text = rest.partition(".")
        if prefix != PREFIX or not key_text or not blob_text:
            raise NotSealed("not a sealed reference")
        try:
            return cls(uuid.UUID(key_text), base64.urlsafe_b64decode(blob_text + "=" * (-len(blob_text) % 4)))
        except ValueError as exc:
            raise NotSealed("not a sealed reference") from exc

    def text(self) -> str:
        return f"{PREFIX}.{self.key_id}.{base64.urlsafe_b64encode(self.blob).decode().rstrip('=')}"


def is_sealed(text: str | None) -> bool:
    return bool(text) and text.startswith(PREFIX + ".")  # type: ignore[union-attr]


def _wrap(key_id: uuid.UUID, data_key: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key()).encrypt(nonce, data_key, key_id.bytes)


def _unwrap(key_id: uuid.UUID, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master_key()).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], key_id.bytes)
    except InvalidTag:
        raise VaultKeyError(f"the master key does not open the stored key {key_id}: SKOLIT_KEYVAULT_MASTER_KEY differs from "
                            "the key that wrapped it") from None


async def _key_for(conn: asyncpg.Connection, person: uuid.UUID) -> tuple[uuid.UUID, bytes]:
    """The person's key, made on first use (two writers racing both end with the one that was stored)."""
    row = await conn.fetchrow("SELECT key_id, wrapped FROM keyvault.person_key WHERE person = $1", person)
    if row is None:
        key_id, data_key = uuid.uuid4(), AESGCM.generate_key(bit_length=256)
        await conn.execute(
            "INSERT INTO keyvault.person_key (person, key_id, wrapped) VALUES ($1, $2, $3) ON CONFLICT (person) DO NOTHING",
            person, key_id, _wrap(key_id, data_key),
        )
        row = await conn.fetchrow("SELECT key_id, wrapped FROM keyvault.person_key WHERE person = $1", person)
        assert row is not None
    return row["key_id"], _unwrap(row["key_id"], row["wrapped"])


async def seal(conn: asyncpg.Connection, person: uuid.UUID | str) -> str:
    """The person's id sealed with their own key."""
    person = uuid.UUID(str(person))
    key_id, data_key = await _key_for(conn, person)
    nonce = os.urandom(NONCE_BYTES)
    return Sealed(key_id, nonce + AESGCM(data_key).encrypt(nonce, person.bytes, key_id.bytes)).text()


async def seal_many(conn: asyncpg.Connection, persons: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, str]:
    """Each person's id sealed with their own key, in two or three statements however many there are (a
    sender's batch of deliveries); keys are made in a fixed order, so concurrent batches cannot deadlock."""
    wanted = sorted({uuid.UUID(str(p)) for p in persons})
    if not wanted:
        return {}
    rows = {r["person"]: r for r in await conn.fetch(
        "SELECT person, key_id, wrapped FROM keyvault.person_key WHERE person = ANY($1::uuid[])", wanted)}
    missing = [p for p in wanted if p not in rows]
    if missing:
        made = [(p, uuid.uuid4(), AESGCM.generate_key(bit_length=256)) for p in missing]
        await conn.execute(
            "INSERT INTO keyvault.person_key (person, key_id, wrapped) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[])"
            " ORDER BY 1 ON CONFLICT (person) DO NOTHING",
            [m[0] for m in made], [m[1] for m in made], [_wrap(m[1], m[2]) for m in made],
        )
        rows |= {r["person"]: r for r in await conn.fetch(
            "SELECT person, key_id, wrapped FROM keyvault.person_key WHERE person = ANY($1::uuid[])", missing)}
    out: dict[uuid.UUID, str] = {}
    for person in wanted:
        key_id = rows[person]["key_id"]
        data_key = _unwrap(key_id, rows[person]["wrapped"])
        nonce = os.urandom(NONCE_BYTES)
        out[person] = Sealed(key_id, nonce + AESGCM(data_key).encrypt(nonce, person.bytes, key_id.bytes)).text()
    return out


def is_person_id(value: str) -> bool:
    """The rule for actors (docs/decisions/0009): a UUID-shaped actor is a person, anything else a system or an account."""
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


async def seal_actor(conn: asyncpg.Connection, actor: str) -> str:
    """Who did something, as events carry it: a person's id sealed, a system's or an account's name as it is."""
    return await seal(conn, actor) if is_person_id(actor) else actor


async def open_ref(conn: asyncpg.Connection, text: str) -> uuid.UUID:
    """The person a sealed reference is about. Raises NotSealed, or KeyDestroyed once the person was erased."""
    sealed = Sealed.parse(text)
    row = await conn.fetchrow("SELECT wrapped FROM keyvault.person_key WHERE key_id = $1", sealed.key_id)
    if row is None:
        raise KeyDestroyed("the person's key was destroyed")
    data_key = _unwrap(sealed.key_id, row["wrapped"])  # a wrong master key is the vault's fault, not the reference's
    try:
        return uuid.UUID(bytes=AESGCM(data_key).decrypt(sealed.blob[:NONCE_BYTES], sealed.blob[NONCE_BYTES:], sealed.key_id.bytes))
    except (InvalidTag, ValueError) as exc:
        raise NotSealed("the sealed reference does not open with its key") from exc


async def destroy(conn: asyncpg.Connection, person: uuid.UUID, reason: str) -> bool:
    """Destroys the person's key for good; False when they had none (nothing was ever sealed for them)."""
    key_id = await conn.fetchval("DELETE FROM keyvault.person_key WHERE person = $1 RETURNING key_id", person)
    if key_id is None:
        return False
    await conn.execute("INSERT INTO keyvault.destroyed_key (key_id, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING", key_id, reason)
    return True


async def has_key(conn: asyncpg.Connection, person: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM keyvault.person_key WHERE person = $1)", person))
