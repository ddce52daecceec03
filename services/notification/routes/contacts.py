"""Contact details over HTTP: the city's systems (a city-admin token) write them; reading them back is
for city admins only, with a reason; every read and write is in the access log (access_audit.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.notification import access, usecases
from services.notification.access_audit import REASON_HELP, Reason
from services.notification.schemas import ContactBatchStored, ContactDetails, ContactsStored
from services.notification.settings import SOURCE
from shared.auth import Principal, require
from shared.problems import documented
from shared.uow import unit_of_work

router = APIRouter(tags=["contacts"])


class Contacts(BaseModel):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["anna@example.se"])
    mobile: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$", description="E.164, e.g. +46701234567")
    pushToken: str | None = Field(default=None, max_length=4096)
    language: str = Field(default="sv", pattern=r"^[a-z]{2,3}$")

    def details(self) -> usecases.ContactDetails:
        return usecases.ContactDetails(email=self.email, mobile=self.mobile, push_token=self.pushToken, language=self.language)


@router.put("/persons/{person_id}/contacts", summary="Record a person's contact details (the city's systems)", response_model=ContactsStored,
            responses=documented(401, 403, 404, 422))
async def put_contacts(request: Request, person_id: UUID, body: Contacts,
                       caller: Annotated[Principal, Depends(require(*access.CONTACT_ADMINS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.put_contacts(uow, caller, person_id, body.details(), path=request.url.path)


class PersonContacts(Contacts):
    personId: UUID


class ContactBatch(BaseModel):
    items: list[PersonContacts] = Field(min_length=1, max_length=5000)


@router.put("/contacts", summary="Record many persons' contact details at once (the city's systems; all or nothing)",
            response_model=ContactBatchStored, responses=documented(401, 403, 422))
async def put_many_contacts(request: Request, body: ContactBatch, caller: Annotated[Principal, Depends(require(*access.CONTACT_ADMINS))]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.put_many_contacts(uow, caller, [(i.personId, i.details()) for i in body.items], path=request.url.path)


@router.get("/persons/{person_id}/contacts", summary="Read a person's contact details (city admins, with a reason; logged)",
            response_model=ContactDetails, responses=documented(401, 403, 404, 422))
async def get_contacts(request: Request, person_id: UUID, caller: Annotated[Principal, Depends(require(*access.CONTACT_ADMINS))],
                       reason: Annotated[Reason, Query(description=REASON_HELP)]) -> dict[str, Any]:
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        return await usecases.read_contacts(uow, caller, person_id, reason, path=request.url.path)
