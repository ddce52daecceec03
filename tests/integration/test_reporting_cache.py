"""Reporting's school report answered from its cache (services/reporting/report_cache.py), over the live service and the
broker: a repeated report is the same answer and comes from the cache; every event, and reporting's own HTTP write, that
changes what the report shows is seen (the read models' version, migration 0009, changes with it); who may read the
school is checked on every request, also after another caller's answer was cached. Against a scratch schema: the
version's triggers bump on insert, update, delete and truncate of every table the report reads, once per transaction,
and with the transaction only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from services.reporting.app import SPEC
from shared.events.assessment import ActionChange, ActionPlanChanged, ActionStatus, PulseGroupResult, PulseHeading
from shared.events.city import OrganisationUpserted, SchoolFiguresReported
from shared.migrate import migrate
from tests.integration.test_reporting import submitted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
YEAR = 2083  # a year no other test submits for


async def version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT n FROM reporting.report_version WHERE id = 1"))


async def behind_the_triggers(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    """A write the version does not see (triggers off for this transaction): what only a cached answer would hide."""
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(sql, *args)


async def test_a_repeated_report_comes_from_the_cache_and_follows_every_change(stack: Stack) -> None:
    url = stack.services["reporting"].url
    district, other_district, school, other_school = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = submitted(school, district, YEAR, {"infrastruktur": 3, "digital-kompetens": 2},
                      pulse=[PulseGroupResult(group="staff", respondents=7, headings=[PulseHeading(heading="infrastruktur", mean=3.4)])])
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=district, displayName="Område Cache", organisationType="Verksamhetsområde"),
        OrganisationUpserted(id=other_district, displayName="Område Annan cache", organisationType="Verksamhetsområde"),
        school_unit(school, district), school_unit(other_school, other_district),
        submitted(school, district, YEAR - 1, {"infrastruktur": 2}), first,
        SchoolFiguresReported(schoolUnitId=school, year=YEAR, figures={"staff": 20}),
    )])
    principal = auth("principal", school_units=(str(school),))
    district_admin, other_district_admin = auth("district_admin", districts=(str(district),)), auth("district_admin", districts=(str(other_district),))
    report_url = f"{url}/school-units/{school}/report"
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            async def get(headers: dict[str, str] = principal, **params: Any) -> httpx.Response:
                return await http.get(report_url, params=params, headers=headers)

            async def shown(check: Any, what: str) -> dict[str, Any]:
                async def ready() -> dict[str, Any] | None:
                    r = await get()
                    return r.json() if r.status_code == 200 and check(r.json()) else None

                return await eventually(ready, what=what)

            def level(body: dict[str, Any], heading: str = "infrastruktur") -> Any:
                return {h["id"]: h["level"] for h in body["headings"]}[heading]

            def staff_rate(body: dict[str, Any]) -> Any:
                return {g["group"]: g for g in body["pulse"]}.get("staff", {}).get("responseRate")

            body = await shown(lambda b: b["year"] == YEAR and b["previousYear"] == YEAR - 1 and staff_rate(b) == 0.35,
                               "the school's report with the city's staff figure")
            assert level(body) == 3 and body["schoolUnit"]["name"] == f"Skola {str(school)[:6]}"

            # (a) a second read is the same answer, byte for byte; another caller allowed to read it gets it too
            once, again = await get(), await get()
            assert once.status_code == again.status_code == 200 and once.content == again.content
            assert once.headers["content-type"] == "application/json" and "Accept, Accept-Language" in once.headers["vary"]
            assert (await get(district_admin)).content == once.content

            # ... and it comes from the cache: a change the version does not see is not shown, until the version moves
            for _attempt in range(5):
                before = await version(conn)
                await get()  # cached at this version (if it was not already)
                await behind_the_triggers(conn, "UPDATE reporting.heading_level SET level = 1 WHERE assessment_id = $1 AND heading = 'infrastruktur'",
                                          first.assessmentId)
                hidden = await get()
                if await version(conn) == before:  # nothing else was applied meanwhile (other tests' events): a fair check
                    break
                await behind_the_triggers(conn, "UPDATE reporting.heading_level SET level = 3 WHERE assessment_id = $1 AND heading = 'infrastruktur'",
                                          first.assessmentId)
            else:
                pytest.fail("the read models' version kept changing: no quiet moment to compare")
            assert hidden.content == once.content and level(hidden.json()) == 3  # the cached answer
            await conn.execute("UPDATE reporting.heading_level SET level = level WHERE false")  # no row, but a statement: the version moves
            assert await version(conn) > before
            assert level((await get()).json()) == 1  # answered anew, from what the table holds
            await conn.execute("UPDATE reporting.heading_level SET level = 3 WHERE assessment_id = $1 AND heading = 'infrastruktur'", first.assessmentId)
            assert (await get()).content == once.content  # back as it was: the same answer again

            # variants are answered per request from their own entries: the language, the year asked for, CSV
            english = (await get(lang="en")).json()
            assert {h["id"]: h["title"] for h in english["headings"]}["infrastruktur"] == "Infrastructure for greater access"
            assert {h["id"]: h["title"] for h in (await get()).json()["headings"]}["infrastruktur"] == "Infrastruktur för ökad tillgänglighet"
            assert (await get(year=YEAR - 1)).json()["year"] == YEAR - 1 and (await get(year=YEAR)).json()["year"] == YEAR
            assert (await get(year=2040)).status_code == 404
            csv_lines = (await get(format="csv")).text.splitlines()
            assert f"heading,infrastruktur,{YEAR},3,2,1" in csv_lines

            # (c) who may read it is checked on every request, after the answer was cached for someone allowed
            for headers, expected in ((auth("principal", school_units=(str(other_school),)), 403), (other_district_admin, 403),
                                      (auth("guardian", school_units=(str(school),)), 403), ({}, 401),
                                      (auth("teacher", school_units=(str(school),)), 200), (auth("city_admin"), 200)):
                r = await get(headers)
                assert r.status_code == expected, (headers, r.status_code)
                if expected == 200:
                    assert r.content == once.content
                else:
                    assert "headings" not in r.text  # a problem, not the report
            for params in ({"lang": "en"}, {"format": "csv"}, {"year": YEAR - 1}):
                assert (await get(other_district_admin, **params)).status_code == 403, params

            # (b) every change the report shows is seen: an action plan ...
            action = ActionPlanChanged(actionId=uuid.uuid4(), schoolUnitId=school, assessmentId=first.assessmentId, heading="infrastruktur",
                                       indicatorId="INF-00", status=ActionStatus.PLANNED, deadline=date(YEAR, 6, 1), change=ActionChange.CREATED,
                                       changedAt=datetime(YEAR, 3, 3, tzinfo=UTC))
            await send(stack.bootstrap, [wire(action)])
            body = await shown(lambda b: [a["id"] for a in b["actionPlan"]["open"]] == [str(action.actionId)], "the new action in the report")
            assert body["actionPlan"]["byStatus"]["planned"] == 1
            done = action.model_copy(update={"status": ActionStatus.DONE, "change": ActionChange.UPDATED, "changedAt": datetime(YEAR, 4, 1, tzinfo=UTC)})
            await send(stack.bootstrap, [wire(done)])
            body = await shown(lambda b: b["actionPlan"]["open"] == [] and b["actionPlan"]["byStatus"]["done"] == 1, "the action done")
            # ... the city's figures (the pulse's response rate) ...
            await send(stack.bootstrap, [wire(SchoolFiguresReported(schoolUnitId=school, year=YEAR, figures={"staff": 10}))])
            await shown(lambda b: staff_rate(b) == 0.7, "the new staff figure")
            # ... a new submission of the year ...
            await send(stack.bootstrap, [wire(submitted(school, district, YEAR, {"infrastruktur": 4}, assessment=first.assessmentId, submission=2))])
            body = await shown(lambda b: level(b) == 4, "the second submission's level")
            assert body["pulse"] == []  # the second submission has no pulse
            # ... the school renamed by the city ...
            await send(stack.bootstrap, [wire(school_unit(school, district, name="Cacheskolan"))])
            await shown(lambda b: b["schoolUnit"]["name"] == "Cacheskolan", "the school's new name")
            # ... and reporting's own write, seen by the very next read: the version moves in the write's transaction
            code = "cache-staff-" + uuid.uuid4().hex[:8]
            added = await http.post(f"{url}/indicators", headers=auth("city_admin"), json={
                "code": code, "metric": "staff", "unit": "count", "target": 5, "direction": "higher",
                "name": {"sv": "Personal (cachetest)", "en": "Staff (cache test)"}})
            assert added.status_code == 201, added.text
            rows = {i["code"]: i for i in (await get()).json()["indicatorFigures"]}
            assert rows[code]["value"] == 10 and rows[code]["meetsTarget"] is True

            # the school moves to another district: the old district's admin is refused at once, the new one's admitted
            await send(stack.bootstrap, [wire(school_unit(school, other_district, name="Cacheskolan"))])

            async def moved() -> bool:
                return (await get(other_district_admin)).status_code == 200

            await eventually(moved, what="the new district's admin reading the moved school")
            assert (await get(district_admin)).status_code == 403
            assert (await get()).status_code == 200  # the school's own staff still
    finally:
        await conn.close()


# --- the version's triggers, in a scratch schema with reporting's migrations ----------------------------------------

@pytest.fixture
async def scratch(stack: Stack) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    """A connection whose search path is a new schema with reporting's migrations, and another session on that schema."""
    schema = "report_version_" + uuid.uuid4().hex[:8]
    conn = await asyncpg.connect(stack.admin_url)
    await conn.execute("CREATE SCHEMA " + schema)
    await conn.execute(f"SET search_path = {schema}, public")
    other = await asyncpg.connect(stack.admin_url, server_settings={"search_path": f"{schema}, public"})
    try:
        await migrate(conn, schema, SPEC.migrations())
        yield conn, other
    finally:
        await other.close()
        await conn.execute("RESET search_path")
        await conn.execute("DROP SCHEMA " + schema + " CASCADE")
        await conn.close()


