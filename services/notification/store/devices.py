"""SQL of push devices (migrations/0008_self_service.sql): several per person, the token encrypted by the caller
(crypto.py); the person's own ('self') and the one the city's systems set ('city'); and the sends of a push
delivery to each device (``device_send``: the reference the push gateway gets and calls back with)."""

from __future__ import annotations

import hashlib
from uuid import UUID

import asyncpg

CITY_LABEL = "Registered by the city's systems"
COLUMNS = "id, person, source, label, platform, key_id, token, created_at, last_used_at"


# --- devices -------------------------------------------------------------------------------------


async def devices(conn: asyncpg.Connection, person: UUID) -> list[asyncpg.Record]:
    """The person's devices, oldest first."""
    return await conn.fetch("SELECT " + COLUMNS + " FROM device WHERE person = $1 ORDER BY created_at, id", person)


async def device(conn: asyncpg.Connection, person: UUID, id: UUID) -> asyncpg.Record | None:
    """One of the person's devices; another person's is not found."""
    return await conn.fetchrow("SELECT " + COLUMNS + " FROM device WHERE id = $1 AND person = $2", id, person)


async def add_device(conn: asyncpg.Connection, *, id: UUID, person: UUID, label: str, platform: str, key_id: str, token: bytes) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO device (id, person, source, label, platform, key_id, token) VALUES ($1, $2, 'self', $3, $4, $5, $6)"
        " RETURNING " + COLUMNS,
        id, person, label, platform, key_id, token,
    )


async def relabel_device(conn: asyncpg.Connection, id: UUID, *, label: str, platform: str) -> asyncpg.Record:
    return await conn.fetchrow("UPDATE device SET label = $2, platform = $3 WHERE id = $1 RETURNING " + COLUMNS, id, label, platform)


async def delete_device(conn: asyncpg.Connection, person: UUID, id: UUID) -> bool:
    return await conn.fetchval("DELETE FROM device WHERE id = $1 AND person = $2 RETURNING id", id, person) is not None


async def rekey_device(conn: asyncpg.Connection, id: UUID, key_id: str, token: bytes) -> None:
    await conn.execute("UPDATE device SET key_id = $2, token = $3 WHERE id = $1", id, key_id, token)


def city_device_id(person: UUID) -> UUID:
    """The id of a person's city device: the same one every time the city's systems set a token (as the migration made them)."""
    return UUID(hashlib.md5(b"skolit.city-device:" + str(person).encode()).hexdigest())  # noqa: S324 - an id, not a secret


async def save_city_devices(conn: asyncpg.Connection, rows: list[tuple[UUID, str, bytes | None]]) -> None:
    """(person, key id, encrypted token or None): the push token the city's systems set becomes the person's city
    device, or replaces its token (keeping its id, label and last use); none removes it."""
    given = [r for r in rows if r[2] is not None]
    cleared = [r[0] for r in rows if r[2] is None]
    if cleared:
        await conn.execute("DELETE FROM device WHERE person = ANY($1::uuid[]) AND source = 'city'", cleared)
    if given:
        await conn.execute(
            "INSERT INTO device (id, person, source, label, platform, key_id, token)"
            " SELECT u.id, u.person, 'city', $4, 'other', u.key_id, u.token FROM unnest($1::uuid[], $2::uuid[], $3::text[], $5::bytea[])"
            " AS u(id, person, key_id, token)"
            " ON CONFLICT (id) DO UPDATE SET key_id = EXCLUDED.key_id, token = EXCLUDED.token",
            [city_device_id(r[0]) for r in given], [r[0] for r in given], [r[1] for r in given], CITY_LABEL, [r[2] for r in given],
        )


# --- sending to them -----------------------------------------------------------------------------


async def push_targets(conn: asyncpg.Connection, delivery_ids: list[int]) -> list[asyncpg.Record]:
    """For each push delivery, every device of its person not reached yet (nor refused for good, nor waiting for its
    gateway), with a send row made or found: its id is the reference. A retry finds the same rows again."""
    return await conn.fetch(
        """
        WITH wanted AS (
            SELECT d.id AS delivery_id, dv.id AS device_id
            FROM delivery d JOIN device dv ON dv.person = d.person
            WHERE d.id = ANY($1::bigint[])
              AND NOT EXISTS (SELECT 1 FROM device_send s WHERE s.delivery_id = d.id AND s.device_id = dv.id
                              AND s.state IN ('delivered', 'accepted', 'permanent'))),
        made AS (
            INSERT INTO device_send (delivery_id, device_id) SELECT delivery_id, device_id FROM wanted
            ON CONFLICT (delivery_id, device_id) DO UPDATE SET state = 'sending', updated_at = now()
            RETURNING id, delivery_id, device_id)
        SELECT m.id AS reference, m.delivery_id, dv.id AS device_id, dv.person, dv.key_id, dv.token
        FROM made m JOIN device dv ON dv.id = m.device_id
        ORDER BY m.delivery_id, dv.created_at, dv.id
        """,
        delivery_ids,
    )


