"""A table-driven authorisation matrix over the live services, and the small city it runs against.

The city has two sides, each a district with one school unit and a person for every role, whom the city's data
makes what they are: a teacher and a Rektor by their duties there, a guardian by a relation to a pupil there, a
district admin and an IT admin by their IdP group and a duty in the district, a data-protection officer and a city
admin by their IdP group. Each signs in with the stack's OpenID provider (devkit/oidc, a real code flow) and calls
with its access token; the services derive the roles from their replicas (shared/auth/authority.py). Every role
calls every endpoint twice: once as the person of the side that owns the resource ("own": its school unit and
district) and once as the person of the other side ("other"). A row of the table names, for one endpoint, the roles
that get through in each scope; every other caller is refused — 401 without a token, 403 otherwise.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from shared.events.city import DutyAssigned, GuardianRelationAdded, OrganisationUpserted, PersonUpserted
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.oidc import ROLE_GROUPS, OidcProvider, User
from tests.support.stack import Stack, auth

ROLES = ("teacher", "principal", "district_admin", "it_admin", "data_protection", "guardian", "city_admin")
SCOPES = ("own", "other")
METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM_JSON = "application/problem+json"


#: the SS 12000 duty, held at the side's school unit or district, that places each administrative persona in the
#: city's data (district and IT admins act for the district of their duty); the roles themselves come from IdP groups
ADMIN_DUTIES = {"district_admin": ("district", "Övrig arbetsledning"), "it_admin": ("school", "IT-samordnare")}


@dataclass
class Side:
    """A district with one compulsory school unit and a person for every role: a teacher (Lärare) and a Rektor there,
    a guardian of a pupil there, a district admin (Övrig arbetsledning at the district), an IT admin (IT-samordnare at
    the school), a data-protection officer and a city admin (groups only)."""

    label: str
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    teacher: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor: uuid.UUID = field(default_factory=uuid.uuid4)
    guardian: uuid.UUID = field(default_factory=uuid.uuid4)
    pupil: uuid.UUID = field(default_factory=uuid.uuid4)
    relation: uuid.UUID = field(default_factory=uuid.uuid4)
    admins: dict[str, uuid.UUID] = field(default_factory=lambda: {r: uuid.uuid4() for r in ("district_admin", "it_admin", "data_protection", "city_admin")})
    #: role → bearer token from the OpenID provider, once ``sign_in`` ran; development tokens until then
    tokens: dict[str, str] = field(default_factory=dict)

    def events(self) -> list[Any]:
        tag = str(self.school)[:6]
        events: list[Any] = [
            OrganisationUpserted(id=self.district, displayName=f"Område {self.label} {tag}", organisationType="Verksamhetsområde"),
            school_unit(self.school, self.district, name=f"Skola {self.label} {tag}", types=("GR",)),
            PersonUpserted(id=self.teacher), DutyAssigned(id=uuid.uuid4(), person=self.teacher, dutyAt=self.school, dutyRole="Lärare"),
            PersonUpserted(id=self.rektor), DutyAssigned(id=uuid.uuid4(), person=self.rektor, dutyAt=self.school, dutyRole="Rektor"),
            PersonUpserted(id=self.guardian), PersonUpserted(id=self.pupil),
            GuardianRelationAdded(id=self.relation, guardian=self.guardian, pupil=self.pupil, schoolUnit=self.school, schoolType="GR", schoolYear=4),
        ]
        for role, person in self.admins.items():
            events.append(PersonUpserted(id=person))
            if role in ADMIN_DUTIES:
                where, duty = ADMIN_DUTIES[role]
                events.append(DutyAssigned(id=uuid.uuid4(), person=person, dutyAt=self.district if where == "district" else self.school, dutyRole=duty))
        return events

    def person(self, role: str) -> uuid.UUID:
        return {"teacher": self.teacher, "principal": self.rektor, "guardian": self.guardian}.get(role) or self.admins[role]

    def subject(self, role: str) -> str:
        return str(self.person(role))

    def login(self, role: str) -> str:
        return f"{role}-{self.label}-{str(self.school)[:8]}"

    def users(self) -> list[User]:
        """The side's people as the OpenID provider knows them: the person id as subject, the groups of their role."""
        return [User(self.login(role), self.subject(role), [ROLE_GROUPS[role]] if role in ROLE_GROUPS else []) for role in ROLES]

    def sign_in(self, provider: OidcProvider) -> None:
        """Every persona signs in through the provider's code flow; their requests carry its access tokens."""
        provider.add_users(self.users())
        self.tokens = {role: provider.token_for(self.login(role)) for role in ROLES}

    def auth(self, role: str) -> dict[str, str]:
        if role in self.tokens:
            return {"Authorization": "Bearer " + self.tokens[role]}
        return auth(role, subject=self.subject(role), school_units=(str(self.school),), districts=(str(self.district),))


