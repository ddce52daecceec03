"""Contact details: the city's systems record them (one person or many at once), city admins read them
back with a reason; every write and read is in the access log (access_audit.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.notification.access_audit import CITY_SYNC, Action, log_at, log_each_at
from services.notification.settings import KEYS
from services.notification.store import contacts as store
from shared.auth import Principal
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork


@dataclass(frozen=True)
class ContactDetails:
    email: str | None = None
    mobile: str | None = None
    push_token: str | None = None
    language: str = "sv"


async def put_contacts(uow: UnitOfWork, caller: Principal, person: UUID, details: ContactDetails, *, path: str) -> dict[str, Any]:
    """One person's contact details, encrypted; 404 for a person not known from the city's events."""
    if not await store.person_known(uow.conn, person):
        raise Problem(404, "Not found", f"person {person} is not known from the city's events")
    await store.save_contact(uow.conn, person=person, key_id=KEYS.current, email=KEYS.encrypt(person, details.email),
                             mobile=KEYS.encrypt(person, details.mobile), push_token=KEYS.encrypt(person, details.push_token),
                             language=details.language, actor=caller.subject)
    await log_at(uow.conn, path, caller, Action.CONTACT_WRITE, why_code=CITY_SYNC, subject=person)
    return {"personId": str(person),
            "channels": [c for c, v in (("email", details.email), ("sms", details.mobile), ("push", details.push_token)) if v],
            "language": details.language}


async def put_many_contacts(uow: UnitOfWork, caller: Principal, items: list[tuple[UUID, ContactDetails]], *, path: str) -> dict[str, Any]:
    """Many persons' contact details, all or nothing."""
    persons = [person for person, _ in items]
    if len(set(persons)) != len(persons):
        raise rejected(422, "a person appears more than once in the batch", "items")
    unknown = await store.unknown_persons(uow.conn, persons)
    if unknown:
        raise rejected(422, f"{len(unknown)} person(s) not known from the city's events, e.g. {unknown[0]}; nothing was stored", "items")
    await store.save_contacts(uow.conn, [(p, KEYS.current, KEYS.encrypt(p, d.email), KEYS.encrypt(p, d.mobile), KEYS.encrypt(p, d.push_token),
                                          d.language) for p, d in items], caller.subject)
    await log_each_at(uow.conn, path, caller, Action.CONTACT_WRITE, why_code=CITY_SYNC, subjects=persons)
    return {"stored": len(items)}


async def read_contacts(uow: UnitOfWork, caller: Principal, person: UUID, reason: str, *, path: str) -> dict[str, Any]:
    """A person's contact details in clear, the read logged with its reason."""
    row = await store.contact(uow.conn, person)
    if row is None:
        raise Problem(404, "Not found", f"no contact details for person {person}")
    await log_at(uow.conn, path, caller, Action.CONTACT_READ, why_code=reason, subject=person)
    return {"personId": str(person), "email": KEYS.decrypt(row["key_id"], person, row["email"]),
            "mobile": KEYS.decrypt(row["key_id"], person, row["mobile"]), "pushToken": KEYS.decrypt(row["key_id"], person, row["push_token"]),
            "language": row["language"], "updatedAt": row["updated_at"].isoformat()}