async def record_sends(conn: asyncpg.Connection, ids: list[int], states: list[str], refs: list[str | None], errors: list[str | None]) -> None:
    """What the gateway said per device, as the sender heard it; a send a callback decided meanwhile stays as it said.
    A device reached is used now."""
    await conn.execute(
        "UPDATE device_send s SET state = u.state, gateway_ref = coalesce(u.ref, s.gateway_ref), last_error = u.error, updated_at = now()"
        " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(id, state, ref, error) WHERE s.id = u.id AND s.state = 'sending'",
        ids, states, refs, errors,
    )
    # a device's receipt may have decided the send before the sender got here: the provider's id is still worth keeping
    await conn.execute(
        "UPDATE device_send s SET gateway_ref = u.ref FROM unnest($1::bigint[], $2::text[]) AS u(id, ref)"
        " WHERE s.id = u.id AND s.gateway_ref IS NULL AND u.ref IS NOT NULL",
        ids, refs,
    )
    await conn.execute(
        "UPDATE device dv SET last_used_at = now() FROM device_send s WHERE s.device_id = dv.id AND s.id = ANY($1::bigint[])"
        " AND s.state = 'delivered'",
        ids,
    )


async def send_by_reference(conn: asyncpg.Connection, reference: int) -> asyncpg.Record | None:
    """A device send and its delivery, the delivery locked (one callback at a time decides it)."""
    return await conn.fetchrow(
        "SELECT s.id, s.delivery_id, s.device_id, s.state, d.state AS delivery_state, d.attempts"
        " FROM device_send s JOIN delivery d ON d.id = s.delivery_id WHERE s.id = $1 FOR UPDATE OF d",
        reference,
    )


async def send_states(conn: asyncpg.Connection, delivery_id: int) -> list[str]:
    return [r["state"] for r in await conn.fetch("SELECT state FROM device_send WHERE delivery_id = $1", delivery_id)]



async def lock_deliveries(conn: asyncpg.Connection, ids: list[int]) -> None:
    """The deliveries first, in id order, as a callback does: their sends are then updated without a deadlock."""
    await conn.execute("SELECT id FROM delivery WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", ids)


async def update_send(conn: asyncpg.Connection, id: int, state: str, ref: str | None, error: str | None, from_states: tuple[str, ...]) -> bool:
    """A gateway's word on one device (a callback); False when it was decided already. A device reached is used now."""
    changed = await conn.fetchval(
        "UPDATE device_send SET state = $2, gateway_ref = coalesce($3, gateway_ref), last_error = $4, updated_at = now()"
        " WHERE id = $1 AND state = ANY($5::text[]) RETURNING id",
        id, state, ref, error, list(from_states),
    )
    if changed is not None and state == "delivered":
        await conn.execute("UPDATE device dv SET last_used_at = now() FROM device_send s WHERE s.id = $1 AND dv.id = s.device_id", id)
    return changed is not None


async def sends_of(conn: asyncpg.Connection, delivery_ids: list[int]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, delivery_id, state, gateway_ref, last_error FROM device_send WHERE delivery_id = ANY($1::bigint[]) ORDER BY id", delivery_ids)


async def drop_devices_of_sends(conn: asyncpg.Connection, send_ids: list[int]) -> int:
    """The devices these sends went to: the push service or FCM said the subscription or token reaches no one any more."""
    if not send_ids:
        return 0
    dropped = await conn.fetch(
        "DELETE FROM device dv USING device_send s WHERE s.id = ANY($1::bigint[]) AND dv.id = s.device_id RETURNING dv.id", send_ids)
    return len(dropped)


async def lock_person(conn: asyncpg.Connection, person: UUID) -> None:
    """One registration at a time per person (until the transaction ends): two at once cannot both pass the count."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('skolit.device:' || $1::uuid::text))", person)
