"""The SS 12000 connector end to end (issue 23): the test SS 12000 server (devkit/ss12000) and the connector
(python -m connectors.ss12000) as processes beside the session stack's PostgreSQL, broker and four services.

A generated city (10 small school units) syncs into all four services through a 429 and a 500; a change and a
deletion reach them through the webhook; the connector SIGKILLed mid-sync resumes its run at the last committed page
and completes it, noticing a person deleted meanwhile; a second full resync with no change publishes nothing, and
every service's inbox holds each of the connector's events exactly once. The tests run in order on one city.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from connectors.ss12000 import domain
from devkit.process import ServiceProcess
from shared.events.city import AppLaunchesCounted, PersonUpserted, SchoolFiguresReported
from shared.settings import SERVICES
from tests.support.ss12000 import CITY_ADMIN, CLIENT_ID, CLIENT_SECRET, control, query, start_connector, start_server, sync_status, until
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def city(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = Path(tmp_path_factory.mktemp("ss12000"))
    server = start_server(workdir)
    # the first requests meet a 429 (Retry-After: 1) and a 500: the sync backs off and goes on
    control(server, "POST", "faults", {"next": [429, 500]})
    connector = start_connector(stack, server, workdir)
    with_names = tuple(s for s in SERVICES if query(stack.admin_url, "SELECT 1 FROM information_schema.tables WHERE table_schema = $1"
                                                                     " AND table_name = 'person'", s))
    state: dict[str, Any] = {"server": server, "connector": connector, "stack": stack, "with_names": with_names}
    try:
        yield state
    finally:
        connector.stop()
        server.stop()


# --- the truth, read from the SS 12000 server ---------------------------------------------------------------


def listed(server: ServiceProcess, resource: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        token = client.post("/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)).json()["access_token"]
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000}
        while True:
            body = client.get(f"/{resource}", params=params, headers={"Authorization": f"Bearer {token}"}).json()
            out += body["data"]
            if not body.get("pageToken"):
                return out
            params = {"pageToken": body["pageToken"]}


def expected_relations(persons: list[dict[str, Any]], placements: list[dict[str, Any]]) -> set[UUID]:
    """Each pupil's responsibles × active enrolments and placements (computed apart from the connector's state)."""
    today = date.today()
    placed: dict[UUID, list[domain.Schooling]] = {}
    for raw in placements:
        mapped, schooling = domain.placement(raw)
        assert mapped.person is not None
        placed.setdefault(mapped.person, []).append(schooling)
    out: set[UUID] = set()
    for raw in persons:
        pupil = domain.entity_id(raw)
        out |= set(domain.relations(pupil, domain.responsibles(raw), domain.enrolments(raw) + placed.get(pupil, []), today))
    return out


# --- what the services hold -----------------------------------------------------------------------------------


def ids(stack: Stack, sql: str, *args: Any) -> set[UUID]:
    return {r[0] for r in query(stack.admin_url, sql, *args)}


def in_every_service(stack: Stack, table_sql: str, expected: set[UUID], *args: Any, services: tuple[str, ...] = SERVICES) -> bool:
    """Every one of ``services`` holds ``expected`` (other tests' rows may be there too)."""
    return all(expected <= ids(stack, table_sql.format(schema=s), *args) for s in services)


def test_a_generated_city_syncs_into_all_four_services(city: dict[str, Any]) -> None:
    stack, server, connector = city["stack"], city["server"], city["connector"]
    assert len(city["with_names"]) == 3  # assessment, catalog, notification keep persons; reporting keeps none
    first = until(lambda: next((r for r in sync_status(connector)["runs"] if r["outcome"] == "ok"), None), "the first sync", 60)
    assert first["counts"]["events"] > 0

    organisations, persons, duties = listed(server, "organisations"), listed(server, "persons"), listed(server, "duties")
    units = {UUID(o["id"]) for o in organisations if o["organisationType"] == "Skolenhet"}
    assert len(units) == 10
    today = date.today()
    active_duties = {UUID(d["id"]) for d in duties if not d.get("endDate") or date.fromisoformat(d["endDate"][:10]) >= today}
    relations = expected_relations(persons, listed(server, "placements"))
    person_ids = {UUID(p["id"]) for p in persons}
    assert relations and active_duties and len(person_ids) > 500
    # what the connector knows equals the server's city
    assert ids(stack, "SELECT id FROM connector.entity_state WHERE resource = 'persons' AND NOT removed") == person_ids
    assert ids(stack, "SELECT id FROM connector.guardian_relation WHERE active") == relations

    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.organisation WHERE organisation_type = 'Skolenhet' AND NOT deleted", units),
          "the school units in all four services")
    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.duty WHERE active", active_duties), "the duties in all four services")
    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.guardianship WHERE active", relations),
          "the guardian relations in all four services")
    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.person WHERE NOT removed", person_ids, services=city["with_names"]),
          "the persons in the services that keep them")
    # a Rektor is the principal of the school unit in a service's API, from the city's data
    rektor = next(d for d in duties if d["dutyRole"] == "Rektor")
    school = UUID(rektor["dutyAt"]["id"])
    assert school in units
    got = httpx.get(f"{stack.services['assessment'].url}/school-units/{school}", headers=CITY_ADMIN, timeout=10)
    assert got.status_code == 200 and got.json()["schoolUnitCode"]

    # the 429 and the 500 were met, counted and got over
    samples = [s for family in text_string_to_metric_families(httpx.get(connector.url + "/metrics", timeout=10).text) for s in family.samples]
    errors = {s.labels["kind"]: s.value for s in samples if s.name == "skolit_connector_errors_total"}
    assert errors.get("rate-limited", 0) >= 1 and errors.get("server", 0) >= 1, errors
    assert any(s.name == "skolit_connector_last_success_timestamp_seconds" and s.labels["resource"] == "persons" and s.value > 0 for s in samples)
    # nothing but id, marking and names went out about a person
    for r in query(stack.admin_url, "SELECT payload FROM connector.outbox WHERE event_type = $1 LIMIT 50", PersonUpserted.TYPE):
        assert set(orjson.loads(r[0])) <= {"id", "securityMarking", "givenName", "familyName"}
    city.update(persons=persons, duties=duties, relations=relations)