A, S = uuid.uuid4(), uuid.uuid4()  # an assessment and a school unit
NOW = datetime(2030, 1, 1, tzinfo=UTC)
SUBMISSION = ("INSERT INTO submission (assessment_id, school_unit, campaign_id, year, framework_version, submission, submitted_at)"
              " VALUES ($1, $2, $1, 2030, 2, 1, $3)", (A, S, NOW))
#: per table the report reads: a row inserted, then updated (every table is deleted from and truncated as well)
WATCHED: dict[str, tuple[str, tuple[Any, ...], str]] = {
    "organisation": ("INSERT INTO organisation (id, display_name, organisation_type, event_time) VALUES ($1, 'S', 'Skolenhet', $2)", (S, NOW),
                     "UPDATE organisation SET display_name = 'T'"),
    "submission": (*SUBMISSION, "UPDATE submission SET reopened_at = now()"),
    "heading_level": ("INSERT INTO heading_level (assessment_id, heading, level, answered, not_relevant, indicators) VALUES ($1, 'h', 2, 1, 0, 1)",
                      (A,), "UPDATE heading_level SET level = 3"),
    "indicator_level": ("INSERT INTO indicator_level (assessment_id, indicator_id, heading, level, not_relevant, carried) VALUES ($1, 'i', 'h', 2, false, false)",
                        (A,), "UPDATE indicator_level SET level = 3"),
    "pulse_level": ("INSERT INTO pulse_level (assessment_id, grp, respondents, heading, mean) VALUES ($1, 'staff', 7, 'h', 3.0)", (A,),
                    "UPDATE pulse_level SET mean = 2.0"),
    "school_figure": ("INSERT INTO school_figure (school_unit, year, metric, value, event_time) VALUES ($1, 2030, 'staff', 20, $2)", (S, NOW),
                      "UPDATE school_figure SET value = 21"),
    "app_fact": ("INSERT INTO app_fact (id, headings, allows_use, valid_dpa, version) VALUES ($1, '{h}', true, true, 1)", (A,),
                 "UPDATE app_fact SET valid_dpa = false"),
    "app_launch": ("INSERT INTO app_launch (app_id, school_unit, period_start, period_end, launches, event_time) VALUES ($1, $2, $3, $3, 1, $4)",
                   (A, S, date(2030, 1, 1), NOW), "UPDATE app_launch SET launches = 2"),
    "indicator_definition": ("INSERT INTO indicator_definition (code, metric, source, unit, direction, name_sv, name_en, defined_by)"
                             " VALUES ('cache-test', 'staff', 'city', 'count', 'higher', 'x', 'x', $1)", ("test",),
                             "UPDATE indicator_definition SET target = 1 WHERE code = 'cache-test'"),
    "action_state": ("INSERT INTO action_state (action_id, school_unit, heading, status, changed_at) VALUES ($1, $2, 'h', 'planned', $3)",
                     (A, S, NOW), "UPDATE action_state SET status = 'done'"),
}


