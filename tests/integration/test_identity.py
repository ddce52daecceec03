"""Identity from the city's OpenID provider, authority from the city's data, over the live services
(docs/decisions/0014): people sign in with the stack's provider (devkit/oidc, a real authorization code flow) and
the services decide their roles from the duties and relations the city publishes — so a Rektor is principal of
their school only, and an ended duty takes the role away. A token signed by anyone but the provider is refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.events.city import DutyEnded
from tests.support.kafka import eventually, send, wire
from tests.support.matrix import World, publish_world
from tests.support.oidc import OidcProvider, User
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def provider(stack: Stack) -> OidcProvider:
    assert stack.oidc is not None, "the stack starts the OpenID provider"
    return stack.oidc


async def test_a_rektor_is_principal_of_that_school_only_until_the_duty_ends(stack: Stack) -> None:
    world = World()
    own, other = world.sides
    async with httpx.AsyncClient(timeout=30) as http:
        await publish_world(stack, http, world)
        rektor = own.auth("principal")
        issued = jwt.decode(own.tokens["principal"], options={"verify_signature": False})
        assert issued["sub"] == str(own.rektor) and "roles" not in issued  # who, not what: the token names the person only
        a, c = stack.services["assessment"].url, stack.services["catalog"].url

        # principal of the own school: reads and writes its action plan, asks for an app for it
        assert (await http.get(f"{a}/school-units/{own.school}/action-plan", headers=rektor)).status_code == 200
        action = await http.post(f"{a}/school-units/{own.school}/actions", headers=rektor,
                                 json={"heading": "uppfoljning", "title": "Årshjul", "owner": "Rektor", "successCriterion": "Beslutat"})
        assert action.status_code == 201, action.text
        asked = await http.post(f"{c}/requests", headers=rektor,
                                json={"schoolUnitId": str(own.school), "newApp": {"name": f"Önskan {uuid.uuid4().hex[:8]}"}, "purpose": "Läsning"})
        assert asked.status_code == 201, asked.text
        # ... and of no other school, in every service
        assert (await http.get(f"{a}/school-units/{other.school}/action-plan", headers=rektor)).status_code == 403
        assert (await http.post(f"{c}/requests", headers=rektor, json={"schoolUnitId": str(other.school), "newApp": {"name": "X"},
                                                                        "purpose": "Läsning"})).status_code == 403
        for svc in stack.services.values():
            assert (await http.get(f"{svc.url}/school-units/{own.school}", headers=rektor)).status_code == 200, svc.name
            assert (await http.get(f"{svc.url}/school-units/{other.school}", headers=rektor)).status_code == 403, svc.name
            listed = (await http.get(f"{svc.url}/school-units", headers=rektor)).json()["items"]
            assert [u["id"] for u in listed] == [str(own.school)], (svc.name, listed)

        # the city ends the duty: within the cache time of each service applying it, the same token is nobody's principal
        held = await _duty_id(stack, own.rektor, own.school)  # the duty the services hold (events() makes new ids per call)
        assert held is not None
        await send(stack.bootstrap, [wire(DutyEnded(id=held, person=own.rektor, dutyAt=own.school, endDate=date.today()))])

        async def lost_everywhere() -> bool:
            for svc in stack.services.values():
                if (await http.get(f"{svc.url}/school-units/{own.school}", headers=rektor)).status_code != 403:
                    return False
            return (await http.get(f"{a}/school-units/{own.school}/action-plan", headers=rektor)).status_code == 403

        await eventually(lost_everywhere, timeout=60, what="the ended Rektor duty taking the role away in every service")
        r = await http.post(f"{a}/school-units/{own.school}/actions", headers=rektor,
                            json={"heading": "uppfoljning", "title": "För sent", "owner": "Rektor", "successCriterion": "Nej"})
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
        # the teacher of the same school is untouched
        assert (await http.get(f"{a}/school-units/{own.school}/action-plan", headers=own.auth("teacher"))).status_code == 200


async def _duty_id(stack: Stack, person: uuid.UUID, school: uuid.UUID) -> uuid.UUID | None:
    conn = await asyncpg.connect(stack.admin_url)
    try:
        return await conn.fetchval("SELECT id FROM assessment.duty WHERE person = $1 AND duty_at = $2 AND active", person, school)
    finally:
        await conn.close()


async def test_guardians_district_admins_and_people_without_a_role(stack: Stack) -> None:
    world = World()
    own, other = world.sides
    async with httpx.AsyncClient(timeout=30) as http:
        await publish_world(stack, http, world)
        n, a = stack.services["notification"].url, stack.services["assessment"].url
        # a guardian by the relation: their own inbox, not someone else's, and no staff endpoint
        guardian = own.auth("guardian")
        assert (await http.get(f"{n}/persons/{own.guardian}/messages", headers=guardian)).status_code == 200
        assert (await http.get(f"{n}/persons/{other.guardian}/messages", headers=guardian, params={"reason": "support"})).status_code == 403
        assert (await http.get(f"{a}/school-units/{own.school}/action-plan", headers=guardian)).status_code == 403
        # a district admin by group and duty: their district's assessments, not the other district's
        district_admin = own.auth("district_admin")
        assert (await http.get(f"{a}/districts/{own.district}/assessments", headers=district_admin)).status_code == 200
        assert (await http.get(f"{a}/districts/{other.district}/assessments", headers=district_admin)).status_code == 403

        # someone the provider knows but the city's data does not place anywhere, in no group: no role at all
        stranger = User(f"stranger-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()))
        provider(stack).add_users([stranger])
        token = await asyncio.to_thread(provider(stack).token_for, stranger.login)
        for svc in stack.services.values():
            assert (await http.get(f"{svc.url}/school-units", headers=bearer(token))).json()["items"] == [], svc.name
            assert (await http.get(f"{svc.url}/school-units/{own.school}", headers=bearer(token))).status_code == 403, svc.name
        assert (await http.get(f"{a}/campaigns", headers=bearer(token))).status_code == 403
        # the same person in the IdP's city-admin group: city-wide, with no duty at all
        admin = User(f"admin-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), ["skolit-stadsadmin"])
        provider(stack).add_users([admin])
        token = await asyncio.to_thread(provider(stack).token_for, admin.login, alg="ES256")
        assert jwt.get_unverified_header(token)["alg"] == "ES256"
        assert (await http.get(f"{a}/campaigns", headers=bearer(token))).status_code == 200
        assert (await http.get(f"{a}/school-units/{other.school}/action-plan", headers=bearer(token))).status_code == 200


async def test_tokens_not_signed_by_the_provider_are_refused(stack: Stack) -> None:
    """A real provider token's claims, re-signed by other keys under the provider's kid, or otherwise altered: 401."""
    admin = User(f"forged-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), ["skolit-stadsadmin"])
    provider(stack).add_users([admin])
    good = await asyncio.to_thread(provider(stack).token_for, admin.login)
    header, claims = jwt.get_unverified_header(good), jwt.decode(good, options={"verify_signature": False})
    head, body, signature = good.split(".")
    other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    es_kid = header["kid"].replace("rs256", "es256")
    tampered = json.dumps({**claims, "sub": str(uuid.uuid4())}).encode()
    forged = {
        "re-signed by another RSA key": jwt.encode(claims, other_rsa, algorithm="RS256", headers={"kid": header["kid"], "typ": "at+jwt"}),
        "re-signed by another EC key": jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                                                 headers={"kid": es_kid, "typ": "at+jwt"}),
        "another person put in after signing": f"{head}.{jwt.utils.base64url_encode(tampered).decode()}.{signature}",
        "an unknown kid": jwt.encode(claims, other_rsa, algorithm="RS256", headers={"kid": "not-the-providers"}),
        "another audience": jwt.encode({**claims, "aud": "another-app"}, other_rsa, algorithm="RS256", headers={"kid": header["kid"]}),
    }
    async with httpx.AsyncClient(timeout=30) as http:
        for svc in stack.services.values():
            probe = f"{svc.url}/jobs"
            assert (await http.get(probe, headers=bearer(good))).status_code == 200, (svc.name, "the provider's own token")
            for name, token in forged.items():
                r = await http.get(probe, headers=bearer(token))
                assert r.status_code == 401, (svc.name, name, r.status_code, r.text)
                assert 'error="invalid_token"' in r.headers.get("www-authenticate", ""), (svc.name, name)
