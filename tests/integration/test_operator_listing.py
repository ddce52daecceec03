"""Dead letters and parked outbox rows an operator can see — on the command line and over HTTP for city
admins — with reason, type, time and coordinates, and never the personal data a record may carry."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any

import asyncpg
import httpx

from shared.http.pages import encode_cursor
import pytest

from shared.events.city import SchoolFiguresReported
from shared.events.envelope import WireMessage
from shared.topics import CITY_FIGURES
from tests.support.kafka import eventually, send, wire
from tests.support.stack import ROOT, Stack, auth

pytestmark = pytest.mark.integration

# Stands for what a sender may put in a record (a name, a note): unique, so the listing can be searched for it. Not shaped
# like a personnummer or an address, since test_topic_scan.py checks every topic of the same broker for those.
MARKER = f"Tolvan Tolvansson {uuid.uuid4().hex[:12]}"


def poison(marker: str) -> tuple[WireMessage, str]:
    """A figures event whose body is not JSON, with the marker in its body, its key and a header that is not a CloudEvents one."""
    good = wire(SchoolFiguresReported(schoolUnitId=uuid.uuid4(), year=2030, figures={"pupils": 1.0}))
    ce_id = str(uuid.uuid4())
    headers = [(k, ce_id.encode() if k == "ce_id" else v) for k, v in good.headers] + [("x-contact", marker.encode())]
    return WireMessage(good.topic, marker.encode(), headers, b"{not json, about " + marker.encode() + b"}"), ce_id


async def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m services.reporting ...`` as an operator runs it, with the service's environment."""
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "services.reporting", *args], cwd=ROOT,
                                   env=stack.env_for("reporting"), capture_output=True, text=True, timeout=120)


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def test_dead_letters_are_listed_without_their_personal_data(stack: Stack) -> None:
    letters = [poison(MARKER), poison(MARKER)]
    await send(stack.bootstrap, [m for m, _ in letters])
    ce_ids = [ce_id for _, ce_id in letters]
    conn = await asyncpg.connect(stack.admin_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT count(*) = 2 FROM reporting.inbox WHERE event_id = ANY($1::text[]) AND outcome = 'dead-lettered'",
                                               ce_ids), what="reporting dead-lettered both records")
        offsets = {r["event_id"]: (r["partition"], r["offset"])
                   for r in await conn.fetch('SELECT event_id, partition, "offset" FROM reporting.inbox WHERE event_id = ANY($1::text[])', ce_ids)}
    finally:
        await conn.close()

    # (a) the command line, as JSON lines and as a table
    run = await cli(stack, "dead-letters", "--json", "--limit", "500")
    assert run.returncode == 0, run.stderr
    assert MARKER not in run.stdout and MARKER not in run.stderr
    listed = {d["ceId"]: d for d in json_lines(run.stdout) if d["ceId"] in ce_ids}
    assert set(listed) == set(ce_ids), run.stdout[-2000:]
    for ce_id, d in listed.items():
        assert d["topic"] == CITY_FIGURES.dlq and d["originalTopic"] == CITY_FIGURES.name
        assert (d["originalPartition"], d["originalOffset"]) == offsets[ce_id]
        assert d["ceType"] == SchoolFiguresReported.TYPE
        assert "body is not JSON" in d["reason"] and d["errorClass"] == "UndecodableMessage"
        assert d["bodyBytes"] == len(b"{not json, about " + MARKER.encode() + b"}") and d["bounded"] is False
        assert d["deadLetteredAt"] and isinstance(d["published"], bool)
        assert set(d) == {"seq", "id", "topic", "originalTopic", "originalPartition", "originalOffset", "ceType", "ceId", "reason",
                          "errorClass", "deadLetteredAt", "published", "publishedAt", "bodyBytes", "bounded"}
    newest_first = [d["seq"] for d in json_lines(run.stdout)]
    assert newest_first == sorted(newest_first, reverse=True)
    table = await cli(stack, "dead-letters", "--limit", "500")
    assert table.returncode == 0, table.stderr
    assert all(ce_id in table.stdout for ce_id in ce_ids) and "body is not JSON" in table.stdout
    assert MARKER not in table.stdout and MARKER not in table.stderr
    only = json_lines((await cli(stack, "dead-letters", "--json", "--topic", CITY_FIGURES.name)).stdout)
    assert only and {d["topic"] for d in only} == {CITY_FIGURES.dlq}

    # (b) over HTTP, for city admins only
    url = stack.services["reporting"].url + "/operations/dead-letters"
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.get(url, params={"limit": 500}, headers=auth("city_admin"))
        assert r.status_code == 200, r.text
        assert MARKER not in r.text
        items = {d["ceId"]: d for d in r.json()["items"] if d["ceId"] in ce_ids}
        same = ("seq", "id", "topic", "originalTopic", "originalPartition", "originalOffset", "ceType", "reason", "errorClass", "bodyBytes", "bounded")
        assert {k: [v[f] for f in same] for k, v in items.items()} == {k: [v[f] for f in same] for k, v in listed.items()}
        # newest first, page by page with the cursor (docs/api.md), until every letter was seen once
        seen: list[int] = []
        cursor: str | None = None
        for _ in range(1000):
            page = await http.get(url, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=auth("city_admin"))
            assert page.status_code == 200, page.text
            body = page.json()
            seen += [d["seq"] for d in body["items"]]
            cursor = body["next"]
            if cursor is None:
                break
        assert seen == sorted(set(seen), reverse=True) and {d["seq"] for d in listed.values()} <= set(seen)

        teacher = await http.get(url, headers=auth("teacher", school_units=(str(uuid.uuid4()),)))
        assert teacher.status_code == 403 and teacher.headers["content-type"].startswith("application/problem+json")
        anonymous = await http.get(url)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
        assert MARKER not in teacher.text + anonymous.text
        for params in ({"limit": 0}, {"limit": 501}, {"limit": "many"}, {"cursor": "not-ours"}, {"cursor": encode_cursor(5)}):
            bad = await http.get(url, params=params, headers=auth("city_admin"))
            assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json"), (params, bad.text)
            assert next(iter(params)) in bad.json()["detail"], bad.text


