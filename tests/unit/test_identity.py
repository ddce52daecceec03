"""Identity from the city's provider, authority from the city's data (docs/decisions/0014): the pure mapping from
duties, guardian relations and groups to a Principal, and the verifier's choice between development tokens and the
provider's tokens. The same against a real provider process and the services: tests/integration/test_identity.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI

from shared import problems
from shared.auth import AuthError, Identity, IdentityMapping, Principal, Role, Verifier, mint, require
from shared.auth.authority import Authority, DutyFact, GuardianFact, principal_for
from shared.settings import Settings, role_groups
from tests.support.jwks import jwks_server, public_jwk

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = "https://idp.example.se"
SCHOOL, OTHER_SCHOOL, DISTRICT, OTHER_DISTRICT = (str(uuid.uuid4()) for _ in range(4))
PERSON = str(uuid.uuid4())
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
GROUPS = {"skolit-stadsadmin": frozenset({Role.CITY_ADMIN}), "skolit-omradesadmin": frozenset({Role.DISTRICT_ADMIN}),
          "skolit-it": frozenset({Role.IT_ADMIN}), "skolit-dataskydd": frozenset({Role.DATA_PROTECTION})}


def who(*groups: str) -> Identity:
    return Identity(subject=PERSON, groups=frozenset(groups))


def at_school(role: str, school: str = SCHOOL, district: str | None = DISTRICT) -> DutyFact:
    return DutyFact(role=role, at=school, district=district, at_school_unit=True)


def at_district(role: str, district: str = DISTRICT) -> DutyFact:
    return DutyFact(role=role, at=district, district=district, at_school_unit=False)


# --- the mapping -------------------------------------------------------------------------------------------

def test_a_rektor_duty_makes_the_principal_of_that_school_only() -> None:
    p = principal_for(who(), [at_school("Rektor")], [], GROUPS)
    assert p == Principal(PERSON, frozenset({Role.PRINCIPAL}), frozenset({SCHOOL}), frozenset())
    assert p.may_act_for_school(SCHOOL, DISTRICT) and not p.may_act_for_school(OTHER_SCHOOL, DISTRICT)


@pytest.mark.parametrize("duty", ["Lärare", "Förskollärare", "Förstelärare", "Speciallärare/specialpedagog"])
def test_a_teaching_duty_makes_a_teacher_there(duty: str) -> None:
    p = principal_for(who(), [at_school(duty)], [], GROUPS)
    assert (p.roles, p.school_units, p.districts) == (frozenset({Role.TEACHER}), frozenset({SCHOOL}), frozenset())


@pytest.mark.parametrize("duty", ["Kurator", "Skolsköterska", "Barnskötare", "Lärarassistent", "Övrig arbetsledning", "IT-samordnare"])
def test_other_duties_alone_give_no_role(duty: str) -> None:
    p = principal_for(who(), [at_school(duty), at_district(duty)], [], GROUPS)
    assert p.roles == frozenset() and p.school_units == frozenset() and p.districts == frozenset()


def test_a_rektor_at_one_school_and_teacher_at_another() -> None:
    p = principal_for(who(), [at_school("Rektor"), at_school("Lärare", OTHER_SCHOOL, OTHER_DISTRICT)], [], GROUPS)
    assert p.roles == {Role.PRINCIPAL, Role.TEACHER} and p.school_units == {SCHOOL, OTHER_SCHOOL}


def test_a_guardian_relation_makes_a_guardian_of_the_pupils_schools() -> None:
    p = principal_for(who(), [], [GuardianFact(SCHOOL), GuardianFact(OTHER_SCHOOL.upper())], GROUPS)
    assert (p.roles, p.school_units, p.districts) == (frozenset({Role.GUARDIAN}), frozenset({SCHOOL, OTHER_SCHOOL}), frozenset())


def test_a_teacher_who_is_a_parent_elsewhere_gets_no_school_scope_from_the_child() -> None:
    p = principal_for(who(), [at_school("Lärare")], [GuardianFact(OTHER_SCHOOL)], GROUPS)
    assert p.roles == {Role.TEACHER, Role.GUARDIAN} and p.school_units == {SCHOOL}
    assert not p.may_act_for_school(OTHER_SCHOOL, OTHER_DISTRICT)


def test_administrative_roles_come_from_groups_only() -> None:
    assert principal_for(who("skolit-stadsadmin"), [], [], GROUPS).roles == {Role.CITY_ADMIN}
    assert principal_for(who("skolit-dataskydd"), [], [], GROUPS).roles == {Role.DATA_PROTECTION}
    assert principal_for(who("skolit-dataskydd", "skolit-it"), [], [], GROUPS).roles == {Role.DATA_PROTECTION, Role.IT_ADMIN}
    assert principal_for(who("some-other-app-admins", "city_admin"), [], [], GROUPS).roles == frozenset()


def test_district_roles_act_for_the_districts_of_their_duties() -> None:
    # a duty at the district itself, and one at a school unit of another district
    duties = [at_district("Övrig arbetsledning"), at_school("IT-samordnare", OTHER_SCHOOL, OTHER_DISTRICT)]
    p = principal_for(who("skolit-omradesadmin"), duties, [], GROUPS)
    assert p.roles == {Role.DISTRICT_ADMIN} and p.districts == {DISTRICT, OTHER_DISTRICT} and p.school_units == frozenset()
    assert p.may_act_for_school(str(uuid.uuid4()), DISTRICT)
    assert not p.may_act_for_school(str(uuid.uuid4()), str(uuid.uuid4()))
    it = principal_for(who("skolit-it"), [at_school("IT-samordnare")], [], GROUPS)
    assert it.roles == {Role.IT_ADMIN} and it.districts == {DISTRICT}


def test_a_district_role_without_a_duty_acts_for_no_district() -> None:
    p = principal_for(who("skolit-omradesadmin"), [], [], GROUPS)
    assert p.roles == {Role.DISTRICT_ADMIN} and p.districts == frozenset()
    assert not p.may_act_for_school(SCHOOL, DISTRICT)


def test_a_duty_gives_no_district_to_someone_without_a_district_role() -> None:
    assert principal_for(who(), [at_district("Övrig arbetsledning"), at_school("Rektor")], [], GROUPS).districts == frozenset()


def test_city_wide_roles_need_no_school() -> None:
    p = principal_for(who("skolit-stadsadmin"), [], [], GROUPS)
    assert p.may_act_for_school(SCHOOL) and p.school_units == frozenset()


def test_nobody_in_the_city_data_and_no_group_has_no_role() -> None:
    p = principal_for(who(), [], [], GROUPS)
    assert p.roles == frozenset() and p.school_units == frozenset() and p.districts == frozenset()


# --- configuration -----------------------------------------------------------------------------------------

def test_role_groups_setting() -> None:
    assert role_groups("city_admin=skolit-stadsadmin, it_admin = skolit-it,") == (("city_admin", "skolit-stadsadmin"), ("it_admin", "skolit-it"))
    assert role_groups("") == ()
    with pytest.raises(ValueError):
        role_groups("city_admin")
    mapping = IdentityMapping.from_pairs([("city_admin", "admins"), ("data_protection", "admins"), ("it_admin", "it")])
    assert mapping.role_groups == {"admins": {Role.CITY_ADMIN, Role.DATA_PROTECTION}, "it": {Role.IT_ADMIN}}
    with pytest.raises(ValueError, match="city's data"):  # the school roles are never a group's to give
        IdentityMapping.from_pairs([("principal", "rektorer")])


def test_settings_read_the_oidc_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKOLIT_JWT_JWKS_URL", "https://idp.example.se/jwks")
    monkeypatch.delenv("SKOLIT_JWT_SECRET", raising=False)
    monkeypatch.setenv("SKOLIT_OIDC_PERSON_CLAIM", "ss12000_person_id")
    monkeypatch.setenv("SKOLIT_OIDC_ROLE_GROUPS", "city_admin=skolit-stadsadmin")
    s = Settings.from_env("catalog")
    assert s.jwt_secret is None  # no development tokens where a provider is configured and no secret is
    assert (s.oidc_person_claim, s.oidc_groups_claim, s.oidc_role_groups) == ("ss12000_person_id", "groups", (("city_admin", "skolit-stadsadmin"),))
    assert Verifier.from_settings(s).mapping.person_claim == "ss12000_person_id"


# --- the verifier: each kind of token only where configured --------------------------------------------------

@pytest.fixture(scope="module")
def provider_keys() -> Iterator[tuple[str, rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]]:
    """A JWKS endpoint with an RSA and an EC key, as the city's provider publishes them."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = [public_jwk(rsa_key, "r1"), public_jwk(ec_key, "e1", "ES256")]
    with jwks_server(keys, "/jwks") as server:
        yield server.url, rsa_key, ec_key


