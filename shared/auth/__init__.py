"""Bearer-JWT authentication and role/school authorisation for the Skolit services.

The services never store passwords: the city's OpenID Connect provider signs a JWT access token and every
service checks it on its own against the provider's JWKS (RS256/ES256), so a request needs no call to another
service. The token says who the caller is (the SS 12000 person id, in a configurable claim) and their IdP groups;
what they may do — principal or teacher of which school, guardian, district and administrative roles — comes
from the city's data the service already holds (shared/auth/authority.py; docs/decisions/0014). Because pupil
data must stay within the schools a caller works for (GDPR: need to know), the school units and districts are
those of the person's duties and relations.

HS256 tokens with a shared secret stay for local development and the tests: they carry Skolit's own claims
(``roles``, ``school_units``, ``districts``) as they are, and are taken only where a secret is configured.

A client sends the same token on every request (an app polling its inbox), so each process remembers the tokens it
has verified (by their SHA-256) until they expire, for at most ``TOKEN_CACHE_SECONDS`` (so a change of the provider's
keys is taken within minutes): the signature is checked once, not on every request (docs/benchmarks/issue-24-status.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.problems import Problem
from shared.settings import Settings

__all__ = [
    "ADMINISTRATIVE_ROLES", "AuthError", "Identity", "IdentityMapping", "KeysUnavailable", "Principal", "Role", "Verifier",
    "ensure_school_access", "mint", "principal_for_token", "principal_from_claims", "require",
]

REALM = "skolit"
# Clocks of the identity provider and of the pods drift a little; a few seconds of an
# expired token is harmless, a user thrown out early is not.
LEEWAY_SECONDS = 30
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
#: verified tokens a process remembers (least recently used first out), and for how long at most after verifying one
TOKEN_CACHE_SIZE = 10_000
TOKEN_CACHE_SECONDS = 300.0


class Role(StrEnum):
    TEACHER = "teacher"
    PRINCIPAL = "principal"
    DISTRICT_ADMIN = "district_admin"
    CITY_ADMIN = "city_admin"
    IT_ADMIN = "it_admin"
    #: the data-protection function (dataskyddsombud and privacy reviewers): reviews apps' agreements
    DATA_PROTECTION = "data_protection"
    GUARDIAN = "guardian"


class AuthError(Exception):
    """The token cannot be trusted; ``reason`` is safe to show to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(AuthError):
    """The JWKS endpoint could not be reached: our fault, not the caller's token."""


