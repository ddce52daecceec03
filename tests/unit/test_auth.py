from __future__ import annotations

import uuid
from typing import Annotated
from collections.abc import AsyncIterator, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI
import httpx

from shared import problems
from shared.auth import AuthError, Identity, KeysUnavailable, Principal, Role, Verifier, ensure_school_access, mint, require
from devkit.token_cli import main as token_cli
from tests.support.jwks import jwks_server, public_jwk

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
SCHOOL = str(uuid.uuid4())
OTHER_SCHOOL = str(uuid.uuid4())
DISTRICT = str(uuid.uuid4())


async def test_hs256_round_trip() -> None:
    token = mint(SECRET, subject="anna", roles=[Role.PRINCIPAL], school_units=[SCHOOL], districts=[DISTRICT], name="Anna")
    p = await Verifier(secret=SECRET).verify(token)
    assert p == Principal("anna", frozenset({Role.PRINCIPAL}), frozenset({SCHOOL}), frozenset({DISTRICT}), "Anna")


async def test_expired_token_rejected() -> None:
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER], ttl_seconds=-120)
    with pytest.raises(AuthError, match="expired"):
        await Verifier(secret=SECRET).verify(token)


async def test_wrong_secret_rejected() -> None:
    token = mint("another-secret-that-is-also-long-enough-xx", subject="anna", roles=[Role.TEACHER])
    with pytest.raises(AuthError, match="Signature"):
        await Verifier(secret=SECRET).verify(token)


async def test_malformed_and_missing_claims_rejected() -> None:
    v = Verifier(secret=SECRET)
    with pytest.raises(AuthError):
        await v.verify("not-a-jwt")
    with pytest.raises(AuthError):  # no exp
        await v.verify(jwt.encode({"sub": "anna", "roles": []}, SECRET, algorithm="HS256"))
    with pytest.raises(AuthError, match="roles"):
        await v.verify(jwt.encode({"sub": "anna", "exp": 2**40}, SECRET, algorithm="HS256"))


async def test_issuer_and_audience_checked_when_configured() -> None:
    v = Verifier(secret=SECRET, issuer="https://idp.example", audience="skolit")
    good = mint(SECRET, subject="a", roles=["teacher"], issuer="https://idp.example", audience="skolit")
    assert (await v.verify(good)).subject == "a"
    with pytest.raises(AuthError):
        await v.verify(mint(SECRET, subject="a", roles=["teacher"], issuer="https://evil.example", audience="skolit"))
    with pytest.raises(AuthError):
        await v.verify(mint(SECRET, subject="a", roles=["teacher"], issuer="https://idp.example", audience="other"))


async def test_unknown_roles_ignored() -> None:
    token = mint(SECRET, subject="bo", roles=["teacher", "janitor", "superuser"])
    p = await Verifier(secret=SECRET).verify(token)
    assert p.roles == frozenset({Role.TEACHER})


# --- RS256 against a real JWKS endpoint -------------------------------------------------

def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = _rsa_key()
    with jwks_server([public_jwk(key, "k1")]) as server:
        yield server.url, key


def _rs256(key: rsa.RSAPrivateKey, kid: str = "k1", **claims: object) -> str:
    payload = {"sub": "cecilia", "roles": ["city_admin"], "exp": 2**40} | claims
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


