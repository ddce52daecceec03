"""People as staff see them: ``PersonRef`` from the city's person replica (names from SS 12000 givenName/familyName).

A protected identity (any securityMarking but Ingen) is shown to nobody but the person themselves: neither
id nor name (``HideProtectedIdentities`` stays behind this as the net for ids in free text). A person the
replica does not know, or one erased, is shown by id without a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg

from shared.http.models import PersonRef

# Both person replicas (PERSONS, MARKINGS) have these columns (shared/city/migrations/person_name.sql).
_PEOPLE = "SELECT id, security_marking, removed, given_name, family_name FROM person WHERE id = ANY($1::uuid[])"


def _uuid(value: Any) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def display_name(given: str | None, family: str | None) -> str | None:
    name = " ".join(part.strip() for part in (given, family) if part and part.strip())
    return name or None


async def person_refs(conn: asyncpg.Connection, ids: Iterable[Any], *, viewer: str | None = None) -> dict[UUID, PersonRef]:
    """``PersonRef`` for each id (ids that are not UUIDs, e.g. a system actor, are left out: callers show those as they are)."""
    wanted = {u for u in (_uuid(i) for i in ids) if u is not None}
    if not wanted:
        return {}
    rows = {r["id"]: r for r in await conn.fetch(_PEOPLE, list(wanted))}
    own = _uuid(viewer)
    refs: dict[UUID, PersonRef] = {}
    for person in wanted:
        row = rows.get(person)
        if row is not None and row["security_marking"] != "Ingen" and person != own:
            refs[person] = PersonRef(id=None, name=None, protected=True)
        elif row is None or row["removed"]:
            refs[person] = PersonRef(id=person, name=None)
        else:
            refs[person] = PersonRef(id=person, name=display_name(row["given_name"], row["family_name"]))
    return refs


def ref_or_none(refs: dict[UUID, PersonRef], value: Any) -> PersonRef | None:
    """The reference of one id looked up with ``person_refs`` (None for no id)."""
    person = _uuid(value)
    if person is None:
        return None
    return refs.get(person) or PersonRef(id=person, name=None)


#: the service's own rules that act (actor values ``skolit:<rule>``), as readers see them
_SYSTEM = {"sv": "Skolit (automatiskt)", "en": "Skolit (automatic)"}
_RULES = {
    "carry-forward": {"sv": "Skolit (överfört från förra årets självskattning)", "en": "Skolit (carried from last year's self-assessment)"},
    "retention": {"sv": "Skolit (gallring)", "en": "Skolit (retention)"},
    "catalog-rules": {"sv": "Skolit (programbankens regler)", "en": "Skolit (programbank rules)"},
    "dpa-expiry": {"sv": "Skolit (personuppgiftsbiträdesavtalet gick ut)", "en": "Skolit (data processing agreement expired)"},
}
ERASED = "erased"


def actor_ref(refs: dict[UUID, PersonRef], value: Any, lang: str = "sv") -> PersonRef | None:
    """Whoever did something, always as a ``PersonRef``: a person looked up with ``person_refs``; an erased person
    (``erased``: no id, no name); or a rule of the service or a service account (``kind: system``, named for the reader)."""
    if value is None:
        return None
    ref = ref_or_none(refs, value)
    if ref is not None:
        return ref
    text = str(value)
    if text == ERASED:
        return PersonRef(id=None, name=None, kind="erased")
    if text.startswith("skolit:"):
        names = _RULES.get(text.removeprefix("skolit:"), _SYSTEM)
        return PersonRef(id=None, name=names.get(lang, names["sv"]), kind="system")
    return PersonRef(id=None, name=text, kind="system")  # a service account's subject (an integration, a development token)
