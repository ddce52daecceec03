"""How a service's handlers and its replicas' handlers make one mapping (shared/service.py, issue 18): a service
replaces a replica's handler only where it says so by name (``ServiceSpec.overrides``); an override it did not
declare, or a declaration that overrides nothing, is an error that names the type."""

from __future__ import annotations

from dataclasses import replace
from importlib import import_module
from pathlib import Path

import asyncpg
import pytest
from fastapi import APIRouter

from shared.city.replica import DUTIES, MARKINGS, ORGANISATIONS, PERSONS, Replica, on_organisation_upserted
from shared.events.city import AppLaunchesCounted, DutyAssigned, OrganisationUpserted, PersonRemoved
from shared.events.envelope import Envelope
from shared.service import HandlerConflict, ServiceSpec

SERVICES = ("assessment", "catalog", "reporting", "notification")
#: which replica handlers each service replaces with its own (each of them calls the replica's)
DECLARED = {
    "assessment": set(),
    "catalog": set(),
    "reporting": {"OrganisationUpserted"},
    "notification": {"GuardianRelationEnded", "PersonRemoved"},
}


async def on_launches(conn: asyncpg.Connection, env: Envelope[AppLaunchesCounted]) -> None:
    pass


async def on_organisation_with_extras(conn: asyncpg.Connection, env: Envelope[OrganisationUpserted]) -> None:
    await on_organisation_upserted(conn, env)


def spec(**kw: object) -> ServiceSpec:
    base = ServiceSpec(name="tests", title="tests", description="", directory=Path("."), router=APIRouter())
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SERVICES)
def test_the_four_services_compose_without_error(name: str) -> None:
    service: ServiceSpec = import_module(f"services.{name}.app").SPEC
    handlers = service.all_handlers()
    assert {m.__name__ for m in service.overrides} == DECLARED[name]
    for replica in service.replicas:
        for model, fn in replica.handlers.items():
            expected = service.handlers[model] if model in service.overrides else fn
            assert handlers.for_type(model.TYPE) is expected, (name, model.__name__)
    for model, fn in service.handlers.items():
        assert handlers.for_type(model.TYPE) is fn, (name, model.__name__)
    assert len(service.consumes()) == len(set(service.consumes())) == len(handlers.by_type)


def test_an_accidental_override_is_an_error_naming_the_type() -> None:
    accidental = spec(replicas=(ORGANISATIONS,), handlers={OrganisationUpserted: on_organisation_with_extras})
    with pytest.raises(HandlerConflict, match=r"OrganisationUpserted.*replica 'organisation'.*overrides=\{OrganisationUpserted"):
        accidental.all_handlers()


def test_a_declared_override_works_and_the_services_handler_wins() -> None:
    meant = spec(replicas=(ORGANISATIONS, DUTIES), handlers={OrganisationUpserted: on_organisation_with_extras, AppLaunchesCounted: on_launches},
                 overrides=frozenset({OrganisationUpserted}))
    handlers = meant.all_handlers()
    assert handlers.for_type(OrganisationUpserted.TYPE) is on_organisation_with_extras
    assert handlers.for_type(DutyAssigned.TYPE) is DUTIES.handlers[DutyAssigned]  # the other replica handlers stay
    assert handlers.for_type(AppLaunchesCounted.TYPE) is on_launches


def test_a_declared_override_that_overrides_nothing_is_an_error() -> None:
    nothing = spec(replicas=(DUTIES,), handlers={OrganisationUpserted: on_organisation_with_extras}, overrides=frozenset({OrganisationUpserted}))
    with pytest.raises(HandlerConflict, match="OrganisationUpserted.*nothing to override"):
        nothing.all_handlers()


def test_a_declared_override_without_a_handler_of_its_own_is_an_error() -> None:
    missing = spec(replicas=(ORGANISATIONS,), overrides=frozenset({OrganisationUpserted}))
    with pytest.raises(HandlerConflict, match="OrganisationUpserted.*no handler of its own"):
        missing.all_handlers()


def test_two_replicas_with_different_handlers_for_one_type_are_an_error() -> None:
    both = spec(replicas=(PERSONS, MARKINGS))
    # the first type both replicas handle with a handler of their own is named (PersonUpserted: MARKINGS' tells the filter)
    with pytest.raises(HandlerConflict, match=r"'person'.*'person_marking'.*(PersonUpserted|PersonRemoved)"):
        both.all_handlers()


def test_the_same_handler_twice_is_no_override() -> None:
    again = Replica("organisation_again", {OrganisationUpserted: on_organisation_upserted})
    same = spec(replicas=(ORGANISATIONS, again), handlers={OrganisationUpserted: on_organisation_upserted})
    assert same.all_handlers().for_type(OrganisationUpserted.TYPE) is on_organisation_upserted


def test_the_error_names_the_handlers_involved() -> None:
    accidental = spec(replicas=(PERSONS,), handlers={PersonRemoved: on_organisation_with_extras})
    with pytest.raises(HandlerConflict) as raised:
        accidental.all_handlers()
    assert "on_organisation_with_extras" in str(raised.value) and "on_person_removed" in str(raised.value)