@dataclass
class World:
    own: Side = field(default_factory=lambda: Side("A"))
    other: Side = field(default_factory=lambda: Side("B"))

    @property
    def sides(self) -> tuple[Side, Side]:
        return self.own, self.other

    def callers(self) -> dict[str, tuple[str | None, str | None, dict[str, str]]]:
        """``name → (role, scope, headers)``: anonymous, then every role in each scope."""
        out: dict[str, tuple[str | None, str | None, dict[str, str]]] = {"anonymous": (None, None, {})}
        for role in ROLES:
            out[f"{role}:own"] = (role, "own", self.own.auth(role))
            out[f"{role}:other"] = (role, "other", self.other.auth(role))
        return out


async def publish_world(stack: Stack, http: httpx.AsyncClient, world: World, *, sign_in: bool = True) -> None:
    """Publishes both sides on the broker and waits until all four services hold them; then (``sign_in``, with the
    stack's OpenID provider) every persona signs in, so the world's requests carry the provider's tokens and their
    roles come from the data just published."""
    await send(stack.bootstrap, [wire(e) for side in world.sides for e in side.events()])
    admin = auth("city_admin", subject="matrix-setup")
    schools = [s.school for s in world.sides]

    async def everywhere() -> bool:
        for svc in stack.services.values():
            for school in schools:
                if (await http.get(f"{svc.url}/school-units/{school}", headers=admin)).status_code != 200:
                    return False
        return True

    await eventually(everywhere, timeout=60, what="both school units in every service")
    conn = await asyncpg.connect(stack.admin_url)
    try:
        staff = [p for s in world.sides for p in (s.teacher, s.rektor, *(s.admins[r] for r in ADMIN_DUTIES))]
        guardians = [s.guardian for s in world.sides]

        async def duties() -> bool:
            for schema in ("assessment", "catalog", "notification", "reporting"):
                n = await conn.fetchval(f"SELECT count(*) FROM {schema}.duty WHERE person = ANY($1::uuid[]) AND active", staff)
                g = await conn.fetchval(f"SELECT count(*) FROM {schema}.guardianship WHERE guardian = ANY($1::uuid[]) AND active", guardians)
                if n != len(staff) or g != len(guardians):
                    return False
            return True

        await eventually(duties, timeout=60, what="the world's duties and guardian relations in every service")
    finally:
        await conn.close()
    notification = stack.services["notification"].url

    async def families() -> bool:
        for side in world.sides:
            r = await http.get(f"{notification}/school-units/{side.school}/audience", headers=admin)
            if r.status_code != 200 or r.json()["guardians"] != 1:
                return False
        return True

    await eventually(families, timeout=60, what="the guardian relations in notification")
    if sign_in and stack.oidc is not None:
        for side in world.sides:
            await asyncio.to_thread(side.sign_in, stack.oidc)


# --- the table ------------------------------------------------------------------------------------

Values = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One endpoint: who gets through with a token for the resource's own side, and for the other side."""

    service: str
    method: str
    path: str  # exactly as in the service's OpenAPI document
    own: frozenset[str] = frozenset()
    other: frozenset[str] = frozenset()
    ok: int = 200
    public: bool = False  # no login: every caller, anonymous too, gets ``ok``
    everyone: int | None = None  # every caller gets this status (an endpoint that does not take our tokens)
    params: tuple[tuple[str, Any], ...] = ()  # path values for this row only
    query: tuple[tuple[str, str], ...] = ()  # query parameters; values may name path values in {braces}
    body: Any = None  # JSON, or a function (values, caller) → JSON
    csv: Callable[[Values, str], str] | None = None  # a text/csv body instead of JSON
    fresh: Callable[[Any], Awaitable[Values]] | None = None  # a throwaway resource for every cell
    hide: str | None = None  # a value the other side must not find in a 2xx answer (list endpoints)
    sees_all: frozenset[str] = frozenset({"city_admin"})  # roles that may see ``hide`` from the other side
    serial: bool = False  # the cells one after another (jobs: one run at a time)
    extra: tuple[tuple[str, Callable[[Values], dict[str, str]], int], ...] = ()  # (name, headers, status) more callers

    @property
    def key(self) -> tuple[str, str, str]:
        return self.service, self.method.upper(), self.path

    def expect(self, role: str | None, scope: str | None) -> int:
        if self.public:
            return self.ok
        if self.everyone is not None:
            return self.everyone
        if role is None:
            return 401
        return self.ok if role in (self.own if scope == "own" else self.other) else 403


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - set(ROLES)
    assert not unknown, unknown
    return frozenset(names)


