"""What a person signed in with the city's identity provider may do, from the city's data (docs/decisions/0014).

The provider's token says who the caller is (an SS 12000 person id) and which IdP groups they are in. Everything
else comes from the replicas of the city's data the service already keeps (shared/city/replica.py):

- a current duty with dutyRole Rektor at a school unit → principal of that school unit;
- a current duty in a teaching role (Lärare, Förskollärare, Förstelärare, Speciallärare/specialpedagog) → teacher there;
- an active guardian relation → guardian, with the pupils' school units — counted only for a person who holds no other
  role, since a Principal's school units are shared by its roles (a teacher who is also a parent elsewhere must not
  become a teacher at the child's school);
- the configured IdP groups → city admin, district admin, IT admin, data protection. District admins and IT admins act
  for the districts the city's data places them in: the districts (parents of school units, or Verksamhetsområde
  organisations) where they hold a duty, and the district of each school unit where they hold one. City admins and
  data protection are city-wide.

A person with none of these has no role: an endpoint that needs one answers 403. ``principal_for`` is the pure mapping;
``Authority`` reads the facts for one person and keeps the answer for a short while (``cache_seconds``, 30 by default),
so an ended duty stops counting within that time of the service applying the city's event.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.auth import Identity, IdentityMapping, Principal, Role
from shared.events.city import DutyRole, OrganisationType
from shared.problems import Problem

__all__ = ["TEACHING_DUTIES", "Authority", "DutyFact", "GuardianFact", "authority_of", "load_facts", "principal_for"]

#: SS 12000 duty roles whose holders teach: each makes its holder a teacher of the school unit it is held at
TEACHING_DUTIES = frozenset({DutyRole.LARARE.value, DutyRole.FORSKOLLARARE.value, DutyRole.FORSTELARARE.value,
                             DutyRole.SPECIALPEDAGOG.value})
#: organisation types that are districts even before a school unit names them as its parent
DISTRICT_TYPES = frozenset({OrganisationType.VERKSAMHETSOMRADE.value})
#: the roles whose holders act for districts (shared.auth.Principal.may_act_for_school)
DISTRICT_ROLES = frozenset({Role.DISTRICT_ADMIN, Role.IT_ADMIN})
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class DutyFact:
    """A current duty of the person: its SS 12000 role and where it is held."""

    role: str
    at: str
    #: the district of ``at``: ``at`` itself when it is a district, the school unit's parent when it is a school unit
    district: str | None = None
    at_school_unit: bool = True


@dataclass(frozen=True)
class GuardianFact:
    """An active guardian relation: the pupil's school unit."""

    school_unit: str


def _id(value: Any) -> str:
    return str(value).strip().lower()


def principal_for(identity: Identity, duties: Iterable[DutyFact], guardianships: Iterable[GuardianFact],
                  role_groups: Mapping[str, frozenset[Role]]) -> Principal:
    """The Principal the city's data and the person's groups make of ``identity`` (pure: no I/O)."""
    duties = list(duties)
    roles: set[Role] = set()
    schools: set[str] = set()
    for group in identity.groups:
        roles |= role_groups.get(group, frozenset())
    for duty in duties:
        if not duty.at_school_unit:
            continue
        if duty.role == DutyRole.REKTOR.value:
            roles.add(Role.PRINCIPAL)
            schools.add(_id(duty.at))
        elif duty.role in TEACHING_DUTIES:
            roles.add(Role.TEACHER)
            schools.add(_id(duty.at))
    districts: set[str] = set()
    if roles & DISTRICT_ROLES:
        districts = {_id(d.district) for d in duties if d.district is not None}
    guarded = {_id(g.school_unit) for g in guardianships}
    if guarded and not roles:
        roles.add(Role.GUARDIAN)
        schools |= guarded
    elif guarded:
        roles.add(Role.GUARDIAN)  # a parent too: their own inbox and preferences, but no school scope from the child
    return Principal(subject=identity.subject, roles=frozenset(roles), school_units=frozenset(schools),
                     districts=frozenset(districts), name=identity.name)


