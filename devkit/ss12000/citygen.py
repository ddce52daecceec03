"""A generated city as its school administration system holds it in SS 12000 terms: one Huvudman, its districts
(Förvaltning), school units of every kind, pupils with enrolments, förskola children with placements, guardians named
as the pupils' responsibles, staff with duties, and a class per school year.

Deterministic by seed, and lazy: a city of 100,000 pupils keeps only a few small arrays (where each school's pupils,
families and staff start); every entity is rendered from its index when it is served. That is what lets the test
server hold the city docs/scaling.md plans for in a few MiB rather than a few GiB.

Every person carries what a real system sends and Skolit must never keep: a civic number (Luhn-valid, with the birth
numbers 980–999 that Skatteverket reserves for test persons), e-mail addresses (example domains) and phone numbers
(PTS's series 070-174 06 05–99, reserved for fiction). About 1% of families have "Skyddad folkbokföring" (every member
of the family), about 1% of persons "Sekretessmarkering".
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta


MUNICIPALITY_CODE = "0180"
# The generated history lies before this instant; changes made while serving are stamped with the real clock, always
# later (devkit/ss12000/store.py's clock never goes below it), so "modified after" separates them cleanly.
CREATED_FROM = datetime(2018, 1, 1, tzinfo=UTC)
MODIFIED_FROM = datetime(2025, 6, 1, tzinfo=UTC)
GENERATED_UNTIL = datetime(2025, 8, 15, tzinfo=UTC)
TERM_START = date(2025, 8, 18)

# (label, schoolTypes of the unit, enrolment years, pupils low..high, weight). ~370 pupils per unit on average, so
# ~270 units make the ~100,000 pupils of docs/scaling.md's city.
SCHOOL_KINDS: list[tuple[str, list[str], list[int], tuple[int, int], int]] = [
    ("F-9", ["FKLASS", "GR", "FTH"], list(range(0, 10)), (300, 650), 5),
    ("F-6", ["FKLASS", "GR", "FTH"], list(range(0, 7)), (200, 450), 4),
    ("7-9", ["GR"], [7, 8, 9], (250, 500), 2),
    ("GY", ["GY"], [1, 2, 3], (400, 1200), 2),
    ("GRS", ["GRS"], list(range(1, 10)), (30, 80), 1),
    ("FS", ["FS"], [], (40, 110), 3),
]
SCHOOL_WORDS = ("Ek", "Björk", "Lind", "Tall", "Gran", "Sol", "Sjö", "Berg", "Ros", "Äng", "Hag", "Strand", "Al", "Lönn", "Asp",
                "Hassel", "Vass", "Kvarn", "Skogs", "Hög")
SCHOOL_ENDINGS = ("backen", "dalen", "hagen", "berga", "viken", "lunda", "holmen", "ängen", "gården", "parken", "torp", "udden")
DISTRICT_NAMES = ("Norra", "Södra", "Västra", "Östra", "Centrala", "Innerstaden", "Ytterstaden", "Skärgården", "Söderort", "Västerort")
TEACHING_ROLES = ["Lärare"] * 14 + ["Speciallärare/specialpedagog", "Lärarassistent", "Fritidspedagog", "Kurator", "Skolsköterska",
                                    "Studie- och yrkesvägledare", "Bibliotekarie", "Annan personal"]
PRESCHOOL_ROLES = ["Förskollärare"] * 3 + ["Barnskötare"] * 3 + ["Annan personal"]
DISTRICT_STAFF = 2  # "Övrig arbetsledning" at each district
PHONE_FIRST, PHONE_COUNT = 1740605, 95  # 070-174 06 05 … 070-174 06 99


M64 = (1 << 64) - 1


def mix64(x: int) -> int:
    """SplitMix64's finaliser: a cheap bijection of 64-bit integers that looks random (entities are rendered per request,
    so the per-entity draws must cost little)."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


@functools.lru_cache(maxsize=1024)
def _salt(parts: tuple[object, ...]) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def digest(*parts: object) -> int:
    """A deterministic 64-bit value for (seed, purpose, …, index): the leading parts salt, the last one is mixed in."""
    *salt, last = parts
    if isinstance(last, int):
        return mix64(_salt(tuple(salt)) ^ (last & M64))
    return _salt(parts)


