"""The Verifier's per-process cache of verified tokens (shared/auth): a token sent again is not verified cryptographically
again, yet never outlives its own ``exp`` (plus the leeway jwt.decode gives), is verified again after
``cache_seconds``, is keyed by the whole token, remembers no failure, and holds at most ``cache_size`` tokens."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.auth import LEEWAY_SECONDS, TOKEN_CACHE_SECONDS, AuthError, Identity, IdentityMapping, KeysUnavailable, Principal, Role, Verifier, mint
from tests.support.jwks import JwksServer, jwks_server, public_jwk

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = "https://idp.example.se"


class Clock:
    """A wall clock the test moves: the Verifier's ``clock`` (and, through the ``clock`` fixture, jwt.decode's)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Calls:
    """Counts the calls of a function it wraps."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.count = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """jwt.decode as shared.auth calls it, counted: each call is one cryptographic verification."""
    calls = Calls(jwt.decode)
    monkeypatch.setattr(jwt, "decode", calls)
    return calls


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A clock for the Verifier that jwt.decode follows too, as both follow time.time() in a service."""
    clock = Clock()

    class Datetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Datetime:
            return cls.fromtimestamp(clock.now, tz)

    monkeypatch.setattr(jwt.api_jwt, "datetime", Datetime)
    return clock


def claims_of(token: str) -> dict[str, Any]:
    # not jwt.decode, which the tests count
    return dict(jwt.api_jwt.decode_complete(token, options={"verify_signature": False})["payload"])


def tampered(token: str, at: int) -> str:
    """The token with the character at index ``at`` replaced by another base64url character."""
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1:]


# --- development tokens (HS256) ---------------------------------------------------------------------------------

async def test_a_token_sent_again_is_not_verified_again(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER], school_units=["s1"], name="Anna")
    first = await v.verify(token)
    assert first == Principal("anna", frozenset({Role.TEACHER}), frozenset({"s1"}), frozenset(), "Anna")
    assert decodes.count == 1
    clock.now += 60
    for _ in range(5):
        assert await v.verify(token) is first
    assert decodes.count == 1


def test_what_is_cached_cannot_be_changed_by_a_caller() -> None:
    # a cached Principal or Identity is handed to every request with the token: it must be immutable
    principal = Principal("anna", frozenset({Role.TEACHER}))
    identity = Identity("anna", frozenset({"g"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.roles = frozenset({Role.CITY_ADMIN})  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.groups = frozenset({"skolit-stadsadmin"})  # type: ignore[misc]
    assert isinstance(principal.roles, frozenset) and isinstance(principal.school_units, frozenset)
    assert isinstance(principal.districts, frozenset) and isinstance(identity.groups, frozenset)


async def test_a_cached_token_is_refused_once_it_expires(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER], ttl_seconds=60)
    exp = claims_of(token)["exp"]
    await v.verify(token)
    # jwt.decode takes a token until exp + leeway (it refuses when exp <= now - leeway); so does the cache
    clock.now = exp + LEEWAY_SECONDS - 0.5
    assert (await v.verify(token)).subject == "anna"
    assert decodes.count == 1
    clock.now = exp + LEEWAY_SECONDS
    with pytest.raises(AuthError, match="expired"):
        await v.verify(token)
    assert decodes.count == 1  # refused from the cache
    clock.now += 3600
    with pytest.raises(AuthError, match="expired"):  # no longer remembered: refused by jwt.decode
        await v.verify(token)
    assert decodes.count == 2


async def test_the_expiry_respects_a_shorter_leeway(clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock, leeway=0)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER], ttl_seconds=60)
    await v.verify(token)
    clock.now = claims_of(token)["exp"]
    with pytest.raises(AuthError, match="expired"):
        await v.verify(token)


async def test_a_cached_token_is_verified_again_after_cache_seconds(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER])  # valid for eight hours
    await v.verify(token)
    clock.now += TOKEN_CACHE_SECONDS - 1
    await v.verify(token)
    assert decodes.count == 1
    clock.now += 1
    await v.verify(token)
    assert decodes.count == 2  # verified again, and remembered from now on
    await v.verify(token)
    assert decodes.count == 2


async def test_a_clock_gone_back_verifies_again(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER])
    await v.verify(token)
    clock.now -= 5
    await v.verify(token)
    assert decodes.count == 2