def _ids(values: Iterable[Any]) -> frozenset[str]:
    # UUIDs arrive as str or uuid.UUID and in either case; compare one canonical form.
    return frozenset(str(v).strip().lower() for v in values)


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    school_units: frozenset[str] = frozenset()
    districts: frozenset[str] = frozenset()
    name: str | None = None

    def has_any(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    def may_act_for_school(self, school_unit_id: Any, district_of_school: Any | None = None) -> bool:
        if Role.CITY_ADMIN in self.roles:
            return True
        if str(school_unit_id).strip().lower() in self.school_units:
            return True
        # District roles cover every school of their districts without listing each school,
        # so a school opened next term needs no new tokens.
        return (
            district_of_school is not None
            and self.has_any(Role.DISTRICT_ADMIN, Role.IT_ADMIN)
            and str(district_of_school).strip().lower() in self.districts
        )


def _str_list(claims: dict[str, Any], name: str) -> list[str]:
    value = claims.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuthError(f"claim {name!r} must be a list of strings")
    return value


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("token has no subject")
    if "roles" not in claims:
        raise AuthError("token has no roles claim")
    # The provider serves other applications too; their roles are not ours to reject.
    roles = frozenset(Role(r) for r in _str_list(claims, "roles") if r in Role._value2member_map_)
    name = claims.get("name")
    return Principal(
        subject=subject,
        roles=roles,
        school_units=_ids(_str_list(claims, "school_units")),
        districts=_ids(_str_list(claims, "districts")),
        name=name if isinstance(name, str) else None,
    )


@dataclass(frozen=True)
class Identity:
    """Who a token of the city's identity provider says the caller is: the SS 12000 person id (from the configured
    claim), the person's IdP groups and display name. What they may do is not in the token: shared/auth/authority.py
    derives it from the city's data the service holds (duties, guardian relations) and from the configured groups."""

    subject: str
    groups: frozenset[str] = frozenset()
    name: str | None = None


@dataclass(frozen=True)
class IdentityMapping:
    """How a provider token maps to a person and to administrative roles (SKOLIT_OIDC_* settings)."""

    person_claim: str = "sub"
    groups_claim: str = "groups"
    #: IdP group → the administrative roles it gives
    role_groups: dict[str, frozenset[Role]] = field(default_factory=dict)
    cache_seconds: float = 30.0

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], **kwargs: Any) -> IdentityMapping:
        groups: dict[str, set[Role]] = {}
        for role, group in pairs:
            if role not in ADMINISTRATIVE_ROLES:
                raise ValueError(f"SKOLIT_OIDC_ROLE_GROUPS: {role!r} is not an administrative role "
                                 f"({', '.join(sorted(ADMINISTRATIVE_ROLES))}); the others come from the city's data")
            groups.setdefault(group, set()).add(Role(role))
        return cls(role_groups={g: frozenset(r) for g, r in groups.items()}, **kwargs)

    def identity(self, claims: dict[str, Any]) -> Identity:
        person = claims.get(self.person_claim)
        if not isinstance(person, str) or not person.strip():
            raise AuthError(f"token has no person id in claim {self.person_claim!r}")
        raw = claims.get(self.groups_claim, [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(g, str) for g in raw):
            raise AuthError(f"claim {self.groups_claim!r} must be a list of strings")
        name = claims.get("name")
        return Identity(subject=_person_id(person), groups=frozenset(raw), name=name if isinstance(name, str) else None)


def _person_id(value: str) -> str:
    # SS 12000 ids are UUIDs: one canonical spelling, so the subject compares equal to the city's data
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return value.strip()


#: the roles only IdP groups give (everything else comes from the city's data)
ADMINISTRATIVE_ROLES = frozenset({Role.CITY_ADMIN.value, Role.DISTRICT_ADMIN.value, Role.IT_ADMIN.value, Role.DATA_PROTECTION.value})


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token the Verifier has taken: what it gave (Principal and Identity are frozen), when, and until when it holds."""

    result: Principal | Identity
    verified_at: float
    #: the token's ``exp`` plus the leeway: from then on jwt.decode would refuse it as expired
    expires: float
    #: the mapping that made an Identity of it (``Verifier.mapping`` is an attribute and may be replaced)
    mapping: IdentityMapping


class Verifier:
    """Checks a bearer token. Two kinds are taken, each only where configured, told apart by the token's ``alg``:

    - HS256 with the shared secret (development and tests): Skolit's own claims (``roles``, ``school_units``,
      ``districts``) give a Principal as they are;
    - RS256/ES256 from the city's identity provider, checked against its JWKS (and issuer and audience): an Identity,
      whose roles shared/auth/authority.py derives from the city's data.
    """

    def __init__(self, *, secret: str | None = None, jwks_url: str | None = None, issuer: str | None = None,
                 audience: str | None = None, leeway: float = LEEWAY_SECONDS, mapping: IdentityMapping | None = None,
                 cache_size: int = TOKEN_CACHE_SIZE, cache_seconds: float = TOKEN_CACHE_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        if not secret and not jwks_url:
            raise ValueError("either a JWT secret or a JWKS URL is required")
        self._secret = secret or None
        self._jwks = jwt.PyJWKClient(jwks_url, timeout=5) if jwks_url else None
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self.mapping = mapping or IdentityMapping()
        #: wall-clock epoch seconds, as a token's exp, nbf and iat are (the tests set their own)
        self.clock = clock
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        # SHA-256 of the token → what verifying it gave. Only the event loop's thread touches it, with no await between
        # a read and a write, so it needs no lock.
        self._verified: OrderedDict[bytes, _Verified] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        mapping = IdentityMapping.from_pairs(settings.oidc_role_groups, person_claim=settings.oidc_person_claim,
                                             groups_claim=settings.oidc_groups_claim, cache_seconds=settings.oidc_authority_cache_seconds)
        return cls(secret=settings.jwt_secret, jwks_url=settings.jwt_jwks_url, issuer=settings.jwt_issuer,
                   audience=settings.jwt_audience, mapping=mapping)

    @property
    def takes_development_tokens(self) -> bool:
        return self._secret is not None

    @property
    def takes_provider_tokens(self) -> bool:
        return self._jwks is not None

    async def verify(self, token: str) -> Principal | Identity:
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        now = self.clock()
        hit = self._verified.get(key)
        if hit is not None:
            if now >= hit.expires:
                del self._verified[key]
                raise AuthError("token has expired")
            if hit.verified_at <= now < hit.verified_at + self._cache_seconds and hit.mapping is self.mapping:
                self._verified.move_to_end(key)
                return hit.result
            del self._verified[key]  # verified too long ago (or the clock went back): check it again
        result, claims = await self._verify(token)
        self._remember(key, result, claims)
        return result

    def forget(self) -> None:
        """Drops every remembered token: the next request with each is verified again."""
        self._verified.clear()

    def _remember(self, key: bytes, result: Principal | Identity, claims: dict[str, Any]) -> None:
        if self._cache_size <= 0 or self._cache_seconds <= 0:
            return
        now = self.clock()
        # jwt.decode has checked these claims are integers (it compares int(claim), so do we) and that "exp" is there
        expires = int(claims["exp"]) + self._leeway
        not_before = max((int(claims[c]) for c in ("nbf", "iat") if c in claims), default=None)
        if now >= expires or (not_before is not None and now < not_before - self._leeway):
            return  # not valid by this clock: nothing to remember
        self._verified[key] = _Verified(result, now, expires, self.mapping)
        self._verified.move_to_end(key)
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)

    async def _verify(self, token: str) -> tuple[Principal | Identity, dict[str, Any]]:
        """The token checked cryptographically and against its claims: what it gives, and the claims."""
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        if alg == "HS256":
            if self._secret is None:
                raise AuthError("invalid token: HS256 development tokens are not accepted here; sign in with the identity provider")
            claims = self._decode(token, self._secret, "HS256", provider=False)
            return principal_from_claims(claims), claims
        if alg in ASYMMETRIC_ALGORITHMS:
            if self._jwks is None:
                raise AuthError(f"invalid token: {alg} tokens are not accepted here (no identity provider is configured)")
            try:
                # PyJWKClient fetches over urllib (blocking); keep it off the event loop.
                signing = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            except jwt.PyJWKClientConnectionError:
                raise KeysUnavailable("signing keys are unavailable") from None
            except jwt.PyJWTError as exc:
                raise AuthError(f"invalid token: {exc}") from None
            if signing.algorithm_name not in (None, alg):
                raise AuthError(f"invalid token: the key {signing.key_id!r} is not a {alg} key")
            claims = self._decode(token, signing.key, alg, provider=True)
            return self.mapping.identity(claims), claims
        raise AuthError(f"invalid token: the algorithm {alg!r} is not accepted")

    def _decode(self, token: str, key: Any, alg: str, *, provider: bool) -> dict[str, Any]:
        # The issuer and audience name the identity provider: they bind its tokens, and development tokens only
        # where no provider is configured (so `make run` and the tests can take both kinds).
        bind = provider or self._jwks is None
        issuer = self._issuer if bind else None
        audience = self._audience if bind else None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], issuer=issuer, audience=audience, leeway=self._leeway,
                # Without an audience configured, an "aud" from the provider is not a reason to refuse.
                options={"require": ["exp"] if provider else ["exp", "sub"], "verify_aud": audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token has expired") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        return claims


_bearer = HTTPBearer(auto_error=False)  # auto_error off: we answer with our own problem document


def _challenge(error: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


async def principal_for_token(app: Any, token: str) -> Principal:
    """The caller a bearer token names: verified by the app's Verifier, a provider's identity given its roles from the
    city's data. Raises AuthError or KeysUnavailable (require() and the hot reads, shared/http/hot_reads.py)."""
    verifier: Verifier = app.state.verifier
    verified = await verifier.verify(token)
    if isinstance(verified, Identity):
        from shared.auth.authority import authority_of

        return await authority_of(app, verifier.mapping).principal(verified)
    return verified


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the authenticated Principal; with roles, the caller needs one of them."""
    wanted = frozenset(roles)

    async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        if credentials is None:
            reason = "Authorization header is not a bearer token" if request.headers.get("authorization") else "missing bearer token"
            raise Problem(401, "Unauthorized", reason, headers=_challenge())
        try:
            principal = await principal_for_token(request.app, credentials.credentials)
        except KeysUnavailable as exc:
            raise Problem(503, "Service unavailable", exc.reason, headers={"Retry-After": "5"}) from None
        except AuthError as exc:
            raise Problem(401, "Unauthorized", exc.reason, headers=_challenge("invalid_token")) from None
        if wanted and not principal.has_any(*wanted):
            raise Problem(403, "Forbidden", "requires one of the roles: " + ", ".join(sorted(wanted)))
        return principal

    return dependency


def ensure_school_access(principal: Principal, school_unit_id: Any, district_of_school: Any | None = None) -> None:
    if not principal.may_act_for_school(school_unit_id, district_of_school):
        raise Problem(403, "Forbidden", f"not allowed to act for school unit {school_unit_id}")


def mint(secret: str, *, subject: str, roles: Iterable[Role | str], school_units: Iterable[Any] = (),
         districts: Iterable[Any] = (), name: str | None = None, ttl_seconds: int = 8 * 3600,
         issuer: str | None = None, audience: str | None = None) -> str:
    """An HS256 token for development and tests; production tokens come from the identity provider."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": [str(r) for r in roles],
        "school_units": [str(s) for s in school_units],
        "districts": [str(d) for d in districts],
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if name is not None:
        claims["name"] = name
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
