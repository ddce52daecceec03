"""The embedded PostgreSQL and broker, the demo city and the city CLI, against real processes."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from devkit.city_cli import InputError, main as city_main, publish_envelopes, read_file, to_records
from devkit.demo.city import demo_city
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from shared.events.envelope import encode, header_map
from shared.topics import CITY_PERSON
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "content-type")
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# 10 or 12 digits, optionally with - or + before the last four: YYMMDD-NNNN, YYYYMMDDNNNN, ...
PERSONNUMMER_RE = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+]?\d{4}(?!\d)")
EXAMPLE = Path(__file__).resolve().parents[2] / "shared" / "city" / "example.json"


@pytest.fixture(scope="module")
def demo():
    return demo_city()


@pytest.fixture(scope="module")
def broker():
    b = EmbeddedBroker(free_port())
    try:
        b.start(timeout=30)
        yield b
    finally:
        b.stop()
    assert not b.is_running()


async def test_embedded_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "pgdata", free_port())
    try:
        url = await asyncio.to_thread(pg.start)
        assert url == f"postgresql://postgres@127.0.0.1:{pg.port}/skolit"
        assert pg.is_running()
        maintenance = url.rsplit("/", 1)[0] + "/postgres"
        conn = await asyncpg.connect(maintenance)
        try:
            assert int(await conn.fetchval("SHOW max_connections")) >= 200
            assert await conn.fetchval("SHOW server_encoding") == "UTF8"
            await conn.execute("CREATE TABLE survivor (id int PRIMARY KEY, name text)")
            await conn.execute("INSERT INTO survivor VALUES (1, 'Åsa-Nisse')")
        finally:
            await conn.close()

        await asyncio.to_thread(pg.stop)
        assert not pg.is_running()
        await asyncio.to_thread(pg.start)
        conn = await asyncpg.connect(maintenance)
        try:
            assert await conn.fetchval("SELECT name FROM survivor WHERE id = 1") == "Åsa-Nisse"
            await conn.execute("INSERT INTO survivor VALUES (2, 'efter krasch')")
        finally:
            await conn.close()

        # a crash (SIGKILL of the postmaster): committed data is recovered from the WAL
        await asyncio.to_thread(pg.kill)
        assert not pg.is_running()
        await asyncio.to_thread(pg.start)
        conn = await asyncpg.connect(maintenance)
        try:
            assert await conn.fetchval("SELECT count(*) FROM survivor") == 2
        finally:
            await conn.close()

        # the admin URL works once its database exists
        from shared.db import ensure_database

        await ensure_database(url)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT current_database()") == "skolit"
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(pg.stop)
    assert not pg.is_running()


def test_demo_city_shape_and_determinism(demo) -> None:
    types = Counter(e.type for e in demo)
    orgs = [e.data for e in demo if e.type == "se.skolit.city.organisation.upserted.v1"]
    districts = [o for o in orgs if o.organisationType == "Verksamhetsområde"]
    units = [o for o in orgs if o.organisationType == "Skolenhet"]
    assert [o.displayName for o in orgs if o.organisationType == "Huvudman"] == ["Stockholms stad"]
    assert len(districts) >= 3
    assert len(units) >= 30
    assert types["se.skolit.city.guardianship.added.v1"] >= 1000
    district_ids = {d.id for d in districts}
    assert all(u.parentOrganisation in district_ids and u.schoolUnitCode and len(u.schoolUnitCode) == 8 for u in units)
    assert len({u.schoolUnitCode for u in units}) == len(units)

    # one Rektor per unit, and 4-12 teachers each
    duties = [e.data for e in demo if e.type == "se.skolit.city.duty.assigned.v1"]
    for unit in units:
        at_unit = [d for d in duties if d.dutyAt == unit.id]
        assert sum(d.dutyRole == "Rektor" for d in at_unit) == 1
        assert 4 <= sum(d.dutyRole in ("Lärare", "Förskollärare") for d in at_unit) <= 12

    # organisations come first; every person is upserted before a duty or relation names them
    positions = {e.type: i for i, e in reversed(list(enumerate(demo)))}
    last_org = max(i for i, e in enumerate(demo) if e.type.startswith("se.skolit.city.organisation"))
    assert last_org < positions["se.skolit.city.duty.assigned.v1"]
    assert last_org < positions["se.skolit.city.guardianship.added.v1"]
    seen_persons: set = set()
    for e in demo:
        if e.type == "se.skolit.city.person.upserted.v1":
            seen_persons.add(e.data.id)
        elif e.type == "se.skolit.city.duty.assigned.v1":
            assert e.data.person in seen_persons
        elif e.type == "se.skolit.city.guardianship.added.v1":
            assert e.data.guardian in seen_persons and e.data.pupil in seen_persons

    persons = [e.data for e in demo if e.type == "se.skolit.city.person.upserted.v1"]
    protected = sum(p.securityMarking == "Skyddad folkbokföring" for p in persons) / len(persons)
    assert 0.005 < protected < 0.05

    # every person has a name (SS 12000 givenName/familyName), a pupil their family's: one of their guardians'
    assert all(p.givenName and p.familyName for p in persons)
    family = {p.id: p.familyName for p in persons}
    guardians_of: dict = {}
    for e in demo:
        if e.type == "se.skolit.city.guardianship.added.v1":
            guardians_of.setdefault(e.data.pupil, set()).add(e.data.guardian)
    assert all(family[pupil] in {family[g] for g in gs} for pupil, gs in guardians_of.items())
    assert len({(p.givenName, p.familyName) for p in persons}) > len(persons) // 2  # varied, not one name for all

    again = demo_city()
    assert [e.id for e in again] == [e.id for e in demo]
    assert [encode(e).value for e in again] == [encode(e).value for e in demo]
    assert len({e.id for e in demo}) == len(demo)
    assert [e.id for e in demo_city(seed=7)] != [e.id for e in demo]


async def test_publish_demo_city_and_consume_it_back(broker: EmbeddedBroker, demo) -> None:
    from aiokafka import AIOKafkaConsumer

    sent = await publish_envelopes(broker.bootstrap, demo)
    assert sent == len(demo)

    expected = Counter(e.data.TOPIC for e in demo)
    keys_by_id = {e.id: e.data.key() for e in demo}
    consumer = AIOKafkaConsumer(*expected, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    got: Counter[str] = Counter()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while sum(got.values()) < len(demo) and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for records in batches.values():
                for record in records:
                    got[record.topic] += 1
                    headers = header_map(record.headers)
                    for name in REQUIRED_HEADERS:
                        assert headers.get(name), f"{name} missing on {record.topic}@{record.offset}"
                    assert headers["ce_source"] == "city.demo"
                    assert headers["ce_time"].startswith("2026-08-15T06:00:00")
                    assert record.key.decode() == keys_by_id[headers["ce_id"]]
                    value = record.value.decode()
                    assert "@" not in value
                    assert not PERSONNUMMER_RE.search(UUID_RE.sub("", value)), value
                    body = orjson.loads(record.value)
                    assert "name" not in body and "email" not in body
    finally:
        await consumer.stop()
    assert got == expected


def test_cli_rejects_an_invalid_row_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert len(records) == 5
    assert len(read_file(EXAMPLE)) == 5  # the README's example is valid

    bad = json.loads(json.dumps(records))
    bad[1]["data"]["schoolUnitCode"] = "1234"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_file(path)
    message = str(err.value)
    assert "record 2" in message and "schoolUnitCode" in message

    # the command line says the same and sends nothing (the bootstrap points nowhere)
    code = city_main(["publish", "--file", str(path), "--bootstrap", f"127.0.0.1:{free_port()}"])
    assert code == 2
    stderr = capsys.readouterr().err
    assert "record 2" in stderr and "schoolUnitCode" in stderr and "nothing was published" in stderr

    # JSON Lines: an unknown field (contact details are not in the contract) names its line
    lines = [json.dumps(r) for r in records]
    lines[2] = json.dumps({"type": "se.skolit.city.person.upserted.v1",
                           "data": {"id": records[2]["data"]["id"], "email": "x@example.se"}})
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3 .*'email'"):
        read_file(jsonl)


def test_cli_csv_and_export(tmp_path: Path) -> None:
    csv_path = tmp_path / "units.csv"
    csv_path.write_text(
        "id,displayName,organisationType,schoolUnitCode,schoolTypes,parentOrganisation\n"
        "7a1d9e3b-2c4f-4d6e-9f0a-b1c2d3e4f502,Engelbrektsskolan,Skolenhet,45872913,FKLASS;GR;FTH,5f0c8d2a-1b3e-4c5d-8e9f-a0b1c2d3e401\n"
        "7a1d9e3b-2c4f-4d6e-9f0a-b1c2d3e4f503,Matteusskolan,Skolenhet,45872914,GR,\n",
        encoding="utf-8",
    )
    envelopes = read_file(csv_path, "se.skolit.city.organisation.upserted.v1")
    assert [list(e.data.schoolTypes) for e in envelopes] == [["FKLASS", "GR", "FTH"], ["GR"]]
    assert envelopes[1].data.parentOrganisation is None

    csv_path.write_text(csv_path.read_text().replace("45872914", "4587291"), encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3 .*schoolUnitCode"):
        read_file(csv_path, "se.skolit.city.organisation.upserted.v1")

    # persons with their names (the name is the city's: it travels only on the city's person topic)
    persons = tmp_path / "persons.csv"
    persons.write_text("id,securityMarking,givenName,familyName\n"
                       "c3e5a7b9-4d6f-4a8b-8c0d-e1f2a3b4c603,Ingen,Karin,Lindqvist\n"
                       "c3e5a7b9-4d6f-4a8b-8c0d-e1f2a3b4c604,Skyddad folkbokföring,,\n", encoding="utf-8")
    named, unnamed = read_file(persons, "se.skolit.city.person.upserted.v1")
    assert (named.data.givenName, named.data.familyName, named.data.TOPIC) == ("Karin", "Lindqvist", CITY_PERSON.name)
    assert (unnamed.data.givenName, unnamed.data.familyName) == (None, None)

    out = tmp_path / "demo.json"
    assert city_main(["export-demo", "--file", str(out)]) == 0
    exported = json.loads(out.read_text(encoding="utf-8"))
    demo = demo_city()
    assert exported == to_records(demo)
    assert [e.id for e in read_file(out)] == [e.id for e in demo]


async def test_the_outbox_relay_keeps_publishing_after_postgresql_restarts(tmp_path: Path) -> None:
    """Found by make chaos: asyncpg hands a lost LISTEN connection back to the pool by itself, and the
    relay's check on it then raised and ended the relay — nothing more was published until a restart."""
    from shared import db, outbox
    from shared.events.city import PersonUpserted

    pg = EmbeddedPostgres(tmp_path / "pgdata", free_port())
    published: list[bytes | None] = []

    async def publish(topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> Any:
        published.append(value)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    try:
        url = (await asyncio.to_thread(pg.start)).rsplit("/", 1)[0] + "/postgres"
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE SCHEMA relaytest; SET search_path = relaytest")
            for migration in sorted((Path(db.__file__).parent / "migrations").glob("*.sql")):  # the messaging tables as every service has them
                await conn.execute(migration.read_text())
        finally:
            await conn.close()
        pool = await db.create_pool(url, "relaytest", min_size=1, max_size=3)
        # asleep between polls when the server goes away: the next look at the LISTEN connection is what used to fail
        relay = outbox.OutboxRelay(pool, publish, service="relaytest", poll_seconds=3)
        await relay.start()
        try:
            for round_ in range(2):
                async def add_one() -> bool:
                    try:
                        async with pool.acquire() as c, c.transaction():
                            await outbox.add(c, "tests", PersonUpserted(id=uuid.uuid4()))
                        return True
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        return False  # the pool still holds connections from before the restart

                await eventually(add_one, what=f"an event written (round {round_})")
                await eventually(lambda n=round_ + 1: _at_least(published, n), what=f"event {round_ + 1} published")
                if round_ == 0:
                    await asyncio.to_thread(pg.stop, "immediate")
                    await asyncio.to_thread(pg.start)
            assert relay._task is not None and not relay._task.done()
        finally:
            await relay.stop()
            await pool.close()
    finally:
        await asyncio.to_thread(pg.stop)


async def _at_least(items: list[Any], n: int) -> bool:
    return len(items) >= n