async def test_a_token_not_yet_valid_by_the_clock_is_not_remembered(decodes: Calls) -> None:
    # jwt.decode has checked nbf against its own reading of the time; should the Verifier's clock be earlier
    # (here a clock of its own, which jwt.decode does not follow), the token is not remembered until it is valid by it
    clock = Clock()
    v = Verifier(secret=SECRET, clock=clock)
    now = int(time.time())
    token = jwt.encode({"sub": "anna", "roles": [], "nbf": now, "exp": now + 3600}, SECRET, algorithm="HS256")
    clock.now = now - LEEWAY_SECONDS - 10  # jwt.decode (the real time) takes it; by the Verifier's clock it is early
    await v.verify(token)
    await v.verify(token)
    assert decodes.count == 2
    clock.now = now - LEEWAY_SECONDS  # as jwt.decode: valid from nbf - leeway
    await v.verify(token)
    await v.verify(token)
    assert decodes.count == 3


async def test_a_token_changed_in_one_character_is_refused(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    token = mint(SECRET, subject="anna", roles=[Role.CITY_ADMIN], school_units=["s1"])
    await v.verify(token)
    header, payload, signature = token.split(".")
    # one character in the middle of each part: the header, the claims and the signature (the last character of a
    # base64url signature may carry only padding bits, so it is not the one changed)
    positions = [len(header) // 2, len(header) + 1 + len(payload) // 2, len(header) + len(payload) + 2 + len(signature) // 2]
    for at in positions:
        before = decodes.count
        with pytest.raises(AuthError):
            await v.verify(tampered(token, at))
        assert decodes.count in (before, before + 1)  # refused by jwt (a broken header never reaches decode)
    assert decodes.count >= 3  # the changed claims and the changed signature were checked, not looked up
    # the genuine token is still taken, from the cache
    count = decodes.count
    assert (await v.verify(token)).subject == "anna"
    assert decodes.count == count


async def test_a_token_differing_only_in_its_signature_is_not_the_cached_one(decodes: Calls, clock: Clock) -> None:
    # the same header and claims under another key's signature: a cache keyed by the claims would take it
    v = Verifier(secret=SECRET, clock=clock)
    claims = {"sub": "anna", "roles": ["city_admin"], "exp": int(time.time()) + 3600}
    good = jwt.encode(claims, SECRET, algorithm="HS256")
    forged = jwt.encode(claims, "another-secret-that-is-also-long-enough-xx", algorithm="HS256")
    assert good.rsplit(".", 1)[0] == forged.rsplit(".", 1)[0]
    await v.verify(good)
    with pytest.raises(AuthError, match="Signature"):
        await v.verify(forged)
    assert decodes.count == 2


async def test_failures_are_not_remembered(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    refused = {
        "another secret": mint("another-secret-that-is-also-long-enough-xx", subject="anna", roles=[Role.TEACHER]),
        "expired": mint(SECRET, subject="anna", roles=[Role.TEACHER], ttl_seconds=-120),
        "no roles claim (decoded, then refused)": jwt.encode({"sub": "anna", "exp": 2**40}, SECRET, algorithm="HS256"),
        "roles not a list of strings": jwt.encode({"sub": "anna", "roles": [1], "exp": 2**40}, SECRET, algorithm="HS256"),
    }
    for name, token in refused.items():
        before = decodes.count
        for _ in range(3):
            with pytest.raises(AuthError):
                await v.verify(token)
                pytest.fail(f"{name} was accepted")
        assert decodes.count == before + 3, f"{name}: a refusal was remembered"
    assert not v._verified


async def test_the_cache_holds_at_most_cache_size_tokens_least_recently_used_out(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock, cache_size=3)
    t1, t2, t3, t4, t5 = (mint(SECRET, subject=f"p{i}", roles=[Role.TEACHER]) for i in range(1, 6))
    for token in (t1, t2, t3):
        await v.verify(token)
    assert decodes.count == 3
    await v.verify(t1)  # t1 is now the most recently used: t2 is the oldest
    assert decodes.count == 3
    await v.verify(t4)
    assert len(v._verified) == 3
    for token in (t1, t3, t4):
        await v.verify(token)
    assert decodes.count == 4  # t1, t3 and t4 still remembered
    await v.verify(t2)  # evicted: verified again (and t1, now the oldest, goes)
    assert decodes.count == 5
    await v.verify(t5)
    assert len(v._verified) == 3
    assert decodes.count == 6
    for token in (t2, t4, t5):
        await v.verify(token)
    assert decodes.count == 6


async def test_no_cache_when_its_size_is_zero(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock, cache_size=0)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER])
    await v.verify(token)
    await v.verify(token)
    assert decodes.count == 2 and not v._verified


async def test_forget_drops_every_token(decodes: Calls, clock: Clock) -> None:
    v = Verifier(secret=SECRET, clock=clock)
    token = mint(SECRET, subject="anna", roles=[Role.TEACHER])
    await v.verify(token)
    v.forget()
    await v.verify(token)
    assert decodes.count == 2


# --- provider tokens (RS256 from the JWKS) ----------------------------------------------------------------------

class Provider:
    """A JWKS endpoint with one RSA key; ``failing`` answers the next requests with 500 (keys unavailable)."""

    def __init__(self, url: str, key: rsa.RSAPrivateKey, server: JwksServer) -> None:
        self.url = url
        self.key = key
        self.server = server

    def token(self, **claims: Any) -> str:
        payload = {"sub": "cecilia", "iss": ISSUER, "aud": "skolit", "exp": int(time.time()) + 3600, "groups": ["skolit-it"]} | claims
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, self.key, algorithm="RS256", headers={"kid": "r1"})


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with jwks_server([public_jwk(key, "r1")], "/jwks") as server:
        yield Provider(server.url, key, server)