def operator_listing(service: str) -> list[Row]:
    """shared/operator_routes.py: city admins (the operators who run /jobs) list a service's dead letters and
    parked outbox rows, whichever side's token they hold; read-only."""
    city = roles("city_admin")
    return [
        Row(service, "GET", "/operations/dead-letters", own=city, other=city, query=(("limit", "5"),)),
        Row(service, "GET", "/operations/outbox/parked", own=city, other=city, query=(("limit", "5"),)),
    ]




async def openapi_routes(http: httpx.AsyncClient, stack: Stack) -> set[tuple[str, str, str]]:
    """Every (service, METHOD, path) the running services document."""
    routes = set()
    for name, svc in stack.services.items():
        r = await http.get(f"{svc.url}/openapi.json")
        assert r.status_code == 200, (name, r.status_code)
        for path, operations in r.json()["paths"].items():
            routes |= {(name, m.upper(), path) for m in operations if m in METHODS}
    return routes


@dataclass
class Outcome:
    checked: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.checked.values())


def _fill(template: str, values: Values) -> str:
    return template.format(**values) if "{" in template else template


async def _cell(http: httpx.AsyncClient, base: str, row: Row, ctx: Any, shared: Values, name: str, headers: dict[str, str],
                expected: int, scope: str | None, role: str | None, outcome: Outcome) -> None:
    values = {**shared, **dict(row.params), "tag": uuid.uuid4().hex[:10]}
    if row.fresh is not None:
        values.update(await row.fresh(ctx))
    path = _fill(row.path, values)
    query = {k: _fill(v, values) for k, v in row.query}
    kwargs: dict[str, Any] = {"params": query, "headers": dict(headers)}
    if row.csv is not None:
        kwargs["content"] = row.csv(values, name).encode()
        kwargs["headers"]["Content-Type"] = "text/csv"
    elif row.body is not None:
        kwargs["json"] = row.body(values, name) if callable(row.body) else row.body
    r = await http.request(row.method, base + path, **kwargs)
    outcome.checked[row.service] += 1
    where = f"{row.service} {row.method} {row.path} as {name}"
    if r.status_code != expected:
        outcome.failures.append(f"{where}: expected {expected}, got {r.status_code}: {r.text[:300]}")
        return
    if expected in (401, 403) and not r.headers.get("content-type", "").startswith(PROBLEM_JSON):
        outcome.failures.append(f"{where}: {expected} is not a problem document ({r.headers.get('content-type')})")
    if expected == 401 and not r.headers.get("www-authenticate", "").startswith("Bearer"):
        outcome.failures.append(f"{where}: 401 without a WWW-Authenticate: Bearer challenge ({r.headers.get('www-authenticate')!r})")
    if row.hide and 200 <= expected < 300 and scope == "other" and role not in row.sees_all and str(values[row.hide]) in r.text:
        outcome.failures.append(f"{where}: the other side's answer shows {row.hide} {values[row.hide]}")


async def run(http: httpx.AsyncClient, stack: Stack, rows: Iterable[Row], callers: dict[str, tuple[str | None, str | None, dict[str, str]]],
              shared: Values, ctx: Any, *, concurrency: int = 16) -> Outcome:
    """Every row × every caller; collects every mismatch rather than stopping at the first."""
    outcome = Outcome()
    gate = asyncio.Semaphore(concurrency)

    async def one(row: Row, name: str, headers: dict[str, str], expected: int, scope: str | None, role: str | None) -> None:
        async with gate:
            try:
                await _cell(http, stack.services[row.service].url, row, ctx, shared, name, headers, expected, scope, role, outcome)
            except Exception as exc:  # a broken cell is a finding, not a reason to skip the rest
                outcome.failures.append(f"{row.service} {row.method} {row.path} as {name}: {type(exc).__name__}: {exc}")

    for row in rows:
        cells = [(name, headers, row.expect(role, scope), scope, role) for name, (role, scope, headers) in callers.items()]
        cells += [(name, make(shared), status, None, None) for name, make, status in row.extra]
        if row.serial:
            for cell in cells:
                await one(row, *cell)
        else:
            await asyncio.gather(*(one(row, *cell) for cell in cells))
    return outcome
