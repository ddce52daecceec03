"""The per-person key vault (shared/privacy/vault.py; docs/decisions/0009) against the real PostgreSQL: sealed
references open to their person, differ every time, open to nothing once the key is destroyed; garbage is
told apart from a destroyed key, and a wrong master key from both."""

from __future__ import annotations

import base64
import os
import uuid

import asyncpg
import pytest

from shared.privacy import vault
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


async def test_seal_open_round_trip_and_destroy(stack: Stack) -> None:
    person, other = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(stack.service_url("assessment"))  # any service may seal and open
    try:
        first, second = await vault.seal(conn, person), await vault.seal(conn, str(person).upper())
        assert first.startswith("pk1.") and str(person) not in first
        assert first != second, "a fresh nonce each time: sealed references cannot be compared"
        assert first.split(".")[1] == second.split(".")[1], "one key per person"
        assert await vault.open_ref(conn, first) == await vault.open_ref(conn, second) == person
        assert await vault.has_key(conn, person) and not await vault.has_key(conn, other)
        many = await vault.seal_many(conn, [person, other, person])
        assert set(many) == {person, other} and await vault.open_ref(conn, many[other]) == other
        assert await vault.seal_actor(conn, "skolit:dpa-expiry") == "skolit:dpa-expiry"
        assert await vault.open_ref(conn, await vault.seal_actor(conn, str(person))) == person
        # only the erasure coordinator (notification) destroys keys
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await vault.destroy(conn, person, "not assessment's to do")
    finally:
        await conn.close()

    coordinator = await asyncpg.connect(stack.service_url("notification"))
    try:
        assert await vault.destroy(coordinator, person, "test") is True
        assert await vault.destroy(coordinator, person, "again") is False  # nothing left to destroy
        for ref in (first, second, many[person]):
            with pytest.raises(vault.KeyDestroyed):
                await vault.open_ref(coordinator, ref)
        assert await vault.open_ref(coordinator, many[other]) == other  # other persons' keys are untouched
        # what was destroyed is recorded without saying whose it was
        row = await coordinator.fetchrow("SELECT * FROM keyvault.destroyed_key WHERE key_id = $1", uuid.UUID(first.split(".")[1]))
        assert row is not None and row["reason"] == "test" and str(person) not in str(dict(row))
        # sealing again after erasure makes a new key: new data about the person, not the old copies
        again = await vault.seal(coordinator, person)
        assert again.split(".")[1] != first.split(".")[1] and await vault.open_ref(coordinator, again) == person
        with pytest.raises(vault.KeyDestroyed):
            await vault.open_ref(coordinator, first)
    finally:
        await coordinator.close()


async def test_garbage_is_not_sealed_and_a_wrong_master_key_is_an_error(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    person = uuid.uuid4()
    conn = await asyncpg.connect(stack.service_url("catalog"))
    try:
        ref = await vault.seal(conn, person)
        key_id = ref.split(".")[1]
        for garbage in ("", str(person), "pk1.", "pk1.not-a-uuid.abc", f"pk2.{key_id}.{ref.split('.')[2]}", "pk1..x",
                        f"pk1.{key_id}.***", f"pk1.{key_id}." + base64.urlsafe_b64encode(os.urandom(44)).decode().rstrip("=")):
            with pytest.raises(vault.NotSealed):
                await vault.open_ref(conn, garbage)
        # a well-formed reference under a key the vault never had cannot be told from a destroyed one
        with pytest.raises(vault.KeyDestroyed):
            await vault.open_ref(conn, f"pk1.{uuid.uuid4()}.{ref.split('.')[2]}")
        with pytest.raises(ValueError):
            await vault.seal(conn, "not-a-person")

        monkeypatch.setenv("SKOLIT_KEYVAULT_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
        with pytest.raises(vault.VaultKeyError):
            await vault.open_ref(conn, ref)
        with pytest.raises(vault.VaultKeyError):
            await vault.seal(conn, person)
        monkeypatch.setenv("SKOLIT_KEYVAULT_MASTER_KEY", base64.b64encode(b"short").decode())
        with pytest.raises(ValueError, match="32 bytes"):
            await vault.open_ref(conn, ref)
        monkeypatch.delenv("SKOLIT_KEYVAULT_MASTER_KEY")
        assert await vault.open_ref(conn, ref) == person
        # the wrapped keys in the table are not the data keys: a dump of the database opens nothing
        wrapped = await conn.fetchval("SELECT wrapped FROM keyvault.person_key WHERE person = $1", person)
        assert len(wrapped) == vault.NONCE_BYTES + 32 + 16
    finally:
        await conn.close()
