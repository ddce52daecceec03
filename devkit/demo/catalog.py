"""The demo city's programbank, made through the catalog service's own HTTP API.

`make run` calls this after publishing the demo city: 66 fictional apps and learning resources
(devkit/demo/programbank.json; several with DPA problems: agreements that end within weeks, expired
ones, missing ones, transfers outside the EU/EEA without a safeguard, sensitive data without a DPIA),
licences for the demo schools (a few ending within the notice period), requests at different steps
of review, and a term of launch counts from the city's login portal. Like the assessment demo it
goes through the API (same checks, audit trail, events) and does nothing when the programbank is
already filled (a restart without --reset).
"""

from __future__ import annotations

import asyncio
import json
import random
import urllib.parse
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.auth import mint as _mint
from devkit.demo.client import DemoError, _call, _until, call

APPS_FILE = Path(__file__).with_name("programbank.json")
SEED = 2026


def app_bodies(today: date) -> list[dict[str, Any]]:
    """The demo apps as POST /apps bodies, with agreement dates relative to ``today``."""
    bodies = []
    for entry in json.loads(APPS_FILE.read_text(encoding="utf-8")):
        dp = dict(entry["dataProtection"])
        signed_ago, expires_in = dp.pop("dpaSignedDaysAgo"), dp.pop("dpaExpiresInDays")
        dp["dpaSigned"] = (today - timedelta(days=signed_ago)).isoformat() if signed_ago is not None else None
        dp["dpaExpires"] = (today + timedelta(days=expires_in)).isoformat() if expires_in is not None else None
        bodies.append({**entry, "dataProtection": dp})
    return bodies


def _teachers() -> dict[UUID, list[UUID]]:
    from devkit.demo.city import demo_city
    from shared.events.city import DutyAssigned, DutyRole

    out: dict[UUID, list[UUID]] = {}
    for envelope in demo_city(SEED):
        e = envelope.data
        if isinstance(e, DutyAssigned) and e.dutyRole in (DutyRole.LARARE, DutyRole.FORSKOLLARARE):
            out.setdefault(e.dutyAt, []).append(e.person)
    return out


async def seed(base_url: str, secret: str, bootstrap: str, *, today: date | None = None, issuer: str | None = None,
               audience: str | None = None) -> dict[str, Any]:
    """Fills the programbank; returns what it made (or that it found one)."""
    from devkit.demo.city import demo_ids

    def mint(*args: Any, **kwargs: Any) -> str:
        return _mint(*args, issuer=issuer, audience=audience, **kwargs)

    today = today or date.today()
    rng = random.Random(SEED)
    ids = demo_ids(SEED)
    schools: dict[str, UUID] = ids["school_units"]  # type: ignore[assignment]
    admin = mint(secret, subject="dev-city-admin", roles=["city_admin"], name="Utvecklare, stadsövergripande")
    dpo = mint(secret, subject="dev-dpo", roles=["data_protection"], name="Dataskyddsfunktionen")

    bodies = app_bodies(today)
    marker = bodies[0]["name"]  # the first demo app stands for all of them
    existing = await call("GET", f"{base_url}/apps?" + urllib.parse.urlencode({"q": marker, "limit": 100}), admin)
    if any(item["name"] == marker for item in existing["items"]):
        return {"apps": len(bodies), "created": False}

    teachers = _teachers()

    async def all_known() -> bool:
        for school_id in schools.values():
            status, _ = await _status_of("GET", f"{base_url}/school-units/{school_id}", admin)
            if status != 200:
                return False
        return True

    await _until(all_known, "the catalog to know the demo school units")

    apps: dict[str, dict[str, Any]] = {}
    for body in bodies:
        apps[body["name"]] = await call("POST", f"{base_url}/apps", admin, body)

    # licences: each licensed app at a share of the schools it suits, for this school year;
    # three end within the notice period so the licence notices have something to say
    school_types = {name: set((await call("GET", f"{base_url}/school-units/{sid}", admin))["schoolTypes"]) for name, sid in schools.items()}
    licensed = [a for a in apps.values() if not a["freeUse"] and a["status"]["allowsUse"]]
    school_year_end = date(today.year + (1 if today.month >= 7 else 0), 6, 30)
    licences = 0
    for i, app in enumerate(licensed):
        fitting = [name for name, types in school_types.items() if types & set(app["schoolTypes"])]
        chosen = rng.sample(fitting, k=max(1, int(len(fitting) * rng.uniform(0.3, 0.7)))) if fitting else []
        if not chosen:
            continue
        expires = today + timedelta(days=10 + 7 * i) if i < 3 else school_year_end
        kind = rng.choice(["school", "school", "group", "single"])
        body = {"appId": app["id"], "schoolUnitIds": [str(schools[n]) for n in chosen], "type": kind,
                "seats": None if kind == "school" else rng.choice([25, 30, 60, 120]), "groupName": "Årskurs 5" if kind == "group" else None,
                "starts": (today - timedelta(days=90)).isoformat(), "expires": expires.isoformat(), "note": f"Avrop {2026}-{100 + i}"}
        licences += len((await call("POST", f"{base_url}/licences", admin, body))["items"])

    requests = await _requests(base_url, secret, mint, admin, dpo, apps, schools, teachers, rng,
                               bodies={b["name"]: b for b in bodies}, school_types=school_types, today=today)
    launches = await _usage(bootstrap, apps, schools, school_types, today, rng)
    return {"apps": len(apps), "licences": licences, "requests": requests, "launchCounts": launches, "created": True}


