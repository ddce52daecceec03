"""Contact details over HTTP: the city's systems (a city-admin token) write them; reading them back is
for city admins only, with a reason; every read and write is in the access log (access_audit.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.notification import store
from services.notification.access_audit import CITY_SYNC, REASON_HELP, Action, Reason, log, log_each
from services.notification.crypto import Keyring
from shared.auth import Principal, Role, require
from shared.problems import Problem, documented, rejected

router = APIRouter(tags=["contacts"])
KEYS = Keyring.from_env()


class Contacts(BaseModel):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["anna@example.se"])
    mobile: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164, e.g. +46701234567")
    pushToken: str | None = Field(default=None, max_length=4096)
    language: str = Field(default="sv", pattern=r"^[a-z]{2,3}$")


@router.put("/persons/{person_id}/contacts", summary="Record a person's contact details (the city's systems)", responses=documented(401, 403, 404, 422))
async def put_contacts(request: Request, person_id: UUID, body: Contacts, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        if not await store.person_known(conn, person_id):
            raise Problem(404, "Not found", f"person {person_id} is not known from the city's events")
        await store.save_contact(conn, person=person_id, key_id=KEYS.current, email=KEYS.encrypt(person_id, body.email),
                                 mobile=KEYS.encrypt(person_id, body.mobile), push_token=KEYS.encrypt(person_id, body.pushToken),
                                 language=body.language, actor=caller.subject)
        await log(conn, request, caller, Action.CONTACT_WRITE, why_code=CITY_SYNC, subject=person_id)
    return {"personId": str(person_id), "channels": [c for c, v in (("email", body.email), ("sms", body.mobile), ("push", body.pushToken)) if v],
            "language": body.language}


class PersonContacts(Contacts):
    personId: UUID


class ContactBatch(BaseModel):
    items: list[PersonContacts] = Field(min_length=1, max_length=5000)


@router.put("/contacts", summary="Record many persons' contact details at once (the city's systems; all or nothing)",
            responses=documented(401, 403, 422))
async def put_many(request: Request, body: ContactBatch, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    persons = [i.personId for i in body.items]
    if len(set(persons)) != len(persons):
        raise rejected(422, "a person appears more than once in the batch", "items")
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        unknown = await store.unknown_persons(conn, persons)
        if unknown:
            raise rejected(422, f"{len(unknown)} person(s) not known from the city's events, e.g. {unknown[0]}; nothing was stored", "items")
        await store.save_contacts(conn, [(i.personId, KEYS.current, KEYS.encrypt(i.personId, i.email), KEYS.encrypt(i.personId, i.mobile),
                                          KEYS.encrypt(i.personId, i.pushToken), i.language) for i in body.items], caller.subject)
        await log_each(conn, request, caller, Action.CONTACT_WRITE, why_code=CITY_SYNC, subjects=persons)
    return {"stored": len(body.items)}


@router.get("/persons/{person_id}/contacts", summary="Read a person's contact details (city admins, with a reason; logged)",
            responses=documented(401, 403, 404, 422))
async def get_contacts(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))],
                       reason: Annotated[Reason, Query(description=REASON_HELP)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await store.contact(conn, person_id)
        if row is None:
            raise Problem(404, "Not found", f"no contact details for person {person_id}")
        await log(conn, request, caller, Action.CONTACT_READ, why_code=reason, subject=person_id)
    return {"personId": str(person_id), "email": KEYS.decrypt(row["key_id"], person_id, row["email"]),
            "mobile": KEYS.decrypt(row["key_id"], person_id, row["mobile"]), "pushToken": KEYS.decrypt(row["key_id"], person_id, row["push_token"]),
            "language": row["language"], "updatedAt": row["updated_at"].isoformat()}