DUTIES = """
    SELECT d.duty_role, d.duty_at,
           o.organisation_type = $2 AS at_school_unit,
           CASE WHEN o.organisation_type = $2 THEN o.parent_organisation
                WHEN o.organisation_type = ANY($3::text[])
                     OR EXISTS (SELECT 1 FROM organisation c WHERE c.parent_organisation = d.duty_at AND c.organisation_type = $2)
                THEN d.duty_at END AS district
    FROM duty d LEFT JOIN organisation o ON o.id = d.duty_at AND NOT o.deleted
    WHERE d.person = $1 AND d.active
      AND (d.start_date IS NULL OR d.start_date <= current_date) AND (d.end_date IS NULL OR d.end_date >= current_date)
"""
GUARDIANSHIPS = """
    SELECT DISTINCT school_unit FROM guardianship
    WHERE guardian = $1 AND active AND (end_date IS NULL OR end_date >= current_date)
"""


async def load_facts(conn: asyncpg.Connection, person: uuid.UUID) -> tuple[list[DutyFact], list[GuardianFact]]:
    """The person's current duties and guardian relations in this service's replicas."""
    duties = [
        DutyFact(role=r["duty_role"], at=str(r["duty_at"]), district=str(r["district"]) if r["district"] else None,
                 at_school_unit=bool(r["at_school_unit"]))
        for r in await conn.fetch(DUTIES, person, OrganisationType.SKOLENHET.value, sorted(DISTRICT_TYPES))
    ]
    guardianships = [GuardianFact(school_unit=str(r["school_unit"])) for r in await conn.fetch(GUARDIANSHIPS, person)]
    return duties, guardianships


class Authority:
    """Derives Principals for provider tokens from one service's replicas, with a short per-person cache. A process that
    keeps no replica of the city's duties and relations (``city_data=False``: the connector) gives the roles of the
    person's IdP groups only."""

    def __init__(self, pool: asyncpg.Pool | None, mapping: IdentityMapping, *, city_data: bool = True) -> None:
        self.pool = pool
        self.mapping = mapping
        self.city_data = city_data
        self._cache: OrderedDict[tuple[str, frozenset[str], str | None], tuple[float, Principal]] = OrderedDict()
        self._lock = asyncio.Lock()

    async def principal(self, identity: Identity) -> Principal:
        key = (identity.subject, identity.groups, identity.name)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.mapping.cache_seconds:
            return hit[1]
        principal = principal_for(identity, *await self._facts(identity.subject), self.mapping.role_groups)
        async with self._lock:
            self._cache[key] = (now, principal)
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal

    async def _facts(self, subject: str) -> tuple[list[DutyFact], list[GuardianFact]]:
        try:
            person = uuid.UUID(subject)
        except ValueError:
            return [], []  # not an SS 12000 person id: the city's data knows nothing of them
        if not self.city_data:
            return [], []
        if self.pool is None:
            raise Problem(503, "Service unavailable", "the city's data is not available yet", headers={"Retry-After": "5"})
        try:
            async with self.pool.acquire() as conn:
                return await load_facts(conn, person)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            raise Problem(503, "Service unavailable", "the city's data is not available right now", headers={"Retry-After": "5"}) from None

    def forget(self) -> None:
        self._cache.clear()


def authority_of(app: Any, mapping: IdentityMapping) -> Authority:
    """The app's Authority (one per service process), made on first use from ``app.state.pool``; ``app.state.city_data``
    (shared/app.py) says whether the service keeps the city's duties and relations."""
    authority: Authority | None = getattr(app.state, "authority", None)
    pool = getattr(app.state, "pool", None)
    if authority is None or authority.pool is not pool:
        authority = Authority(pool, mapping, city_data=getattr(app.state, "city_data", True))
        app.state.authority = authority
    return authority