def micros(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000 + t.microsecond


_EPOCH = datetime(1970, 1, 1)


def rfc3339(us: int) -> str:
    """Microseconds since the epoch as RFC 3339 in UTC with microseconds, the form every timestamp here takes."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat(timespec="microseconds") + "Z"


def luhn_digit(digits: str) -> int:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def civic_no(birth: date, rng: random.Random) -> str:
    """YYYYMMDDNNNC with a birth number 980–999 (Skatteverket's test series) and a valid Luhn check digit."""
    body = f"{birth:%y%m%d}{rng.randrange(980, 1000)}"
    return f"{birth.year // 100}{body}{luhn_digit(body)}"


class IdSpace:
    """UUIDs for one resource: random-looking, derived from (seed, resource, index), and reversible to the index
    without a table (the last 48 bits are a keyed bijection of the index; the other 80 a hash of it that checks it)."""

    M48 = (1 << 48) - 1

    def __init__(self, seed: int, resource: str) -> None:
        key = f"{seed}:{resource}"
        self._a, self._b = _salt((key, "a")) & self.M48 | 1, _salt((key, "b")) & self.M48 | 1  # odd: invertible mod 2^48
        self._a_inv, self._b_inv = pow(self._a, -1, 1 << 48), pow(self._b, -1, 1 << 48)
        self._p1, self._p2, self._k = _salt((key, "prefix")), _salt((key, "prefix2")), _salt((key, "k")) & self.M48

    def _permute(self, n: int) -> int:
        n = ((n ^ self._k) * self._a) & self.M48
        n ^= n >> 24
        n = (n * self._b) & self.M48
        return n ^ (n >> 24)

    def _unpermute(self, n: int) -> int:
        n ^= n >> 24  # x ^ (x >> 24) is its own inverse on 48 bits
        n = (n * self._b_inv) & self.M48
        n ^= n >> 24
        return ((n * self._a_inv) & self.M48) ^ self._k

    def _prefix(self, index: int) -> int:
        high = (mix64(self._p1 ^ index) << 16) | (mix64(self._p2 ^ index) & 0xFFFF)
        # version 4 and the RFC 4122 variant (bits 76–79 and 62–63 of the UUID, 48 lower here), so the ids look like every
        # other UUID the city's systems send
        high = (high & ~(0xF << 28)) | (0x4 << 28)
        return (high & ~(0x3 << 14)) | (0x2 << 14)

    def id(self, index: int) -> str:
        return str(uuid.UUID(int=(self._prefix(index) << 48) | self._permute(index)))

    def index(self, ident: str, count: int) -> int | None:
        try:
            value = uuid.UUID(ident).int
        except ValueError:
            return None
        index = self._unpermute(value & ((1 << 48) - 1))
        if index >= count or self._prefix(index) != value >> 48:
            return None
        return index


@dataclass
class School:
    index: int  # organisation index
    name: str
    kind: str
    school_types: list[str]
    years: list[int]
    district: int  # organisation index of its district
    code: str
    pupils: int
    staff: int


@dataclass
class City:
    """The generated city's structure (how many of what, and where each index belongs). Build with ``City.generate``;
    devkit/ss12000/entities.py renders its entities by index."""

    seed: int
    districts: int
    schools: list[School]
    # per school: first child index; per family: first child and first guardian index (arrays: 4 bytes each)
    pupil_start: array[int] = field(default_factory=lambda: array("I"))
    family_child_start: array[int] = field(default_factory=lambda: array("I"))
    family_guardian_start: array[int] = field(default_factory=lambda: array("I"))
    staff_start: array[int] = field(default_factory=lambda: array("I"))  # per school, then per district
    duty_start: array[int] = field(default_factory=lambda: array("I"))  # per staff member
    group_start: array[int] = field(default_factory=lambda: array("I"))  # per school
    preschools: list[int] = field(default_factory=list)  # school positions of the förskolor
    placement_start: array[int] = field(default_factory=lambda: array("I"))  # per förskola
    family_count: int = 0
    child_count: int = 0
    guardian_count: int = 0
    staff_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    # ---- generation ---------------------------------------------------------------------------------------------------
    @classmethod
    def generate(cls, *, schools: int = 12, districts: int = 3, seed: int = 1, school_size: float = 1.0) -> City:
        """``school_size`` scales every school's pupils (0.1: a tenth of a realistic school, for fast unit tests)."""
        if schools < 1 or districts < 1:
            raise ValueError("a city needs at least one district and one school unit")
        rng = random.Random(f"ss12000-city:{seed}")
        city = cls(seed=seed, districts=districts, schools=[])
        names: set[str] = set()
        for s in range(schools):
            kind = SCHOOL_KINDS[s] if s < len(SCHOOL_KINDS) else rng.choices(SCHOOL_KINDS, weights=[k[4] for k in SCHOOL_KINDS])[0]
            label, types, years, (low, high), _ = kind
            base = rng.choice(SCHOOL_WORDS) + rng.choice(SCHOOL_ENDINGS)
            name = {"GY": f"{base}s gymnasium", "FS": f"Förskolan {base}", "GRS": f"{base}skolans anpassade grundskola"}.get(label, f"{base}skolan")
            while name in names:
                name = f"{name} {rng.randrange(2, 10)}"
            names.add(name)
            pupils = max(3, round(rng.randint(low, high) * school_size))
            city.schools.append(School(index=1 + districts + s, name=name, kind=label, school_types=types, years=years,
                                       district=1 + s % districts, code=f"{rng.randrange(10_000_000, 100_000_000)}", pupils=pupils,
                                       # ~1 staff member per 7 pupils: ~14,000 for docs/scaling.md's ~100,000 pupils
                                       staff=max(3, pupils // 7)))
        child = guardian = staff = duty = group = placement = 0
        for pos, school in enumerate(city.schools):
            city.pupil_start.append(child)
            end = child + school.pupils
            while child < end:  # families: 1–3 children (1.5 on average), 1 or 2 guardians (1.7 relations per child)
                city.family_child_start.append(child)
                city.family_guardian_start.append(guardian)
                child = min(end, child + rng.choices((1, 2, 3), weights=(60, 30, 10))[0])
                guardian += 2 if rng.random() < 0.7 else 1
            city.group_start.append(group)
            group += len(school.years)
            if school.kind == "FS":
                city.preschools.append(pos)
                city.placement_start.append(placement)
                placement += school.pupils
        city.family_child_start.append(child)
        city.family_guardian_start.append(guardian)
        city.pupil_start.append(child)
        city.group_start.append(group)
        city.placement_start.append(placement)
        city.family_count = len(city.family_child_start) - 1
        city.child_count, city.guardian_count = child, guardian
        for school in city.schools:
            city.staff_start.append(staff)
            staff += school.staff
        for _ in range(districts):
            city.staff_start.append(staff)
            staff += DISTRICT_STAFF
        city.staff_start.append(staff)
        city.staff_count = staff
        for s in range(staff):  # a few teachers are also förstelärare: a second duty
            city.duty_start.append(duty)
            duty += 2 if city.staff_role(s)[1] == "Lärare" and digest(seed, "förstelärare", s) % 8 == 0 else 1
        city.duty_start.append(duty)
        city.counts = {"organisations": 1 + districts + len(city.schools), "persons": child + guardian + staff, "duties": duty,
                       "placements": placement, "groups": group}
        return city

    # ---- where an index belongs -----------------------------------------------------------------------------------------
    def school_of_child(self, child: int) -> int:
        return bisect.bisect_right(self.pupil_start, child) - 1

    def family_of_child(self, child: int) -> int:
        return bisect.bisect_right(self.family_child_start, child) - 1

    def family_of_guardian(self, guardian: int) -> int:
        return bisect.bisect_right(self.family_guardian_start, guardian) - 1

    def staff_role(self, staff: int) -> tuple[int, str]:
        """(organisation index the staff member works at, their first duty's role)."""
        pos = bisect.bisect_right(self.staff_start, staff) - 1
        if pos >= len(self.schools):
            return 1 + pos - len(self.schools), "Övrig arbetsledning"
        school = self.schools[pos]
        k = staff - self.staff_start[pos]
        if k == 0:
            return school.index, "Rektor"
        if k == 1:
            return school.index, "Skoladministratör"
        if k == 2 and school.kind != "FS":
            return school.index, "IT-samordnare"
        roles = PRESCHOOL_ROLES if school.kind == "FS" else TEACHING_ROLES
        return school.index, roles[digest(self.seed, "role", staff) % len(roles)]

    def year_of(self, school: School, child: int) -> int:
        """Spread over the years by a stride, so that siblings (neighbouring indexes) land in different years."""
        k = child - self.pupil_start[school.index - 1 - self.districts]
        n = len(school.years)
        return school.years[(k * stride(n)) % n]

    # ---- person indexes: children, then guardians, then staff --------------------------------------------------------
    def person_kind(self, index: int) -> tuple[str, int]:
        if index < self.child_count:
            return "child", index
        if index < self.child_count + self.guardian_count:
            return "guardian", index - self.child_count
        return "staff", index - self.child_count - self.guardian_count

    def guardians_of_family(self, family: int) -> range:
        start = self.child_count + self.family_guardian_start[family]
        return range(start, self.child_count + self.family_guardian_start[family + 1])

    def children_of_family(self, family: int) -> range:
        return range(self.family_child_start[family], self.family_child_start[family + 1])


def stride(n: int) -> int:
    for m in (3, 7, 11, 13):
        if math.gcd(m, n) == 1:
            return m % n if n > 1 else 0
    return 1
