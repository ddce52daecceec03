"""The demo city's self-assessment round, made through the assessment service's own HTTP API.

`make run` calls this after publishing the demo city, so a newcomer finds an open round for all 36
school units, four submitted assessments (one with a staff and pupil pulse), their action plans,
and one draft in progress. It goes through the API like any client would - the same checks, audit
trail and events - and does nothing when the round already exists (a restart without --reset).
"""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta
from typing import Any

from shared.auth import mint as _mint
from devkit.demo.client import DemoError, _call, _until, call

ROUND_NAME = "Självskattning {year} (demo)"
# Enough submitted schools per district for district figures; Söderort (district 3) has only two, so
# the reports show a suppressed district and its complementary suppression.
SUBMITTED = ("Engelbrektsskolan", "Södra Latins gymnasium", "Förskolan Blackeberg", "Farsta grundskola",
             "Adolf Fredriks skola", "Östermalms gymnasium", "Förskolan Vasaparken",
             "Katarina Södra skola", "Sofia skola", "Högalidsskolan",
             "Bromma skola", "Spånga grundskola", "Enskede skola")
DRAFT = "Matteusskolan"
WITH_PULSE = "Södra Latins gymnasium"


def _answers(framework: dict[str, Any], rng: random.Random, strength: float) -> list[dict[str, Any]]:
    """Plausible answers: each school has a general strength, and infrastructure tends to be ahead."""
    out = []
    for heading in framework["headings"]:
        lift = 0.6 if heading["id"] == "infrastruktur" else 0.0
        for indicator in heading["indicators"]:
            if indicator["allowNotRelevant"] and rng.random() < 0.25:
                out.append({"indicatorId": indicator["id"], "notRelevant": True})
                continue
            level = max(1, min(5, round(rng.gauss(strength + lift, 0.8))))
            answer: dict[str, Any] = {"indicatorId": indicator["id"], "level": level}
            if rng.random() < 0.3:
                answer["comment"] = f"{indicator['title']}: {indicator['levels'][level - 1]['description']}"
            out.append(answer)
    return out


async def seed(base_url: str, secret: str, *, today: date | None = None, issuer: str | None = None, audience: str | None = None) -> dict[str, Any]:
    """Opens the demo round and fills it; returns what it made (or what it found)."""
    from devkit.demo.city import demo_ids

    def mint(*args: Any, **kwargs: Any) -> str:
        return _mint(*args, issuer=issuer, audience=audience, **kwargs)

    today = today or date.today()
    ids = demo_ids()
    schools: dict[str, Any] = ids["school_units"]  # type: ignore[assignment]
    rektors: dict[str, Any] = ids["rektors"]  # type: ignore[assignment]
    admin = mint(secret, subject="dev-city-admin", roles=["city_admin"], name="Utvecklare, stadsövergripande")
    name = ROUND_NAME.format(year=today.year)

    existing = await call("GET", f"{base_url}/campaigns", admin)
    found = next((c for c in existing["items"] if c["name"] == name), None)
    if found is not None:
        return {"campaign": found["id"], "created": False}

    async def all_known() -> bool:
        for school_id in schools.values():
            status, _ = await asyncio.to_thread(_call, "GET", f"{base_url}/school-units/{school_id}", admin)
            if status != 200:
                return False
        return True

    await _until(all_known, "the demo school units in the assessment service")
    campaign = await call("POST", f"{base_url}/campaigns", admin, {
        "name": name, "year": today.year, "deadline": (today + timedelta(days=90)).isoformat(),
        "schoolUnitIds": [str(s) for s in schools.values()],
    })

    async def assessment_of(school: str, token: str) -> dict[str, Any]:
        return await call("GET", f"{base_url}/campaigns/{campaign['id']}/school-units/{schools[school]}/assessment", token)

    def rektor_token(school: str) -> str:
        return mint(secret, subject=str(rektors[school]), roles=["principal"], school_units=[str(schools[school])], name=f"Rektor, {school}")

    async def save(assessment: dict[str, Any], token: str, answers: list[dict[str, Any]]) -> None:
        # the Rektor's duty may still be on its way from the city's topics: retry while it is refused
        async def saved() -> bool:
            status, _ = await asyncio.to_thread(_call, "PUT", f"{base_url}/assessments/{assessment['id']}/answers", token, {"answers": answers})
            if status not in (200, 403):
                raise DemoError(f"saving demo answers answered {status}")
            return status == 200

        await _until(saved, "the Rektor duties in the assessment service")

    rng = random.Random(2026)
    made: list[str] = []
    for i, school in enumerate(SUBMITTED):
        token = rektor_token(school)
        assessment = await assessment_of(school, token)
        types = ",".join(assessment["schoolUnit"]["schoolTypes"])
        framework = await call("GET", f"{base_url}/frameworks/{assessment['frameworkVersion']}?lang=sv&schoolTypes={types}", token)
        await save(assessment, token, _answers(framework, rng, strength=2.2 + 0.5 * i))
        if school == WITH_PULSE:
            # the Rektor issues single-use invitations per group (docs/decisions/0016); staff and pupils answer one each.
            # Ten answers make two releases of five: the results show all ten.
            for group, n in (("staff", 10), ("pupils", 10)):
                issued = await call("POST", f"{base_url}{assessment['pulse']['invitations']}", token, {"group": group, "count": n + 2})
                for code in issued["codes"][:n]:
                    await call("POST", f"{base_url}/pulse/{code}", None,
                               {"answers": {h["id"]: max(1, min(5, round(rng.gauss(2.6, 0.9)))) for h in framework["headings"]}})
        await call("POST", f"{base_url}/assessments/{assessment['id']}/submit", token)
        guidance = await call("GET", f"{base_url}/assessments/{assessment['id']}/guidance?lang=sv", token)
        steps = [(h["heading"]["code"], s) for h in guidance["headings"] for s in h["suggestedActions"][:1]]
        for heading, step in sorted(steps, key=lambda p: p[1]["currentLevel"])[:2]:
            await call("POST", f"{base_url}/school-units/{schools[school]}/actions", token, {
                "heading": heading, "indicatorId": step["indicatorId"], "title": step["action"][:300], "owner": "Rektor med ledningsgrupp",
                "deadline": (today + timedelta(days=240)).isoformat(), "successCriterion": f"{step['title']}: nästa nivå uppnådd vid nästa självskattning",
                "assessmentId": assessment["id"],
            })
        made.append(school)

    token = rektor_token(DRAFT)
    draft = await assessment_of(DRAFT, token)
    types = ",".join(draft["schoolUnit"]["schoolTypes"])
    framework = await call("GET", f"{base_url}/frameworks/{draft['frameworkVersion']}?lang=sv&schoolTypes={types}", token)
    await save(draft, token, _answers(framework, rng, strength=3.0)[:12])
    return {"campaign": campaign["id"], "created": True, "submitted": made, "draft": DRAFT,
            "rektorToken": (DRAFT, token)}
