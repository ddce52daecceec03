"""Who may do what in notification.

A recipient's preferences and inbox: the person themselves (token subject = their person id) or a city
admin. Contact details: the city's systems (a city-admin token) write them, city admins read them back.
Broadcasts: principals, district admins and city admins, each only to the school units they act for; a
broadcast's counts for its sender or whoever acts for all its schools, its per-recipient receipts for
whoever acts for that school. Worklists and audiences: whoever acts for the school unit; the whole city's
quiet-hours bypass log for city admins and data protection. The access log: data protection. The right of
access: data protection and city admins for anyone, everyone else for themselves; its export for whoever
asked. Erasure: city admins and data protection. Reading another person's data also needs a reason
(access_audit.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from uuid import UUID

import asyncpg

from shared.auth import Principal, Role, ensure_school_access
from shared.city.replica import district_of
from shared.problems import Problem

SENDERS = (Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
SCHOOL_READERS = (Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN)
BYPASS_READERS = (Role.PRINCIPAL, Role.DISTRICT_ADMIN, Role.CITY_ADMIN, Role.DATA_PROTECTION)
CONTACT_ADMINS = (Role.CITY_ADMIN,)
ACCESS_LOG_READERS = (Role.DATA_PROTECTION,)
#: who may ask for anyone's export; everyone else only for themselves (token subject = their person id)
ACCESS_OFFICERS = (Role.DATA_PROTECTION, Role.CITY_ADMIN)
ERASURE_OFFICERS = (Role.CITY_ADMIN, Role.DATA_PROTECTION)


def is_caller(caller: Principal, who: str | UUID) -> bool:
    """Whether the token's subject is this person or account."""
    return caller.subject.strip().lower() == str(who).strip().lower()


def ensure_self_or_admin(caller: Principal, person: UUID) -> None:
    if caller.subject.lower() != str(person) and not caller.has_any(Role.CITY_ADMIN):
        raise Problem(403, "Forbidden", "only the person themselves or a city admin may see or change these preferences")


async def ensure_acts_for_school(conn: asyncpg.Connection, caller: Principal, school_unit: UUID) -> None:
    """The caller acts for the school unit (its principal, its district's admin, a city admin)."""
    district = await district_of(conn, school_unit)
    ensure_school_access(caller, str(school_unit), str(district) if district else None)


def ensure_sends_to(caller: Principal, schools: Iterable[asyncpg.Record]) -> None:
    """A broadcast goes only to school units (rows with ``id`` and ``district``) the sender acts for."""
    for school in schools:
        if not caller.may_act_for_school(school["id"], school["district"]):
            raise Problem(403, "Forbidden", f"you do not act for school unit {school['id']}; a broadcast goes only to your own schools")


def ensure_sees_broadcast(caller: Principal, broadcast: asyncpg.Record, schools: list[asyncpg.Record]) -> None:
    """A broadcast's counts: its sender, or whoever acts for every school (rows with ``school_unit``, ``district``) it went to."""
    if broadcast["sender"] != caller.subject and not all(caller.may_act_for_school(s["school_unit"], s["district"]) for s in schools):
        raise Problem(403, "Forbidden", "only the sender, or someone who acts for every school of the broadcast, sees its receipts")


def ensure_sees_receipts(caller: Principal, school_unit: UUID, district: UUID | None) -> None:
    if not caller.may_act_for_school(school_unit, district):
        raise Problem(403, "Forbidden", "per-recipient receipts are for the school's principal (the sender sees counts)")


async def ensure_reads_bypasses(conn: asyncpg.Connection, caller: Principal, school_unit: UUID | None) -> None:
    """The bypass log of a school for whoever acts for it (data protection for any); the whole city's for city admins and data protection."""
    if school_unit is None:
        if not caller.has_any(Role.CITY_ADMIN, Role.DATA_PROTECTION):
            raise Problem(403, "Forbidden", "name a schoolUnitId you act for; the whole city's log is for city admins and data protection")
    elif not caller.has_any(Role.DATA_PROTECTION):
        await ensure_acts_for_school(conn, caller, school_unit)


def ensure_may_request_access(caller: Principal, person: UUID) -> None:
    if not caller.has_any(*ACCESS_OFFICERS) and not is_caller(caller, person):
        raise Problem(403, "Forbidden", "only the data protection officer or a city admin may ask for another person's data; "
                                        "you may ask for your own")


def ensure_requested_by(caller: Principal, requested_by: str) -> None:
    if not is_caller(caller, requested_by):
        raise Problem(403, "Forbidden", "only whoever asked may read an access request")


def check_bearer(authorization: str | None, token: str, *, realm: str, detail: str) -> None:
    """A callback from outside (a gateway, a mail server's bounces) authenticated with its configured bearer token, not a
    person's: compared in constant time; a 401 says how to authenticate (RFC 9110 §11.6.1), and a token that was sent but is
    wrong is an invalid one (RFC 6750 §3.1)."""
    if authorization is None or not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
        challenge = f'Bearer realm="{realm}"' + ("" if authorization is None else ', error="invalid_token"')
        raise Problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": challenge})
