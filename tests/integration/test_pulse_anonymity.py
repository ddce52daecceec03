"""The anonymous pulse stays anonymous (issue 20, docs/decisions/0016) over HTTP with the real service:
single-use invitations (a second answer with one is refused, even when both race), and published figures
that the differencing attack (answer, read, answer once more, read again, 6·new − 5·old) cannot open."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.assessment.framework import published
from shared.events.assessment import AssessmentSubmitted
from shared.events.city import DutyAssigned, OrganisationUpserted, PersonUpserted
from tests.support.city import school_unit
from tests.support.kafka import EventLog, eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
THIS_YEAR = date.today().year
HEADINGS = ("infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning")


class School:
    """An upper-secondary school (staff and pupils answer) with its Rektor, in a district of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.district, self.id, self.rektor_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def rektor(self) -> dict[str, str]:
        return auth("principal", subject=str(self.rektor_id), school_units=(str(self.id),))

    def teacher(self) -> dict[str, str]:
        return auth("teacher", school_units=(str(self.id),))

    def district_admin(self) -> dict[str, str]:
        return auth("district_admin", districts=(str(self.district),))


async def make_school(stack: Stack) -> School:
    s = School(stack.services["assessment"].url)
    await send(stack.bootstrap, [wire(e) for e in (
        OrganisationUpserted(id=s.district, displayName="Område Puls", organisationType="Verksamhetsområde"),
        school_unit(s.id, s.district, name=f"Pulsgymnasiet {str(s.id)[:4]}", types=("GY",)),
        PersonUpserted(id=s.rektor_id, givenName="Rektor", familyName="Puls"),
        DutyAssigned(id=uuid.uuid4(), person=s.rektor_id, dutyAt=s.id, dutyRole="Rektor"),
    )])
    conn = await asyncpg.connect(stack.admin_url)
    try:
        async def replicated() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM assessment.duty WHERE person = $1", s.rektor_id))

        await eventually(replicated, what="the school and its Rektor in assessment")
    finally:
        await conn.close()
    return s


async def open_round(http: httpx.AsyncClient, s: School) -> dict[str, Any]:
    body = {"name": f"Puls {uuid.uuid4().hex[:6]}", "year": THIS_YEAR, "deadline": f"{THIS_YEAR + 1}-03-31", "schoolUnitIds": [str(s.id)]}
    campaign = await http.post(f"{s.url}/campaigns", json=body, headers=auth("city_admin"))
    assert campaign.status_code == 201, campaign.text
    r = await http.get(f"{s.url}/campaigns/{campaign.json()['id']}/school-units/{s.id}/assessment", headers=s.rektor())
    assert r.status_code == 200, r.text
    return r.json()


async def issue(http: httpx.AsyncClient, s: School, a: dict[str, Any], group: str, count: int) -> list[str]:
    r = await http.post(f"{s.url}/assessments/{a['id']}/pulse/invitations", json={"group": group, "count": count}, headers=s.rektor())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["group"] == group and len(body["codes"]) == count and body["path"] == "/pulse/{code}"
    return body["codes"]


async def answer(http: httpx.AsyncClient, s: School, code: str, answers: dict[str, int]) -> httpx.Response:
    return await http.post(f"{s.url}/pulse/{code}", json={"answers": answers})


async def published_figures(http: httpx.AsyncClient, s: School, a: dict[str, Any], group: str = "staff") -> dict[str, tuple[int | None, float | None]]:
    """What a reader of the results sees: per heading (respondents, mean)."""
    r = await http.get(f"{s.url}/assessments/{a['id']}/pulse", headers=s.rektor())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["releaseStep"] >= 5 and body["minimumGroupSize"] == 5
    found = next(g for g in body["groups"] if g["group"] == group)
    return {h["heading"]["code"]: (h["respondents"], h["mean"]) for h in found["headings"]}


