"""Names of people from the city's person data (issue 19 item 4), against the real stack: SS 12000
givenName/familyName sent on the city's person topic reach the person replica of every service that shows people
(assessment, catalog, notification; reporting keeps none), ``person_refs`` (shared/city/people.py) reads them
from each service's own schema, an older event never overwrites a newer name, and the name goes when the person
is removed by the city or erased on request. Names travel only on the city's topics: none is in any event Skolit
itself published (the outboxes, the record of every event the services sent)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from shared.city.people import person_refs
from shared.events.city import DutyAssigned, PersonRemoved, PersonUpserted
from shared.events.envelope import encode, new_envelope
from shared.http.models import PersonRef
from shared.topics import ASSESSMENT, CATALOG, NOTIFICATION, REPORTING
from tests.support.city import District, person
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

NAMED = ("assessment", "catalog", "notification")  # the services with a person replica
SKOLIT_TOPICS = [t.name for t in (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)] + [t.dlq for t in (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)]
PROTECTED = "Skyddad folkbokföring"
OFFICER = auth("data_protection", subject=f"dpo-names-{uuid.uuid4().hex[:6]}")


async def refs_in(conn: asyncpg.Connection, schema: str, ids: list[uuid.UUID], viewer: str | None = None) -> dict[uuid.UUID, PersonRef]:
    """``person_refs`` as the service itself runs it: on its own schema."""
    await conn.execute(f'SET search_path = "{schema}"')
    try:
        return await person_refs(conn, ids, viewer=viewer)
    finally:
        await conn.execute("RESET search_path")


async def names_in(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> dict[tuple[str, uuid.UUID], tuple[str | None, str | None]]:
    """(schema, person) → (given_name, family_name) of every row the replicas hold of ``ids``."""
    out = {}
    for schema in NAMED:
        for r in await conn.fetch(f"SELECT id, given_name, family_name FROM {schema}.person WHERE id = ANY($1::uuid[])", ids):
            out[(schema, r["id"])] = (r["given_name"], r["family_name"])
    return out


async def applied_everywhere(conn: asyncpg.Connection, event_id: str) -> bool:
    return all([await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {schema}.inbox WHERE event_id = $1)", event_id) for schema in NAMED])


async def erase(http: httpx.AsyncClient, url: str, who: uuid.UUID) -> dict[str, Any]:
    r = await http.post(f"{url}/privacy/erasure-requests", json={"personId": str(who), "reasonCode": "objection"}, headers=OFFICER)
    assert r.status_code == 202, r.text
    request_id = r.json()["id"]

    async def done() -> dict[str, Any] | None:
        status = (await http.get(f"{url}/privacy/erasure-requests/{request_id}", headers=OFFICER)).json()
        return status if status["status"] == "complete" else None

    return await eventually(done, timeout=90, interval=0.5, what=f"the erasure of {who} complete")


async def test_names_reach_the_replicas_show_through_person_refs_and_go_with_the_person(stack: Stack) -> None:
    tag = uuid.uuid4().hex[:8]
    district = District()
    city = district.events(n_schools=1)
    [school] = district.schools
    teacher, hidden, leaver, erased, unnamed = (uuid.uuid4() for _ in range(5))
    names = {teacher: ("Karin", f"Lindqvist{tag}"), hidden: ("Sara", f"Berg{tag}"), leaver: ("Omar", f"Haddad{tag}"),
             erased: ("Astrid", f"Sjöberg{tag}")}
    city += [person(p, given=g, family=f) for p, (g, f) in names.items() if p != hidden]
    city += [person(hidden, PROTECTED, given=names[hidden][0], family=names[hidden][1]), person(unnamed, named=False)]
    city += [DutyAssigned(id=uuid.uuid4(), person=p, dutyAt=school, dutyRole="Lärare") for p in (teacher, hidden, erased)]
    everyone = [teacher, hidden, leaver, erased, unnamed]
    first = datetime.now(UTC)
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await send(stack.bootstrap, [encode(new_envelope(e, "tests", time=first)) for e in city])

            async def stored() -> bool:
                duties = await conn.fetchval("SELECT count(*) FROM catalog.duty WHERE person = $1 AND active", teacher)
                return duties == 1 and len(await names_in(conn, everyone)) == len(NAMED) * len(everyone)

            await eventually(stored, timeout=60, what="the named persons in every person replica")
            held = await names_in(conn, everyone)
            for schema in NAMED:
                assert {p: held[(schema, p)] for p in everyone} == {**names, unnamed: (None, None)}, schema
            assert not await conn.fetchval("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'reporting'"
                                           " AND column_name IN ('given_name', 'family_name')")

            # --- person_refs in each service's own schema: name for staff, nothing of a protected identity but to them
            for schema in NAMED:
                refs = await refs_in(conn, schema, everyone, viewer=str(teacher))
                assert refs[teacher] == PersonRef(id=teacher, name=f"Karin Lindqvist{tag}"), schema
                assert refs[hidden] == PersonRef(id=None, name=None, protected=True), schema
                assert refs[unnamed] == PersonRef(id=unnamed, name=None), schema
                own = await refs_in(conn, schema, [hidden], viewer=str(hidden))
                assert own[hidden] == PersonRef(id=hidden, name=f"Sara Berg{tag}"), schema

            # --- a late, older event does not overwrite the name; a newer one does
            older = new_envelope(PersonUpserted(id=teacher, givenName="Gammalt", familyName=f"Namn{tag}"), "tests", time=first - timedelta(hours=1))
            await send(stack.bootstrap, [encode(older)])
            await eventually(lambda: applied_everywhere(conn, older.id), what="the older event applied")
            assert {s: (await names_in(conn, [teacher]))[(s, teacher)] for s in NAMED} == dict.fromkeys(NAMED, names[teacher])
            renamed = new_envelope(PersonUpserted(id=teacher, givenName="Karin", familyName=f"Lindqvist-Ek{tag}"), "tests",
                                   time=first + timedelta(seconds=1))
            await send(stack.bootstrap, [encode(renamed)])
            await eventually(lambda: applied_everywhere(conn, renamed.id), what="the newer event applied")
            for schema in NAMED:
                assert (await refs_in(conn, schema, [teacher]))[teacher].name == f"Karin Lindqvist-Ek{tag}", schema

            # --- removed by the city: the row stays without its name
            await send(stack.bootstrap, [wire(PersonRemoved(id=leaver))])

            async def nameless() -> bool:
                return set((await names_in(conn, [leaver])).values()) == {(None, None)}

            await eventually(nameless, what="the removed person's name cleared in every replica")
            for schema in NAMED:
                assert (await refs_in(conn, schema, [leaver]))[leaver] == PersonRef(id=leaver, name=None), schema

            # --- erased on request: the row goes, and with it the name
            status = await erase(http, stack.services["notification"].url, erased)
            assert {s: v["counts"].get("person") for s, v in status["services"].items() if s in NAMED} == dict.fromkeys(NAMED, 1)
            assert [k for k in await names_in(conn, everyone) if k[1] == erased] == []
            for schema in NAMED:
                assert (await refs_in(conn, schema, [erased]))[erased] == PersonRef(id=erased, name=None), schema
            name_text = f"Sjöberg{tag}"
            for schema in (*NAMED, "reporting"):
                tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", schema)
                for t in tables:
                    n = await conn.fetchval(f'SELECT count(*) FROM {schema}."{t["table_name"]}" x WHERE strpos(x::text, $1) > 0', name_text)
                    assert not n, f"the erased person's name is still in {schema}.{t['table_name']}"

            # --- the named teachers act: others see the one by name and the protected one as no one; the events Skolit
            # publishes about it name no one
            c = stack.services["catalog"].url
            made = await http.post(f"{c}/requests", headers=auth("teacher", subject=str(teacher), school_units=(str(school),)),
                                   json={"schoolUnitId": str(school), "newApp": {"name": f"Namnappen {tag}"}, "purpose": "Läsförståelse i åk 4"})
            assert made.status_code == 201, made.text
            as_hidden = auth("teacher", subject=str(hidden), school_units=(str(school),))
            secret = await http.post(f"{c}/requests", headers=as_hidden,
                                     json={"schoolUnitId": str(school), "newApp": {"name": f"Skyddsappen {tag}"}, "purpose": "Matematik i åk 5"})
            assert secret.status_code == 201, secret.text
            seen = (await http.get(f"{c}/requests/{made.json()['id']}", headers=OFFICER)).json()
            assert seen["requester"] == {"id": str(teacher), "name": f"Karin Lindqvist-Ek{tag}", "protected": False, "kind": "person"}, seen
            hidden_seen = await http.get(f"{c}/requests/{secret.json()['id']}", headers=OFFICER)
            assert hidden_seen.json()["requester"] == {"id": None, "name": None, "protected": True, "kind": "person"}
            assert str(hidden) not in hidden_seen.text and names[hidden][1] not in hidden_seen.text
            own = (await http.get(f"{c}/requests/{secret.json()['id']}", headers=as_hidden)).json()
            assert own["requester"] == {"id": str(hidden), "name": f"Sara Berg{tag}", "protected": False, "kind": "person"}

            async def published() -> bool:
                return bool(await conn.fetchval("SELECT count(*) FROM catalog.outbox WHERE strpos(encode(payload, 'escape'), $1) > 0",
                                                made.json()["id"]))

            await eventually(published, what="the request's event in the catalog outbox")
        for schema in (*NAMED, "reporting"):
            for given, family in [*names.values(), ("Karin", f"Lindqvist-Ek{tag}")]:
                leaked = await conn.fetch(
                    f"SELECT topic, event_type FROM {schema}.outbox WHERE topic = ANY($3::text[]) AND"
                    " (position($1::bytea IN coalesce(payload, ''::bytea)) > 0 OR position($1::bytea IN coalesce(key, ''::bytea)) > 0"
                    "  OR strpos(headers::text, $2) > 0)",
                    family.encode(), family, SKOLIT_TOPICS)
                assert not leaked, f"{given} {family} in Skolit's own events: {[(r['topic'], r['event_type']) for r in leaked]}"
    finally:
        await conn.close()