def provider_token(key: Any, alg: str = "RS256", kid: str = "r1", **claims: Any) -> str:
    payload = {"sub": PERSON, "iss": ISSUER, "aud": "skolit", "exp": 2**40, "groups": ["skolit-it"]} | claims
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})


async def test_provider_tokens_rs256_and_es256_give_an_identity(provider_keys: tuple[str, Any, Any]) -> None:
    url, rsa_key, ec_key = provider_keys
    v = Verifier(jwks_url=url, issuer=ISSUER, audience="skolit")
    expected = Identity(subject=PERSON, groups=frozenset({"skolit-it"}))
    assert await v.verify(provider_token(rsa_key)) == expected
    assert await v.verify(provider_token(ec_key, "ES256", "e1")) == expected
    # Skolit's own claims in a provider token are not what decides: no roles travel from the token
    assert await v.verify(provider_token(rsa_key, roles=["city_admin"], school_units=[SCHOOL])) == expected
    assert (await v.verify(provider_token(rsa_key, sub=PERSON.upper()))).subject == PERSON


async def test_forged_and_misdirected_provider_tokens_are_refused(provider_keys: tuple[str, Any, Any]) -> None:
    url, rsa_key, ec_key = provider_keys
    v = Verifier(jwks_url=url, issuer=ISSUER, audience="skolit")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "another key under the provider's kid": provider_token(other),
        "another EC key under the provider's kid": provider_token(ec.generate_private_key(ec.SECP256R1()), "ES256", "e1"),
        "the RSA kid named for an ES256 token": provider_token(ec_key, "ES256", "r1"),
        "another issuer": provider_token(rsa_key, iss="https://evil.example"),
        "another audience": provider_token(rsa_key, aud="another-app"),
        "no audience": provider_token(rsa_key, aud=None),
        "expired": provider_token(rsa_key, exp=1_000_000),
        "no person id": provider_token(rsa_key, sub=None),
        "groups not a list of strings": provider_token(rsa_key, groups=[1]),
        "RS384": provider_token(rsa_key, "RS384"),
        "HS256 with the development secret (no secret configured here)": mint(SECRET, subject=PERSON, roles=["city_admin"], issuer=ISSUER,
                                                                             audience="skolit"),
    }
    for name, token in refused.items():
        with pytest.raises(AuthError):
            await v.verify(token)
            pytest.fail(f"{name} was accepted")