def test_a_change_and_a_deletion_arrive_through_the_webhook(city: dict[str, Any]) -> None:
    stack, server, connector = city["stack"], city["server"], city["connector"]
    today = date.today()
    pupil = next(p for p in city["persons"] if len(p.get("responsibles") or []) == 2 and domain.enrolments(p)
                 and all(s.active(today) for s in domain.enrolments(p)))
    pid = UUID(pupil["id"])
    kept, dropped = pupil["responsibles"]
    control(server, "POST", f"persons/{pid}", {"familyName": "Webhooksson", "responsibles": [kept]})
    duty = next(d for d in city["duties"] if d["dutyRole"] == "Lärare" and not d.get("endDate"))
    control(server, "DELETE", f"duties/{duty['id']}")

    ended = {domain.relation_id(UUID(dropped["person"]["id"]), pid, s.school_unit) for s in domain.enrolments(pupil)}
    assert ended <= city["relations"]
    until(lambda: all(query(stack.admin_url, f"SELECT 1 FROM {s}.person WHERE id = $1 AND family_name = 'Webhooksson'", pid)
                      for s in city["with_names"]), "the new family name in the services that keep names")
    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.guardianship WHERE NOT active", ended), "the dropped responsible's relation ended")
    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.duty WHERE NOT active", {UUID(duty["id"])}), "the deleted duty ended")
    assert any(r["trigger"] == "webhook" and r["outcome"] == "ok" for r in sync_status(connector)["runs"])
    # the webhook's secret path is its credential; POST /sync is for city admins
    assert httpx.post(connector.url + "/webhooks/ss12000/not-the-secret", json={}, timeout=10).status_code == 404
    assert httpx.post(connector.url + "/sync", json={"mode": "full"}, timeout=10).status_code == 401
    assert httpx.post(connector.url + "/sync", json={"mode": "full"}, headers=auth("teacher"), timeout=10).status_code == 403
    assert httpx.post(connector.url + "/sync", json={"mode": "everything"}, headers=CITY_ADMIN, timeout=10).status_code == 422
    stats = control(server, "GET", "stats").json()
    assert stats["webhooks"]["sent"] >= 2
    city["changed_pupil"] = pid