async def test_rs256_via_jwks(jwks: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = jwks
    v = Verifier(jwks_url=url)
    p = await v.verify(_rs256(key, groups=["skolit-it"]))
    # a provider token says who the caller is; its "roles" claim gives nothing (roles come from the city's data)
    assert p == Identity(subject="cecilia", groups=frozenset({"skolit-it"}))
    with pytest.raises(AuthError, match="Signature"):  # same kid, other key
        await v.verify(_rs256(_rsa_key()))
    with pytest.raises(AuthError):  # unknown kid
        await v.verify(_rs256(_rsa_key(), kid="nope"))
    with pytest.raises(AuthError):  # an HS256 token must not pass against the JWKS
        await v.verify(jwt.encode({"sub": "x", "roles": [], "exp": 2**40}, SECRET, algorithm="HS256", headers={"kid": "k1"}))


async def test_unreachable_jwks_is_keys_unavailable() -> None:
    # A subclass of AuthError, so require() can answer 503 rather than blame the caller's token.
    v = Verifier(jwks_url="http://127.0.0.1:9/jwks.json")
    with pytest.raises(KeysUnavailable):
        await v.verify(_rs256(_rsa_key()))


# --- authorisation rules -----------------------------------------------------------------

def _p(*roles: Role, schools: tuple[str, ...] = (), districts: tuple[str, ...] = ()) -> Principal:
    return Principal("x", frozenset(roles), frozenset(schools), frozenset(districts))


def test_may_act_for_school() -> None:
    assert _p(Role.CITY_ADMIN).may_act_for_school(SCHOOL)
    assert _p(Role.PRINCIPAL, schools=(SCHOOL,)).may_act_for_school(uuid.UUID(SCHOOL))
    assert _p(Role.TEACHER, schools=(SCHOOL,)).may_act_for_school(SCHOOL.upper())
    assert not _p(Role.PRINCIPAL, schools=(SCHOOL,)).may_act_for_school(OTHER_SCHOOL)
    assert _p(Role.DISTRICT_ADMIN, districts=(DISTRICT,)).may_act_for_school(OTHER_SCHOOL, DISTRICT)
    assert _p(Role.IT_ADMIN, districts=(DISTRICT,)).may_act_for_school(OTHER_SCHOOL, DISTRICT)
    assert not _p(Role.DISTRICT_ADMIN, districts=(DISTRICT,)).may_act_for_school(OTHER_SCHOOL)
    assert not _p(Role.DISTRICT_ADMIN, districts=(DISTRICT,)).may_act_for_school(OTHER_SCHOOL, str(uuid.uuid4()))
    # a teacher who happens to carry a district claim is not a district role
    assert not _p(Role.TEACHER, districts=(DISTRICT,)).may_act_for_school(OTHER_SCHOOL, DISTRICT)
    assert _p(Role.TEACHER, Role.GUARDIAN).has_any(Role.GUARDIAN, Role.PRINCIPAL)
    assert not _p(Role.TEACHER).has_any(Role.PRINCIPAL)


# --- FastAPI dependency ------------------------------------------------------------------

@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    problems.install(app)
    app.state.verifier = Verifier(secret=SECRET)

    @app.get("/schools/{school_id}/grades")
    async def grades(school_id: uuid.UUID, who: Annotated[Principal, Depends(require(Role.TEACHER, Role.PRINCIPAL))]) -> dict[str, str]:
        ensure_school_access(who, school_id)
        return {"subject": who.subject}

    @app.get("/me")
    async def me(who: Annotated[Principal, Depends(require())]) -> dict[str, str]:
        return {"subject": who.subject}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


def _bearer(**kw: object) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint(SECRET, **kw)}  # type: ignore[arg-type]


async def test_no_token_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/schools/{SCHOOL}/grades")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["www-authenticate"] == 'Bearer realm="skolit"'
    assert r.json()["title"] == "Unauthorized" and r.json()["status"] == 401
    assert (await client.get("/me", headers={"Authorization": "Basic dXNlcjpwdw=="})).status_code == 401


async def test_bad_token_is_401_invalid_token(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/schools/{SCHOOL}/grades", headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    expired = _bearer(subject="a", roles=["teacher"], school_units=[SCHOOL], ttl_seconds=-120)
    assert (await client.get(f"/schools/{SCHOOL}/grades", headers=expired)).json()["detail"] == "token has expired"


async def test_wrong_role_is_403(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/schools/{SCHOOL}/grades", headers=_bearer(subject="g", roles=["guardian"], school_units=[SCHOOL]))
    assert r.status_code == 403
    assert r.json()["detail"] == "requires one of the roles: principal, teacher"


async def test_other_school_is_403(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/schools/{OTHER_SCHOOL}/grades", headers=_bearer(subject="t", roles=["teacher"], school_units=[SCHOOL]))
    assert r.status_code == 403
    assert r.json()["detail"] == f"not allowed to act for school unit {OTHER_SCHOOL}"


async def test_right_role_and_school_is_200(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/schools/{SCHOOL}/grades", headers=_bearer(subject="t", roles=["teacher"], school_units=[SCHOOL]))
    assert r.status_code == 200 and r.json() == {"subject": "t"}
    assert (await client.get("/me", headers=_bearer(subject="g", roles=["guardian"]))).json() == {"subject": "g"}


async def test_openapi_declares_bearer_scheme(client: httpx.AsyncClient) -> None:
    schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()


# --- CLI ---------------------------------------------------------------------------------

async def test_cli_token_verifies_with_dev_secret(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SKOLIT_JWT_SECRET", SECRET)
    monkeypatch.delenv("SKOLIT_JWT_ISSUER", raising=False)
    monkeypatch.delenv("SKOLIT_JWT_AUDIENCE", raising=False)
    token_cli(["--role", "principal", "--school", SCHOOL, "--district", DISTRICT, "--subject", "rektor", "--ttl", "60"])
    p = await Verifier(secret=SECRET).verify(capsys.readouterr().out.strip())
    assert p.subject == "rektor" and p.roles == {Role.PRINCIPAL} and p.school_units == {SCHOOL} and p.districts == {DISTRICT}