async def test_an_hs256_token_is_refused_without_a_secret(provider_keys: tuple[str, Any, Any]) -> None:
    url, _, _ = provider_keys
    with pytest.raises(AuthError, match="HS256 development tokens are not accepted"):
        await Verifier(jwks_url=url).verify(mint(SECRET, subject="dev", roles=["city_admin"]))


async def test_a_provider_token_is_refused_without_a_provider(provider_keys: tuple[str, Any, Any]) -> None:
    _, rsa_key, _ = provider_keys
    with pytest.raises(AuthError, match="no identity provider"):
        await Verifier(secret=SECRET).verify(provider_token(rsa_key))


async def test_both_configured_the_alg_decides(provider_keys: tuple[str, Any, Any]) -> None:
    url, rsa_key, _ = provider_keys
    v = Verifier(secret=SECRET, jwks_url=url, issuer=ISSUER, audience="skolit")
    # a development token: its claims as they are; the issuer and audience are the provider's, not asked of it
    dev = await v.verify(mint(SECRET, subject="dev-teacher", roles=["teacher"], school_units=[SCHOOL]))
    assert dev == Principal("dev-teacher", frozenset({Role.TEACHER}), frozenset({SCHOOL}), frozenset())
    assert await v.verify(provider_token(rsa_key)) == Identity(subject=PERSON, groups=frozenset({"skolit-it"}))
    with pytest.raises(AuthError):
        await v.verify(provider_token(rsa_key, iss="https://evil.example"))
    with pytest.raises(AuthError):  # the secret does not sign provider-style tokens
        await v.verify(jwt.encode({"sub": PERSON, "iss": ISSUER, "aud": "skolit", "exp": 2**40}, SECRET, algorithm="HS384"))


