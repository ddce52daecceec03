"""The privacy part a service declares (shared/privacy/part.py, issue 18): the runtime adds the AccessRequested and
ErasureRequested handlers and the retention job from it; a service's own handler replaces one of them only where
``ServiceSpec.overrides`` says so, as for a replica's handler."""

from __future__ import annotations

from dataclasses import replace
from importlib import import_module
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from fastapi import APIRouter

from shared.events.assessment import AssessmentDataErased, AssessmentDataExported
from shared.events.envelope import Envelope
from shared.events.notification import AccessRequested, ErasureRequested
from shared.privacy import export
from shared.privacy.datamap import ServiceMap
from shared.privacy.part import PrivacyPart
from shared.retention import messaging
from shared.service import HandlerConflict, ServiceSpec

SERVICES = ("assessment", "catalog", "reporting", "notification")


async def erase(conn: asyncpg.Connection, person: UUID) -> dict[str, int]:
    return {}


async def own_erasure(conn: asyncpg.Connection, env: Envelope[ErasureRequested]) -> None:
    pass


PART = PrivacyPart(data_map=ServiceMap("tests", (), ()), retention=messaging(), gather=export.gathering({}),
                   exported=AssessmentDataExported, erase=erase, erased=AssessmentDataErased)


def spec(**kw: object) -> ServiceSpec:
    base = ServiceSpec(name="tests", title="tests", description="", directory=Path("."), router=APIRouter(), privacy=PART)
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_declares_its_part_and_gets_the_shared_handlers_and_the_retention_job(name: str) -> None:
    service: ServiceSpec = import_module(f"services.{name}.app").SPEC
    assert service.privacy is not None and service.privacy.data_map.schema == name
    handlers = service.all_handlers()
    assert handlers.for_type(ErasureRequested.TYPE) is not None
    # notification owns the access requests and gathers its own part locally: it answers no AccessRequested
    assert (handlers.for_type(AccessRequested.TYPE) is not None) == (name != "notification")
    assert [j.name for j in service.all_jobs()].count("retention") == 1
    assert service.privacy.retention and all(j.name != "retention" for j in service.jobs)


def test_a_part_declares_an_answer_with_its_event() -> None:
    with pytest.raises(ValueError, match="gather and its"):
        PrivacyPart(data_map=ServiceMap("tests", (), ()), retention=(), gather=export.gathering({}))
    with pytest.raises(ValueError, match="erase and its"):
        PrivacyPart(data_map=ServiceMap("tests", (), ()), retention=(), erase=erase)


def test_a_part_without_answers_or_rules_adds_nothing() -> None:
    bare = spec(privacy=PrivacyPart(data_map=ServiceMap("tests", (), ()), retention=()))
    assert bare.all_handlers().by_type == {} and bare.all_jobs() == ()


def test_a_services_own_handler_for_a_privacy_event_is_an_error_unless_declared() -> None:
    with pytest.raises(HandlerConflict, match=r"ErasureRequested.*its privacy part.*overrides=\{ErasureRequested"):
        spec(handlers={ErasureRequested: own_erasure}).all_handlers()
    meant = spec(handlers={ErasureRequested: own_erasure}, overrides=frozenset({ErasureRequested}))
    assert meant.all_handlers().for_type(ErasureRequested.TYPE) is own_erasure
    assert meant.all_handlers().for_type(AccessRequested.TYPE) is not None  # the other shared handler stays