def recovered(old: tuple[int | None, float | None], new: tuple[int | None, float | None]) -> float | None:
    """The attack: with n answers before and n + 1 after, n_new·new − n_old·old is the newcomer's answer. The attacker
    assumes exactly one answer arrived in between (they watched for it), so uses n_old + 1 if the count did not move."""
    (n_old, m_old), (_, m_new) = old, new
    if n_old is None or m_old is None or m_new is None:
        return None
    return round((n_old + 1) * m_new - n_old * m_old, 2)


async def test_the_differencing_attack_recovers_no_answer(stack: Stack) -> None:
    s = await make_school(stack)
    async with httpx.AsyncClient(timeout=15) as http:
        a = await open_round(http, s)
        codes = await issue(http, s, a, "staff", 20)
        assert len(set(codes)) == 20

        # five colleagues answer: 2 everywhere except one 1 and one 3, so each heading's mean is 2.0
        for code, level in zip(codes[:5], (2, 2, 1, 3, 2), strict=True):
            assert (await answer(http, s, code, {h: level for h in HEADINGS})).status_code == 202
        old = await published_figures(http, s, a)
        assert all(old[h] == (5, 2.0) for h in HEADINGS), old

        # the victim answers 5 everywhere; the attacker reads again and computes 6·new − 5·old
        victim = {h: 5 for h in HEADINGS}
        assert (await answer(http, s, codes[5], victim)).status_code == 202
        new = await published_figures(http, s, a)
        assert new == old  # nothing published moved: one answer is never released on its own
        for h in HEADINGS:
            guess = recovered(old[h], new[h])
            assert guess != victim[h], (h, guess)
            assert guess == 2.0  # what the attack computes is the old mean, not the answer
        results = (await http.get(f"{s.url}/assessments/{a['id']}/pulse", headers=s.rektor())).json()
        staff = next(g for g in results["groups"] if g["group"] == "staff")
        assert (staff["respondents"], staff["answered"], staff["awaitingRelease"], staff["invited"]) == (5, 6, 1, 20)

        # once four more have answered (five since the release) the figures move, by a group of five
        for code, level in zip(codes[6:10], (1, 2, 2, 1), strict=True):
            assert (await answer(http, s, code, {h: level for h in HEADINGS})).status_code == 202
        ten = await published_figures(http, s, a)
        assert all(ten[h] == (10, 2.1) for h in HEADINGS), ten
        for h in HEADINGS:
            n_old, m_old = old[h]
            n_new, m_new = ten[h]
            assert n_old is not None and m_old is not None and n_new is not None and m_new is not None
            step = round((n_new * m_new - n_old * m_old) / (n_new - n_old), 2)
            assert step == 2.2 != victim[h]  # the mean of the five newest answers (5, 1, 2, 2, 1), not any one of them
            assert recovered(old[h], ten[h]) != victim[h]

        # a heading left out by most: the group's step is reached, but follow-up has one new answer and stays put
        assert (await answer(http, s, codes[10], {"infrastruktur": 4, "uppfoljning": 5})).status_code == 202
        for code in codes[11:15]:
            assert (await answer(http, s, code, {"infrastruktur": 4})).status_code == 202
        skipped = await published_figures(http, s, a)
        assert skipped["infrastruktur"] == (15, 2.73) and skipped["uppfoljning"] == ten["uppfoljning"] == (10, 2.1)
        assert recovered(ten["uppfoljning"], skipped["uppfoljning"]) != 5

        # the submission carries the released figures only: what reporting publishes cannot be differenced either
        log = await EventLog(stack.bootstrap, "skolit.assessment").start()
        try:
            framework = published()[a["frameworkVersion"]]
            full = [{"indicatorId": i, "notRelevant": True} if framework.by_id[i].allowNotRelevant else {"indicatorId": i, "level": 3}
                    for i in a["indicators"]]
            assert (await http.put(f"{s.url}/assessments/{a['id']}/answers", json={"answers": full}, headers=s.rektor())).status_code == 200
            assert (await http.post(f"{s.url}/assessments/{a['id']}/submit", headers=s.rektor())).status_code == 200
            event = await log.wait_for(AssessmentSubmitted, lambda e: str(e.assessmentId) == a["id"])
        finally:
            await log.stop()
        staff_event = next(p for p in event.pulse if p.group == "staff")
        assert staff_event.respondents == 15
        assert {h.heading: h.mean for h in staff_event.headings}["uppfoljning"] == 2.1