def test_killed_mid_sync_the_connector_resumes_and_completes_and_notices_a_deletion(city: dict[str, Any]) -> None:
    stack, server, connector = city["stack"], city["server"], city["connector"]
    control(server, "POST", "slow", {"seconds": 0.3})
    assert httpx.post(connector.url + "/sync", json={"mode": "full"}, headers=CITY_ADMIN, timeout=10).status_code == 202

    def persons_under_way() -> int | None:
        rows = query(stack.admin_url, "SELECT r.id FROM connector.sync_run r JOIN connector.sync_cursor c ON c.run_id = r.id"
                                      " WHERE r.outcome = 'running' AND r.mode = 'full' AND c.resource = 'persons' AND c.page_token IS NOT NULL")
        return rows[0][0] if rows else None

    killed_run = until(persons_under_way, "a full sync with pages of persons committed", 30, interval=0.05)
    connector.kill()  # SIGKILL: no goodbye
    # meanwhile a guardian is deleted at the source (the webhook finds nobody): the resumed full run notices the absence
    control(server, "POST", "slow", {"seconds": 0})
    # one the killed run had not reached yet (one it had seen is not missing from its listing)
    not_reached = ids(stack, "SELECT id FROM connector.entity_state WHERE resource = 'persons' AND seen_run <> $1", killed_run)
    pupil = next(p for p in city["persons"] if len(p.get("responsibles") or []) == 1 and domain.enrolments(p)
                 and UUID(p["id"]) != city["changed_pupil"] and UUID(p["responsibles"][0]["person"]["id"]) in not_reached)
    guardian = UUID(pupil["responsibles"][0]["person"]["id"])
    control(server, "DELETE", f"persons/{guardian}")

    connector.start(banner="--- restarted after SIGKILL ---")
    connector.wait_until(lambda c: c.get("/healthz").status_code == 200, "serving", 60)
    run = until(lambda: next((r for r in sync_status(connector)["runs"] if r["id"] == killed_run and r["outcome"] == "ok"), None),
                "the killed run resumed and completed", 60)
    assert run["mode"] == "full"
    # The server pages a snapshot taken at the run's first page (as it should: nothing skipped, nothing twice), so the resumed
    # run may still list the guardian; the next full resync does not and removes it: the webhook never told anyone.
    assert httpx.post(connector.url + "/sync", json={"mode": "full"}, headers=CITY_ADMIN, timeout=10).status_code == 202
    after = until(lambda: next((r for r in sync_status(connector)["runs"] if r["id"] > killed_run and r["outcome"] == "ok"), None),
                  "the next full resync", 60)
    assert after["mode"] == "full"
    assert run["counts"]["resources"]["persons"].get("removed", 0) + after["counts"]["resources"]["persons"].get("removed", 0) == 1

    gone = {domain.relation_id(guardian, UUID(pupil["id"]), s.school_unit) for s in domain.enrolments(pupil) if s.active(date.today())}
    until(lambda: all(query(stack.admin_url, f"SELECT 1 FROM {s}.person WHERE id = $1 AND removed", guardian) for s in city["with_names"]),
          "the deleted guardian removed")
    until(lambda: in_every_service(stack, "SELECT id FROM {schema}.guardianship WHERE NOT active", gone), "the deleted guardian's relations ended")
    # killed and resumed, nothing went out twice: one PersonUpserted per person, but for the one whose name changed
    repeated = query(stack.admin_url, "SELECT key FROM connector.outbox WHERE event_type = $1 GROUP BY key HAVING count(*) > 1", PersonUpserted.TYPE)
    assert {UUID(bytes(r[0]).decode()) for r in repeated} == {city["changed_pupil"]}