async def test_a_provider_token_sent_again_is_not_verified_again(provider: Provider, decodes: Calls, clock: Clock,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    v = Verifier(jwks_url=provider.url, issuer=ISSUER, audience="skolit", clock=clock)
    assert v._jwks is not None
    lookups = Calls(v._jwks.get_signing_key_from_jwt)
    monkeypatch.setattr(v._jwks, "get_signing_key_from_jwt", lookups)
    token = provider.token()
    first = await v.verify(token)
    assert first == Identity(subject="cecilia", groups=frozenset({"skolit-it"}))
    for _ in range(5):
        assert await v.verify(token) is first
    assert (decodes.count, lookups.count) == (1, 1)
    # one character of the signature changed: checked against the key, and refused
    _, _, signature = token.split(".")
    with pytest.raises(AuthError, match="Signature"):
        await v.verify(tampered(token, len(token) - len(signature) // 2))
    assert (decodes.count, lookups.count) == (2, 2)
    # expired by the clock, though jwt.decode (the real time) would still take it
    clock.now = claims_of(token)["exp"] + LEEWAY_SECONDS
    with pytest.raises(AuthError, match="expired"):
        await v.verify(token)


async def test_a_replaced_mapping_is_applied_to_a_cached_token(provider: Provider, decodes: Calls, clock: Clock) -> None:
    v = Verifier(jwks_url=provider.url, issuer=ISSUER, audience="skolit", clock=clock)
    token = provider.token(roller=["skolit-stadsadmin"])
    assert (await v.verify(token)).groups == frozenset({"skolit-it"})
    v.mapping = IdentityMapping(groups_claim="roller")
    assert (await v.verify(token)).groups == frozenset({"skolit-stadsadmin"})
    assert decodes.count == 2


async def test_keys_unavailable_is_not_remembered(provider: Provider, clock: Clock) -> None:
    v = Verifier(jwks_url=provider.url, issuer=ISSUER, audience="skolit", clock=clock)
    token = provider.token()
    provider.server.failing = 1
    try:
        with pytest.raises(KeysUnavailable):
            await v.verify(token)
        assert not v._verified
    finally:
        provider.server.failing = 0
    assert (await v.verify(token)).subject == "cecilia"
    assert len(v._verified) == 1


async def test_a_refusal_for_a_mapping_is_not_remembered_when_the_mapping_changes(provider: Provider, decodes: Calls,
                                                                                    clock: Clock) -> None:
    v = Verifier(jwks_url=provider.url, issuer=ISSUER, audience="skolit", clock=clock,
                 mapping=IdentityMapping(person_claim="ss12000_person"))
    token = provider.token(ss12000_person=None)
    with pytest.raises(AuthError, match="ss12000_person"):
        await v.verify(token)
    v.mapping = IdentityMapping()
    assert (await v.verify(token)).subject == "cecilia"
    assert decodes.count == 2
