"""Bearer-JWT authentication and role/school authorisation for the Skolit services.

The services never store passwords: the city's identity provider signs a JWT and every
service checks it on its own, so a request needs no call to another service. Tokens are
HS256 with a shared secret for the embedded default and tests, or RS256/ES256 against the
provider's JWKS in production. Who may act for which school travels in the token
(``school_units``, ``districts``), because pupil data must stay within the schools a
caller works for (GDPR: need to know).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.problems import Problem
from shared.settings import Settings

__all__ = [
    "AuthError", "KeysUnavailable", "Principal", "Role", "Verifier",
    "ensure_school_access", "mint", "principal_from_claims", "require",
]

REALM = "skolit"
# Clocks of the identity provider and of the pods drift a little; a few seconds of an
# expired token is harmless, a user thrown out early is not.
LEEWAY_SECONDS = 30
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]


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


class Verifier:
    """Checks a bearer token and turns its claims into a Principal."""

    def __init__(self, *, secret: str | None = None, jwks_url: str | None = None, issuer: str | None = None,
                 audience: str | None = None, leeway: float = LEEWAY_SECONDS) -> None:
        if not secret and not jwks_url:
            raise ValueError("either a JWT secret or a JWKS URL is required")
        self._secret = secret or None
        # A secret wins: it is what the embedded default and the tests set explicitly.
        self._jwks = None if self._secret else jwt.PyJWKClient(jwks_url, timeout=5)  # type: ignore[arg-type]
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        return cls(secret=settings.jwt_secret, jwks_url=settings.jwt_jwks_url,
                   issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    async def verify(self, token: str) -> Principal:
        try:
            if self._jwks is None:
                key: Any = self._secret
                algorithms = ["HS256"]
            else:
                # PyJWKClient fetches over urllib (blocking); keep it off the event loop.
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
                algorithms = ASYMMETRIC_ALGORITHMS
            claims = jwt.decode(
                token, key, algorithms=algorithms, issuer=self._issuer, audience=self._audience,
                leeway=self._leeway,
                # Without an audience configured, an "aud" from the provider is not a reason to refuse.
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token has expired") from None
        except jwt.PyJWKClientConnectionError:
            raise KeysUnavailable("signing keys are unavailable") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from None
        return principal_from_claims(claims)


_bearer = HTTPBearer(auto_error=False)  # auto_error off: we answer with our own problem document


def _challenge(error: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


def require(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the authenticated Principal; with roles, the caller needs one of them."""
    wanted = frozenset(roles)

    async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        if credentials is None:
            reason = "Authorization header is not a bearer token" if request.headers.get("authorization") else "missing bearer token"
            raise Problem(401, "Unauthorized", reason, headers=_challenge())
        verifier: Verifier = request.app.state.verifier
        try:
            principal = await verifier.verify(credentials.credentials)
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
