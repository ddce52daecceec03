"""The filter that hides protected identities in assessment's and catalog's answers (shared/city/markings.py),
and the why-code of a read in notification's access log (services/notification/access_audit.py), without a
database. Against the live services: tests/integration/test_protected_identities.py and test_access_audit.py."""

from __future__ import annotations

import json
import uuid

import pytest

from services.notification.access_audit import OWN_DATA, REASONS, why
from shared.auth import Principal, Role
from shared.city.markings import PLACEHOLDER, IdsFound, hide, ids_in
from shared.problems import Problem


def test_ids_are_found_anywhere_in_an_answer_whatever_their_case() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    body = json.dumps({"requester": str(a), "history": [{"actor": str(b).upper()}], "detail": {"note": f"asked by {c}."}}).encode()
    assert ids_in(body) == {a, b, c}
    assert ids_in(b'{"items": [], "total": 0}') == set()


def test_an_answer_sent_again_is_not_scanned_again_and_the_remembered_answers_stay_within_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.city.markings as markings

    scans: list[int] = []
    monkeypatch.setattr(markings, "ids_in", lambda body: scans.append(len(body)) or ids_in(body))
    found = IdsFound(budget=1000)
    a, b = uuid.uuid4(), uuid.uuid4()
    first = json.dumps({"id": str(a)}).encode()
    assert found(first) == {a} and found(first) == {a} and found(bytes(bytearray(first))) == {a}  # same bytes, another object too
    assert len(scans) == 1
    assert found(json.dumps({"id": str(b)}).encode()) == {b} and len(scans) == 2
    large = json.dumps({"id": str(a), "pad": "x" * 200}).encode()  # over a tenth of the budget: never kept
    found(large), found(large)
    assert len(scans) == 4
    for _ in range(30):  # 30 answers of ~50 bytes: the oldest go, the held total stays under the budget
        found(json.dumps({"id": str(uuid.uuid4())}).encode())
    assert found._held <= 1000 and first not in found._found


def test_only_the_protected_ids_are_replaced_and_the_answer_stays_valid_json() -> None:
    protected, other = uuid.uuid4(), uuid.uuid4()
    body = json.dumps({"requester": str(protected), "decidedBy": str(other), "detail": {"by": str(protected).upper()},
                       "history": [{"actor": str(protected), "note": f"see {protected}"}], str(protected): 1}).encode()
    out = json.loads(hide(body, {protected}))
    assert out["requester"] == PLACEHOLDER and out["detail"]["by"] == PLACEHOLDER and out["history"][0]["actor"] == PLACEHOLDER
    assert out["history"][0]["note"] == f"see {PLACEHOLDER}" and out[PLACEHOLDER] == 1
    assert out["decidedBy"] == str(other)
    assert str(protected) not in json.dumps(out).lower()
    assert hide(body, set()) is body


def test_csv_is_filtered_the_same_way() -> None:
    protected = uuid.uuid4()
    assert hide(f"id;createdBy\n1;{protected}\n".encode(), {protected}) == f"id;createdBy\n1;{PLACEHOLDER}\n".encode()


def principal(subject: str, *roles: Role) -> Principal:
    return Principal(subject=subject, roles=frozenset(roles))


def test_ones_own_data_needs_no_reason() -> None:
    me = uuid.uuid4()
    assert why(principal(str(me).upper(), Role.GUARDIAN), me, None) == OWN_DATA
    assert why(principal(str(me), Role.GUARDIAN), me, "support") == OWN_DATA  # a reason given for one's own data changes nothing


def test_someone_elses_data_needs_a_reason() -> None:
    admin = principal("city-support", Role.CITY_ADMIN)
    assert why(admin, uuid.uuid4(), "guardian-request") == "guardian-request"
    assert why(admin, None, "delivery-problem") == "delivery-problem"  # a list about many
    with pytest.raises(Problem) as refused:
        why(admin, uuid.uuid4(), None)
    assert refused.value.status == 422 and refused.value.extra["field"] == "reason"
    assert OWN_DATA not in REASONS  # no one may claim someone else's data as their own


# --- the protected persons in memory (issue 24: one query per answer was as costly as the answer's own) ---------------


class FakePool:
    """A pool whose one table is the protected persons; counts the reads (a fake: this is a unit test)."""

    def __init__(self, ids: set[uuid.UUID], *, fail: bool = False) -> None:
        self.ids, self.reads, self.fail = ids, 0, fail

    def acquire(self) -> FakePool:
        return self

    async def __aenter__(self) -> FakePool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, sql: str) -> list[dict[str, uuid.UUID]]:
        assert "security_marking <> 'Ingen'" in sql
        if self.fail:
            raise OSError("database away")
        self.reads += 1
        return [{"id": i} for i in self.ids]


async def test_the_protected_persons_are_read_once_and_again_after_a_committed_change() -> None:
    from shared.city.markings import ProtectedPersons
    from shared.city.replica import markings_changed

    first, second = uuid.uuid4(), uuid.uuid4()
    pool = FakePool({first})
    cache = ProtectedPersons(refresh_seconds=3600)
    assert await cache.current(pool) == {first}
    assert await cache.current(pool) == {first} and pool.reads == 1  # answers in between read nothing
    pool.ids.add(second)
    markings_changed()  # what the consumer calls once a batch that changed a marking has committed
    assert await cache.current(pool) == {first, second} and pool.reads == 2


async def test_markings_another_replica_applied_are_read_within_the_refresh() -> None:
    from shared.city.markings import ProtectedPersons

    protected = uuid.uuid4()
    pool = FakePool(set())
    cache = ProtectedPersons(refresh_seconds=0.0)  # every answer reads again
    assert await cache.current(pool) == frozenset()
    pool.ids.add(protected)  # committed by another process: no generation moved here
    assert await cache.current(pool) == {protected} and pool.reads == 2


async def test_a_set_that_cannot_be_read_fails_the_answer_rather_than_passing_it() -> None:
    from shared.city.markings import ProtectedPersons

    with pytest.raises(OSError):
        await ProtectedPersons().current(FakePool({uuid.uuid4()}, fail=True))

