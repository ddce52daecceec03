"""The demo city's contact details, given through the notification service's own HTTP API.

Contact details never travel by event (the city's events carry ids and protection markings only), so
`make run` gives the demo guardians fictional ones the way the city's systems would: `PUT /contacts`
in batches, as a city admin. Everything is made up and cannot reach anyone: e-mail at example.se,
mobile numbers in +46 70-1xx xx xx, push tokens ``demo-push-<n>``. The same seed gives the same
details every run. Most guardians have e-mail, about half the app (a push token), some a mobile, about
one in twenty nothing at all (they show up as unreached); about a fifth read English. Guardians with a
protection marking get details too: protection is about not being named to others, not about not
hearing from the school. Does nothing when the guardians already have contact details (a restart
without --reset).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any
from uuid import UUID

from shared.auth import mint
from devkit.demo.client import DemoError, _call, _until, call

SEED = 2026
BATCH = 5000  # PUT /contacts takes at most this many at once
NONE_SHARE = 0.05
EMAIL_SHARE = 0.85
PUSH_SHARE = 0.5
MOBILE_SHARE = 0.3
ENGLISH_SHARE = 0.2

# fictional names for fictional addresses (ASCII, as many mail systems still prefer)
FIRST = ("anna", "erik", "maria", "lars", "sara", "johan", "emma", "ali", "fatima", "karin", "mohammed", "lena", "oskar",
         "elin", "ahmed", "ida", "per", "sofia", "nils", "amira", "jonas", "hanna", "mikael", "leila", "david")
LAST = ("andersson", "johansson", "karlsson", "nilsson", "eriksson", "larsson", "olsson", "persson", "svensson", "gustafsson",
        "hassan", "lindberg", "lindqvist", "berg", "holm", "nguyen", "ekstrom", "sandberg", "yilmaz", "forsberg")


def guardians(seed: int = SEED) -> list[UUID]:
    """The demo city's guardians, in the order the city introduces them."""
    from devkit.demo.city import demo_city
    from shared.events.city import GuardianRelationAdded

    seen: dict[UUID, None] = {}
    for envelope in demo_city(seed):
        if isinstance(envelope.data, GuardianRelationAdded):
            seen.setdefault(envelope.data.guardian, None)
    return list(seen)


def contacts(persons: list[UUID], seed: int = SEED) -> list[dict[str, Any]]:
    """Fictional contact details for ``persons`` (PUT /contacts items), the same every time."""
    rng = random.Random(seed)
    items = []
    for n, person in enumerate(persons, start=1):
        item: dict[str, Any] = {"personId": str(person), "language": "en" if rng.random() < ENGLISH_SHARE else "sv"}
        if rng.random() >= NONE_SHARE:
            email, push, mobile = rng.random() < EMAIL_SHARE, rng.random() < PUSH_SHARE, rng.random() < MOBILE_SHARE
            if not (email or push or mobile):
                email = True
            if email:
                item["email"] = f"{rng.choice(FIRST)}.{rng.choice(LAST)}.{n}@example.se"
            if mobile:
                item["mobile"] = f"+46701{n:06d}"
            if push:
                item["pushToken"] = f"demo-push-{n}"
        items.append(item)
    return items


async def seed(base_url: str, secret: str, *, issuer: str | None = None, audience: str | None = None) -> dict[str, Any]:
    """Gives the demo guardians contact details; returns the counts (or that they had them already)."""
    from devkit.demo.city import demo_ids

    admin = mint(secret, subject="dev-city-admin", roles=["city_admin"], name="Utvecklare, stadsövergripande", issuer=issuer, audience=audience)
    schools = [str(s) for s in demo_ids(SEED)["school_units"].values()]  # type: ignore[union-attr]
    persons = guardians()
    everyone = {"kind": "guardians", "schoolUnitIds": schools}

    async def reach() -> dict[str, Any] | None:
        # 422 until notification knows the demo school units; then wait for every guardian, unless
        # some already have details (an earlier run: then how many the city has now does not matter)
        status, body = await asyncio.to_thread(_call, "POST", f"{base_url}/broadcasts/audience", admin, everyone)
        if status == 422:
            return None
        if status != 200:
            raise DemoError(f"POST {base_url}/broadcasts/audience answered {status}: {body}")
        reached = body["withContact"]["email"] + body["withContact"]["sms"] + body["withContact"]["push"]
        return body if reached or body["recipients"] >= len(persons) else None

    found = await _until(reach, "the notification service to know the demo guardians")
    if found["recipients"] > found["withContact"]["none"]:
        return {"guardians": found["recipients"], **found["withContact"], "created": False}

    items = contacts(persons)
    for start in range(0, len(items), BATCH):
        batch = {"items": items[start:start + BATCH]}

        async def stored(batch: dict[str, Any] = batch) -> bool:
            status, body = await asyncio.to_thread(_call, "PUT", f"{base_url}/contacts", admin, batch)
            if status == 422 and "not known" in str(body):  # a guardian's person event not consumed yet (all or nothing)
                return False
            if status != 200:
                raise DemoError(f"PUT {base_url}/contacts answered {status}: {body}")
            return True

        await _until(stored, "the notification service to know the demo guardians' person records")
    made = await call("POST", f"{base_url}/broadcasts/audience", admin, everyone)
    return {"guardians": len(items), "email": sum("email" in i for i in items), "sms": sum("mobile" in i for i in items),
            "push": sum("pushToken" in i for i in items), "none": made["withContact"]["none"],
            "english": sum(i["language"] == "en" for i in items), "created": True}