async def _status_of(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    return await asyncio.to_thread(_call, method, url, token, body)


async def _requests(base_url: str, secret: str, mint: Any, admin: str, dpo: str, apps: dict[str, dict[str, Any]], schools: dict[str, UUID],
                    teachers: dict[UUID, list[UUID]], rng: random.Random, *, bodies: dict[str, dict[str, Any]],
                    school_types: dict[str, set[str]], today: date) -> int:
    """Requests at each step of review: waiting, acknowledged, asked for more, approved with conditions, rejected."""
    # apps the schools may not use yet: what teachers ask for
    under_review = [a for a in apps.values() if not a["status"]["allowsUse"] and not a["status"]["retires"]]
    # the approved one: an app for year 5 in grundskolan whose agreement the data-protection function signs first
    to_approve = next(a for a in under_review[3:] if "5" in a["grades"] and "GR" in a["schoolTypes"])
    plan = [
        (under_review[0], []),
        (under_review[1], [("acknowledge", None, None)]),
        (under_review[2], [("acknowledge", None, None), ("ask_info", "Hur många elever och vilka årskurser gäller det?", None)]),
        (to_approve, [("acknowledge", None, None), ("approve", None, "Endast med pseudonyma elevkonton; utvärderas efter en termin")]),
        (None, [("reject", "Leverantören lagrar elevdata utanför EU/EES utan skyddsåtgärder.", None)]),
    ]
    made = 0
    school_names = [n for n, sid in schools.items() if teachers.get(sid)]
    for i, (app, steps) in enumerate(plan):
        fitting = school_names if app is not to_approve else [n for n in school_names if "GR" in school_types.get(n, set())]
        name = fitting[(i * 7) % len(fitting)]
        school = schools[name]
        teacher = teachers[school][0]
        token = mint(secret, subject=str(teacher), roles=["teacher"], school_units=[str(school)], name="Lärare (demo)")
        body: dict[str, Any] = {"schoolUnitId": str(school), "purpose": "Vi vill använda appen i undervisningen för att variera arbetssätten.",
                                "grades": ["5"], "pupils": rng.choice([25, 50, 75])}
        if app is not None:
            body["appId"] = app["id"]
        else:
            body["newApp"] = {"name": "Klassrumsquiz Global", "supplier": "Quizworld Inc", "url": "https://quizworld.example"}
        async def submitted(token: str = token, body: dict[str, Any] = body) -> tuple[int, Any] | None:
            answer = await _status_of("POST", f"{base_url}/requests", token, body)
            return None if answer[0] == 403 else answer  # 403 until the teacher's duty has reached the catalog

        status, created = await _until(submitted, "the catalog to know the demo teachers' duties")
        if status == 409:
            continue  # already available or already asked for at that school
        if status != 201:
            raise DemoError(f"demo request answered {status}: {created}")
        for action, note, conditions in steps:
            reviewer = dpo if action in ("ask_info", "reject") else admin
            decision: dict[str, Any] = {"action": action, "note": note, "conditions": conditions}
            if action == "approve" and app is not None:
                # the same rules as a direct approval: the agreement signed first, then the approval with the school's licence
                dp: dict[str, Any] = {**bodies[app["name"]]["dataProtection"], "dpaStatus": "signed", "dpaSigned": (today - timedelta(days=20)).isoformat(),
                      "dpaExpires": (today + timedelta(days=730)).isoformat()}
                if dp.get("transferOutsideEea") or any(c not in ("SE", "FI", "DK", "NO", "IE", "DE", "NL") for c in dp.get("processingCountries", [])):
                    dp["transferSafeguard"] = dp.get("transferSafeguard") or "scc"
                if {"civic_no", "health_support"} & set(dp.get("dataCategories", [])):
                    dp["dpiaRef"] = dp.get("dpiaRef") or "DPIA-2026-07"
                await call("PUT", f"{base_url}/apps/{app['id']}/data-protection", dpo, dp)
                decision["licence"] = {"type": "school", "starts": today.isoformat(), "expires": (today + timedelta(days=365)).isoformat(),
                                       "note": "Avrop efter begäran"}
            await call("POST", f"{base_url}/requests/{created['id']}/actions", reviewer, decision)
        made += 1
    return made


async def _usage(bootstrap: str, apps: dict[str, dict[str, Any]], schools: dict[str, UUID], school_types: dict[str, set[str]],
                 today: date, rng: random.Random) -> int:
    """Launch counts per month for the apps the schools may use, as the city's login portal reports them (the demo sends
    whole months; an imported launch log sends days, connectors/imports/launches.py)."""
    from connectors.imports.launches import event_id
    from devkit.city_cli import publish_envelopes
    from shared.events.city import AppLaunchesCounted
    from shared.events.envelope import new_envelope

    envelopes = []
    month = date(today.year, today.month, 1)
    periods = []
    for _ in range(3):
        end = month - timedelta(days=1)
        month = date(end.year, end.month, 1)
        periods.append((month, end))
    usable = [a for a in apps.values() if a["status"]["allowsUse"]]
    for app in usable:
        popularity = rng.uniform(0.2, 1.0)
        for name, types in school_types.items():
            if not types & set(app["schoolTypes"]) or rng.random() > popularity:
                continue
            for start, end in periods:
                launches = int(rng.gauss(400 * popularity, 80))
                if launches > 0:
                    counted = AppLaunchesCounted(appId=app["id"], schoolUnitId=schools[name], periodStart=start, periodEnd=end,
                                                 launches=launches, activeUsers=max(1, launches // 12))
                    # the imports' content id (connectors/imports): loading the demo again is a no-op in every consumer
                    envelopes.append(new_envelope(counted, "city.login-portal", event_id=event_id(counted)))
    return await publish_envelopes(bootstrap, envelopes)
