"""A table-driven authorisation matrix over the live services, and the small city it runs against.

The city has two sides, each a district with one school unit and its people (a teacher and a Rektor
by the city's duty data, a guardian of a pupil there). Every role calls every endpoint twice: once
with a token scoped to the side that owns the resource ("own": its school unit and district) and
once scoped to the other side ("other"). A row of the table names, for one endpoint, the roles that
get through in each scope; every other caller is refused — 401 without a token, 403 otherwise.
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
from tests.support.stack import Stack, auth

ROLES = ("teacher", "principal", "district_admin", "it_admin", "data_protection", "guardian", "city_admin")
SCOPES = ("own", "other")
METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM_JSON = "application/problem+json"


@dataclass
class Side:
    """A district with one compulsory school unit, a teacher and a Rektor there, a guardian of a pupil there."""

    label: str
    district: uuid.UUID = field(default_factory=uuid.uuid4)
    school: uuid.UUID = field(default_factory=uuid.uuid4)
    teacher: uuid.UUID = field(default_factory=uuid.uuid4)
    rektor: uuid.UUID = field(default_factory=uuid.uuid4)
    guardian: uuid.UUID = field(default_factory=uuid.uuid4)
    pupil: uuid.UUID = field(default_factory=uuid.uuid4)
    relation: uuid.UUID = field(default_factory=uuid.uuid4)

    def events(self) -> list[Any]:
        tag = str(self.school)[:6]
        return [
            OrganisationUpserted(id=self.district, displayName=f"Område {self.label} {tag}", organisationType="Verksamhetsområde"),
            school_unit(self.school, self.district, name=f"Skola {self.label} {tag}", types=("GR",)),
            PersonUpserted(id=self.teacher), DutyAssigned(id=uuid.uuid4(), person=self.teacher, dutyAt=self.school, dutyRole="Lärare"),
            PersonUpserted(id=self.rektor), DutyAssigned(id=uuid.uuid4(), person=self.rektor, dutyAt=self.school, dutyRole="Rektor"),
            PersonUpserted(id=self.guardian), PersonUpserted(id=self.pupil),
            GuardianRelationAdded(id=self.relation, guardian=self.guardian, pupil=self.pupil, schoolUnit=self.school, schoolType="GR", schoolYear=4),
        ]

    def subject(self, role: str) -> str:
        """People the city's data knows act as themselves; the other roles need no person of their own."""
        person = {"teacher": self.teacher, "principal": self.rektor, "guardian": self.guardian}.get(role)
        return str(person) if person else f"{role}-{self.label}-{str(self.school)[:8]}"

    def auth(self, role: str) -> dict[str, str]:
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


async def publish_world(stack: Stack, http: httpx.AsyncClient, world: World) -> None:
    """Publishes both sides on the broker and waits until all four services hold them."""
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
        staff = [p for s in world.sides for p in (s.teacher, s.rektor)]

        async def duties() -> bool:
            for schema in ("assessment", "catalog", "notification"):
                n = await conn.fetchval(f"SELECT count(*) FROM {schema}.duty WHERE person = ANY($1::uuid[]) AND active", staff)
                if n != len(staff):
                    return False
            return True

        await eventually(duties, timeout=60, what="the teachers' and Rektors' duties in assessment, catalog and notification")
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