async def test_the_version_moves_with_every_write_to_a_table_the_report_reads(scratch: tuple[asyncpg.Connection, asyncpg.Connection]) -> None:
    conn, other = scratch

    async def n(session: asyncpg.Connection = conn) -> int:
        return int(await session.fetchval("SELECT n FROM report_version WHERE id = 1"))

    assert await n() == 0
    assert set(WATCHED) == {r["event_object_table"] for r in await conn.fetch(
        "SELECT DISTINCT event_object_table FROM information_schema.triggers WHERE trigger_schema = current_schema()"
        " AND action_statement LIKE '%bump_report_version%'")}
    for table, (insert, args, update) in WATCHED.items():
        if table.endswith("_level") and not await conn.fetchval("SELECT count(*) FROM submission"):
            await conn.execute(*(SUBMISSION[0], *SUBMISSION[1]))  # the levels refer to a submission
        steps = ((insert, args, "insert"), (update, (), "update"), (f"DELETE FROM {table}", (), "delete"), (insert, args, "insert again"),
                 (f"TRUNCATE {table} CASCADE", (), "truncate"))
        for statement, arguments, what in steps:
            before = await n()
            await conn.execute(statement, *arguments)
            assert await n() == before + 1, (table, what)

    # a statement that changes no row still moves it (a statement trigger): no write slips by unseen
    before = await n()
    await conn.execute("UPDATE action_state SET status = 'x' WHERE false")
    assert await n() == before + 1

    # once per transaction, however many statements and tables (a batch's executemany is a statement per row); another
    # session sees the new number only when the transaction commits, together with its data (unlike a sequence's nextval)
    before = await n()
    async with conn.transaction():
        await conn.executemany("INSERT INTO school_figure (school_unit, year, metric, value, event_time) VALUES ($1, 2031, $2, 1, $3)",
                               [(S, f"m{i}", NOW) for i in range(20)])
        await conn.execute(*(WATCHED["organisation"][0], *WATCHED["organisation"][1]))
        assert await n() == before + 1
        assert await n(other) == before and await other.fetchval("SELECT count(*) FROM school_figure") == 0
    assert await n(other) == before + 1 and await other.fetchval("SELECT count(*) FROM school_figure") == 20

    # a transaction rolled back leaves it as it was; a savepoint rolled back takes its bump back, so a later write bumps again
    before = await n()
    tx = conn.transaction()
    await tx.start()
    await conn.execute("DELETE FROM school_figure")
    await tx.rollback()
    assert await n() == before
    async with conn.transaction():
        try:
            async with conn.transaction():
                await conn.execute("DELETE FROM organisation")
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        assert await n() == before
        await conn.execute("DELETE FROM school_figure")
        assert await n() == before + 1
    assert await n() == before + 1

    # a session whose search path is elsewhere (an operator's) bumps the version of the schema it writes, and does not fail
    schema = await conn.fetchval("SELECT current_schema()")
    before = await n()
    await other.execute("SET search_path = public")
    await other.execute(f"INSERT INTO {schema}.school_figure (school_unit, year, metric, value, event_time) VALUES ($1, 2032, 'x', 1, $2)", S, NOW)
    assert await n() == before + 1

    # the tables the report does not read leave it alone
    before = await n()
    await conn.execute("INSERT INTO campaign (id, name, year, deadline, opened_at) VALUES ($1, 'c', 2030, $2, $3)", A, date(2030, 6, 1), NOW)
    await conn.execute("INSERT INTO indicator_alert (school_unit, year, code, below) VALUES ($1, 2030, 'c', true)", S)
    await conn.execute("INSERT INTO published_report (year, district, published_by) VALUES (2030, $1, 'x')", S)
    assert await n() == before

    # a rebuild's TRUNCATE of every read model at once (shared/operations.py): one bump, with its transaction
    before = await n()
    async with conn.transaction():
        await conn.execute("TRUNCATE TABLE " + ", ".join(SPEC.read_models) + ", inbox")
    assert await n() == before + 1