#: the imports' events (figures, launch logs) share the connector's outbox with the sync's (tests/integration/test_figure_imports.py
#: runs first in the session and may leave some a service refuses): only the sync's are counted here
IMPORTED = {SchoolFiguresReported.TYPE, AppLaunchesCounted.TYPE}


def consumed_types(service: str) -> list[str]:
    """The types the service consumes that the SS 12000 sync publishes."""
    spec = importlib.import_module(f"services.{service}.app").SPEC
    return [t.TYPE for t in spec.consumes() if t.TYPE not in IMPORTED]


def test_a_second_full_resync_with_no_change_publishes_nothing_and_no_inbox_applies_anything_twice(city: dict[str, Any]) -> None:
    stack, connector = city["stack"], city["connector"]
    before = query(stack.admin_url, "SELECT count(*) FROM connector.outbox")[0][0]
    last = max(r["id"] for r in sync_status(connector)["runs"])
    assert httpx.post(connector.url + "/sync", json={"mode": "full"}, headers=CITY_ADMIN, timeout=10).status_code == 202
    run = until(lambda: next((r for r in sync_status(connector)["runs"] if r["id"] > last and r["outcome"] == "ok"), None), "the full resync", 60)
    assert run["mode"] == "full" and run["counts"]["events"] == 0
    assert all(not {"new", "changed", "removed"} & set(c) for c in run["counts"]["resources"].values()), run["counts"]
    assert query(stack.admin_url, "SELECT count(*) FROM connector.outbox")[0][0] == before

    for service in SERVICES:
        types = consumed_types(service)
        published = query(stack.admin_url, "SELECT count(DISTINCT id) FROM connector.outbox WHERE event_type = ANY($1::text[])", types)[0][0]
        assert published > 0

        def applied_once(service: str = service, types: list[str] = types, published: int = published) -> bool:
            rows = query(stack.admin_url, f"SELECT count(*), count(DISTINCT i.event_id) FROM {service}.inbox i"
                                          " JOIN connector.outbox o ON o.id::text = i.event_id WHERE o.event_type = ANY($1::text[]) AND i.outcome = 'applied'",
                         types)
            return rows[0][0] == rows[0][1] == published

        until(applied_once, f"{service}'s inbox holding each of the connector's events once")


def test_a_resync_from_empty_state_stages_only_what_it_never_staged(city: dict[str, Any]) -> None:
    """The sync state lost: a full resync finds every entity new, and its events get the very ids they had (type, entity,
    fingerprint, meta.modified), which the outbox already holds. The only exception: the relations of the pupil whose
    name changed that survived the change — derived now, their time is the pupil's new meta.modified."""
    stack, server, connector, pupil = city["stack"], city["server"], city["connector"], city["changed_pupil"]
    survived = query(stack.admin_url, "SELECT count(*) FROM connector.guardian_relation WHERE pupil = $1 AND active", pupil)[0][0]
    assert survived >= 1
    before = query(stack.admin_url, "SELECT count(*) FROM connector.outbox")[0][0]
    query(stack.admin_url, "TRUNCATE connector.entity_state, connector.guardian_relation, connector.pupil_responsible,"
                           " connector.pupil_schooling, connector.sync_cursor")
    last = max(r["id"] for r in sync_status(connector)["runs"])
    assert httpx.post(connector.url + "/sync", json={"mode": "full"}, headers=CITY_ADMIN, timeout=10).status_code == 202
    run = until(lambda: next((r for r in sync_status(connector)["runs"] if r["id"] > last and r["outcome"] == "ok"), None), "the resync", 60)
    assert run["counts"]["resources"]["persons"]["new"] == len(listed(server, "persons"))
    assert run["counts"]["events"] == survived
    assert query(stack.admin_url, "SELECT count(*) FROM connector.outbox")[0][0] == before + survived
