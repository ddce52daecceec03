"""Names of people (shared/city/people.py): who is shown by name, by id alone, or not at all — the rules without a
database (the replica's rows as ``person_refs`` reads them); tests/integration/test_person_names.py runs them against a
service's real replica."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.city.people import display_name, person_refs, ref_or_none
from shared.events.city import PersonUpserted
from shared.http.models import PersonRef


class Replica:
    """Rows of the person replica, answered as asyncpg answers ``person_refs``'s one query (dicts for records)."""

    def __init__(self, *rows: dict[str, Any]) -> None:
        self.rows = {r["id"]: r for r in rows}
        self.asked: list[list[uuid.UUID]] = []

    async def fetch(self, query: str, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        assert "FROM person" in query and "given_name" in query and "family_name" in query
        self.asked.append(ids)
        return [self.rows[i] for i in ids if i in self.rows]


def row(pid: uuid.UUID, given: str | None = "Karin", family: str | None = "Lindqvist", marking: str = "Ingen",
        removed: bool = False) -> dict[str, Any]:
    return {"id": pid, "security_marking": marking, "removed": removed, "given_name": given, "family_name": family}


@pytest.mark.parametrize(("given", "family", "shown"), [
    ("Karin", "Lindqvist", "Karin Lindqvist"), ("Karin", None, "Karin"), (None, "Lindqvist", "Lindqvist"),
    ("  Karin ", " Lindqvist  ", "Karin Lindqvist"), ("Anna-Karin", "af Klint", "Anna-Karin af Klint"),
    (None, None, None), ("", "  ", None),
])
def test_display_name_is_given_then_family_name(given: str | None, family: str | None, shown: str | None) -> None:
    assert display_name(given, family) == shown


async def test_a_known_person_is_shown_by_id_and_name() -> None:
    karin = uuid.uuid4()
    refs = await person_refs(Replica(row(karin)), [karin, str(karin)], viewer="someone-else")
    assert refs == {karin: PersonRef(id=karin, name="Karin Lindqvist", protected=False)}


async def test_a_protected_identity_is_shown_to_others_by_neither_id_nor_name() -> None:
    hidden, open_ = uuid.uuid4(), uuid.uuid4()
    replica = Replica(row(hidden, "Sara", "Berg", marking="Skyddad folkbokföring"), row(open_, marking="Ingen"))
    for viewer in (None, str(open_), "city-sync", "not-a-uuid"):
        refs = await person_refs(replica, [hidden, open_], viewer=viewer)
        assert refs[hidden] == PersonRef(id=None, name=None, protected=True), viewer
        assert "Sara" not in refs[hidden].model_dump_json() and str(hidden) not in refs[hidden].model_dump_json()
        assert refs[open_].name == "Karin Lindqvist"
    refs = await person_refs(Replica(row(hidden, "Sara", "Berg", marking="Sekretessmarkering")), [hidden])
    assert refs[hidden].protected and refs[hidden].id is None  # every marking but Ingen


async def test_the_person_sees_themselves_by_id_and_name_even_when_protected() -> None:
    me = uuid.uuid4()
    replica = Replica(row(me, "Sara", "Berg", marking="Skyddad folkbokföring"))
    for viewer in (str(me), str(me).upper(), me):
        refs = await person_refs(replica, [me], viewer=viewer)  # type: ignore[arg-type]
        assert refs[me] == PersonRef(id=me, name="Sara Berg", protected=False)


async def test_a_removed_person_is_shown_by_id_without_a_name_and_a_removed_protected_one_stays_hidden() -> None:
    gone, gone_protected = uuid.uuid4(), uuid.uuid4()
    replica = Replica(row(gone, removed=True), row(gone_protected, "Sara", "Berg", marking="Skyddad folkbokföring", removed=True))
    refs = await person_refs(replica, [gone, gone_protected], viewer="someone-else")
    assert refs[gone] == PersonRef(id=gone, name=None)
    assert refs[gone_protected] == PersonRef(id=None, name=None, protected=True)


async def test_unknown_persons_are_shown_by_id_and_non_person_actors_are_left_out() -> None:
    stranger = uuid.uuid4()
    replica = Replica()
    refs = await person_refs(replica, [stranger, "skolit:carry-forward", None, "erased"], viewer=None)
    assert refs == {stranger: PersonRef(id=stranger, name=None)}
    assert replica.asked == [[stranger]]
    assert await person_refs(Replica(), ["skolit:dpa-expiry"]) == {}


async def test_ref_or_none_falls_back_to_the_id() -> None:
    known, other = uuid.uuid4(), uuid.uuid4()
    refs = await person_refs(Replica(row(known)), [known])
    assert ref_or_none(refs, str(known)) == refs[known]
    assert ref_or_none(refs, other) == PersonRef(id=other, name=None)
    assert ref_or_none(refs, None) is None and ref_or_none(refs, "skolit:carry-forward") is None


def test_the_city_contract_carries_names_optionally_and_bounded() -> None:
    pid = uuid.uuid4()
    assert PersonUpserted(id=pid).givenName is None
    named = PersonUpserted.model_validate({"id": str(pid), "givenName": "Åsa", "familyName": "Öberg"})
    assert (named.givenName, named.familyName) == ("Åsa", "Öberg")
    with pytest.raises(ValueError):
        PersonUpserted(id=pid, givenName="x" * 201)


def test_every_actor_is_a_person_ref_whatever_acted() -> None:
    from shared.city.people import actor_ref

    assert actor_ref({}, None) is None
    erased = actor_ref({}, "erased")
    assert erased is not None and (erased.kind, erased.id, erased.name) == ("erased", None, None)
    rule = actor_ref({}, "skolit:carry-forward", "en")
    assert rule is not None and rule.kind == "system" and rule.name == "Skolit (carried from last year's self-assessment)"
    other_rule = actor_ref({}, "skolit:some-new-rule")
    assert other_rule is not None and other_rule.name == "Skolit (automatiskt)"
    person = uuid.uuid4()
    looked_up = actor_ref({person: PersonRef(id=person, name="Anna Lindqvist")}, str(person))
    assert looked_up is not None and looked_up.kind == "person" and looked_up.name == "Anna Lindqvist"