async def test_parked_rows_are_listed_retried_and_discarded(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.admin_url)
    try:
        seq = await conn.fetchval(
            "INSERT INTO reporting.outbox (id, topic, key, headers, payload, event_type)"
            " VALUES (gen_random_uuid(), 'skolit.nowhere', $1, '[]'::jsonb, $2, 'se.skolit.test.nowhere.v1') RETURNING seq",
            MARKER.encode(), json.dumps({"name": MARKER}).encode())

        async def parked() -> bool:
            return bool(await conn.fetchval("SELECT parked_at IS NOT NULL FROM reporting.outbox WHERE seq = $1", seq))

        await eventually(parked, what="the relay parked the row for an undeclared topic")

        # (c) the command line lists it with its reason, never its body or key
        run = await cli(stack, "outbox", "list", "--json")
        assert run.returncode == 0, run.stderr
        assert MARKER not in run.stdout + run.stderr
        [row] = [r for r in json_lines(run.stdout) if r["seq"] == seq]
        assert row["topic"] == "skolit.nowhere" and row["eventType"] == "se.skolit.test.nowhere.v1"
        assert "is not one Skolit declares" in row["reason"] and row["discardedAt"] is None
        assert row["payloadBytes"] == len(json.dumps({"name": MARKER}).encode()) and row["keyBytes"] == len(MARKER.encode())
        table = await cli(stack, "outbox", "list")
        assert table.returncode == 0 and "skolit.nowhere" in table.stdout and MARKER not in table.stdout + table.stderr

        # and over HTTP, for city admins
        url = stack.services["reporting"].url + "/operations/outbox/parked"
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.get(url, headers=auth("city_admin"))
            assert r.status_code == 200 and MARKER not in r.text, r.text
            [item] = [i for i in r.json()["items"] if i["seq"] == seq]
            assert "is not one Skolit declares" in item["reason"] and r.json()["total"] >= 1
            assert (await http.get(url, headers=auth("teacher"))).status_code == 403
            assert (await http.get(url)).status_code == 401
            assert (await http.get(url, params={"limit": 501}, headers=auth("city_admin"))).status_code == 422

            # retried, the relay parks it again (nothing was fixed), saying why
            retried = await cli(stack, "outbox", "retry", "--seq", str(seq))
            assert retried.returncode == 0 and "1 parked row(s) back in line" in retried.stdout, retried.stdout + retried.stderr
            await eventually(parked, what="the retried row parked again")

            # a discard needs a note; discarded, the row leaves the default listing and stays in the record
            assert (await cli(stack, "outbox", "discard", "--seq", str(seq))).returncode == 2
            discarded = await cli(stack, "outbox", "discard", "--seq", str(seq), "--note", "test")
            assert discarded.returncode == 0 and "1 parked row(s) discarded" in discarded.stdout, discarded.stdout + discarded.stderr
            assert seq not in [r["seq"] for r in json_lines((await cli(stack, "outbox", "list", "--json")).stdout)]
            kept = [r for r in json_lines((await cli(stack, "outbox", "list", "--json", "--include-discarded")).stdout) if r["seq"] == seq]
            assert kept and kept[0]["discardNote"] == "test" and kept[0]["discardedAt"]
            assert seq not in [i["seq"] for i in (await http.get(url, headers=auth("city_admin"))).json()["items"]]
            again = await cli(stack, "outbox", "discard", "--seq", str(seq), "--note", "test")
            assert again.returncode == 1 and "0 parked row(s)" in again.stdout
        assert await conn.fetchval("SELECT published_at IS NULL AND discarded_at IS NOT NULL FROM reporting.outbox WHERE seq = $1", seq)
    finally:
        # never leave the row parked for later tests (readiness would say degraded)
        await conn.execute("UPDATE reporting.outbox SET discarded_at = coalesce(discarded_at, now()), discard_note = coalesce(discard_note, 'test cleanup')"
                           " WHERE topic = 'skolit.nowhere' AND published_at IS NULL")
        await conn.close()