async def test_the_person_claim_is_configurable(provider_keys: tuple[str, Any, Any]) -> None:
    url, rsa_key, _ = provider_keys
    v = Verifier(jwks_url=url, mapping=IdentityMapping(person_claim="ss12000_person", groups_claim="roller"))
    token = provider_token(rsa_key, sub="pairwise-opaque-subject", ss12000_person=PERSON, groups=None, roller="skolit-it")
    assert await v.verify(token) == Identity(subject=PERSON, groups=frozenset({"skolit-it"}))
    with pytest.raises(AuthError, match="ss12000_person"):
        await v.verify(provider_token(rsa_key))


# --- require(): roles of a provider token decided by the Authority ----------------------------------------------

@pytest.fixture
async def client(provider_keys: tuple[str, Any, Any]) -> AsyncIterator[httpx.AsyncClient]:
    url, _, _ = provider_keys
    app = FastAPI()
    problems.install(app)
    app.state.verifier = Verifier(jwks_url=url, mapping=IdentityMapping(role_groups=GROUPS))
    app.state.pool = None  # no database: only people who are not in the city's data (non-UUID subjects) can be decided

    @app.get("/admin")
    async def admin(caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
        return {"subject": caller.subject, "roles": sorted(caller.roles)}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


async def test_require_takes_administrative_roles_from_groups(client: httpx.AsyncClient, provider_keys: tuple[str, Any, Any]) -> None:
    _, rsa_key, _ = provider_keys
    r = await client.get("/admin", headers={"Authorization": "Bearer " + provider_token(rsa_key, sub="ext-admin", groups=["skolit-stadsadmin"])})
    assert r.status_code == 200 and r.json() == {"subject": "ext-admin", "roles": ["city_admin"]}
    r = await client.get("/admin", headers={"Authorization": "Bearer " + provider_token(rsa_key, sub="ext-admin", groups=["skolit-it"])})
    assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    # a person id needs the city's data; without the database that is the service's fault, not the caller's
    r = await client.get("/admin", headers={"Authorization": "Bearer " + provider_token(rsa_key, groups=["skolit-stadsadmin"])})
    assert r.status_code == 503 and r.headers.get("retry-after") == "5"
    r = await client.get("/admin", headers={"Authorization": "Bearer " + mint(SECRET, subject="dev", roles=["city_admin"])})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


async def test_the_authority_caches_per_person() -> None:
    calls: list[str] = []

    class Counting(Authority):
        async def _facts(self, subject: str) -> tuple[list[DutyFact], list[GuardianFact]]:
            calls.append(subject)
            return [at_school("Rektor")], []

    authority = Counting(None, IdentityMapping(role_groups=GROUPS, cache_seconds=30))
    first = await authority.principal(who())
    assert await authority.principal(who()) is first and calls == [PERSON]
    await authority.principal(who("skolit-it"))  # other groups: decided anew
    assert len(calls) == 2
    authority.mapping = IdentityMapping(role_groups=GROUPS, cache_seconds=0)
    await authority.principal(who())
    assert len(calls) == 3