async def test_an_invitation_answers_once(stack: Stack) -> None:
    s = await make_school(stack)
    async with httpx.AsyncClient(timeout=15) as http:
        a = await open_round(http, s)
        first, racing, pupil = [*await issue(http, s, a, "staff", 2), *await issue(http, s, a, "pupils", 1)]

        assert (await answer(http, s, first, {"infrastruktur": 3})).status_code == 202
        again = await answer(http, s, first, {"infrastruktur": 1})
        assert again.status_code == 409 and again.json()["field"] == "code", again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        shown = (await http.get(f"{s.url}/pulse/{first}")).json()
        assert shown["used"] and not shown["open"]

        # two answers with one code at the same moment: one counts, the other is refused
        both = await asyncio.gather(answer(http, s, racing, {"infrastruktur": 4}), answer(http, s, racing, {"infrastruktur": 4}))
        assert sorted(r.status_code for r in both) == [202, 409], [r.text for r in both]

        # an invitation answers for its own group only
        wrong = await http.post(f"{s.url}/pulse/{pupil}", json={"group": "staff", "answers": {"infrastruktur": 2}})
        assert wrong.status_code == 422 and wrong.json()["field"] == "group"
        assert (await http.get(f"{s.url}/pulse/{pupil}")).json()["group"] == "pupils"

        results = (await http.get(f"{s.url}/assessments/{a['id']}/pulse", headers=s.district_admin())).json()
        counts = {g["group"]: (g["invited"], g["answered"]) for g in results["groups"]}
        assert counts == {"staff": (2, 2), "pupils": (1, 0)}  # three answers tried with two staff codes: two counted

        conn = await asyncpg.connect(stack.admin_url)
        try:
            respondents = await conn.fetchval("SELECT respondents FROM assessment.pulse_respondents WHERE school_unit = $1 AND grp = 'staff'", s.id)
            stored = await conn.fetch("SELECT code_hash FROM assessment.pulse_invitation WHERE school_unit = $1", s.id)
        finally:
            await conn.close()
        assert respondents == 2
        assert len(stored) == 3 and not {r["code_hash"] for r in stored} & {first, racing, pupil}  # only hashes are kept


async def test_only_the_rektor_issues_and_only_leaders_read(stack: Stack) -> None:
    s = await make_school(stack)
    async with httpx.AsyncClient(timeout=15) as http:
        a = await open_round(http, s)
        path = f"{s.url}/assessments/{a['id']}/pulse/invitations"
        for headers in (s.teacher(), s.district_admin(), auth("city_admin"), auth("principal", subject=str(uuid.uuid4()), school_units=(str(s.id),))):
            r = await http.post(path, json={"group": "staff", "count": 3}, headers=headers)
            assert r.status_code == 403, (headers, r.text)
        too_many = await http.post(path, json={"group": "staff", "count": 1001}, headers=s.rektor())
        assert too_many.status_code == 422 and too_many.json()["field"] == "body.count"
        none = await http.post(path, json={"group": "staff", "count": 0}, headers=s.rektor())
        assert none.status_code == 422 and none.json()["field"] == "body.count"

        results = f"{s.url}/assessments/{a['id']}/pulse"
        assert (await http.get(results, headers=s.teacher())).status_code == 403
        for headers in (s.rektor(), s.district_admin(), auth("city_admin")):
            assert (await http.get(results, headers=headers)).status_code == 200
        assert (await http.get(results, headers=auth("district_admin", districts=(str(uuid.uuid4()),)))).status_code == 403
