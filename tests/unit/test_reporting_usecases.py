"""Reporting's use cases (services/reporting/usecases/) without a database: the store functions they call are
replaced by in-memory fakes, and a fake unit of work records what would go to the outbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.reporting import cache, handlers, store, usecases
from services.reporting.domain import Indicator, SchoolLevels
from services.reporting.settings import SOURCE
from services.reporting.usecases import figures
from shared import outbox
from shared.events.base import Event
from shared.events.city import SchoolFiguresReported
from shared.events.envelope import new_envelope
from shared.events.notification import GuardianReachMeasured
from shared.events.reporting import IndicatorBelowTarget, ReportPublished
from shared.privacy import vault
from tests.support.uow import FakeUnitOfWork

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCHOOL = uuid.uuid4()
DISTRICT = uuid.uuid4()



def indicator(code: str, metric: str, source: str, target: float | None, direction: str = "higher") -> Indicator:
    return Indicator(code, metric, source, "share", direction, target, None, {"sv": code, "en": code})


@pytest.fixture
def figure_store(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The figures, the indicators and the alert states, kept in dicts."""
    state: dict[str, Any] = {
        "figures": {},
        "alerts": {},
        "indicators": [
            indicator("wifi", "wifiCoverage", "city", 0.9),
            indicator("devices", "devicesPerPupil", "city", None),  # no target: never judged
            # the same metric name fed by another source: not judged on the city's figures
            indicator("wifi-elsewhere", "wifiCoverage", "notification", 0.99),
            indicator("reach", "guardiansReachableShare", "notification", 0.8),
        ],
    }

    async def record_figures(conn: Any, school: uuid.UUID, year: int, values: dict[str, float], event_time: datetime) -> None:
        state["figures"].update({(school, year, metric): value for metric, value in values.items()})

    async def indicators(conn: Any) -> list[Indicator]:
        return state["indicators"]

    async def alert_state(conn: Any, school: uuid.UUID, year: int, code: str, below: bool) -> bool | None:
        before = state["alerts"].get((school, year, code))
        state["alerts"][(school, year, code)] = below
        return before

    async def district_of(conn: Any, school: uuid.UUID) -> uuid.UUID | None:
        return DISTRICT

    monkeypatch.setattr(store, "record_figures", record_figures)
    monkeypatch.setattr(store, "indicators", indicators)
    monkeypatch.setattr(store, "alert_state", alert_state)
    monkeypatch.setattr(figures, "district_of", district_of)
    return state


def reported(**values: float) -> SchoolFiguresReported:
    return SchoolFiguresReported(schoolUnitId=SCHOOL, year=2026, figures=values)


async def test_a_figure_going_below_target_is_announced_once_until_it_is_met_again(figure_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()

    first = await usecases.apply_school_figures_reported(uow, reported(wifiCoverage=0.8, devicesPerPupil=1.0), event_time=NOW)  # type: ignore[arg-type]
    assert figure_store["figures"][(SCHOOL, 2026, "wifiCoverage")] == 0.8
    assert uow.events == first
    assert [(e.indicator, e.value, e.target, e.direction, e.schoolUnitId, e.districtId, e.year) for e in first] == [
        ("wifi", 0.8, 0.9, "higher", SCHOOL, DISTRICT, 2026)]
    assert all(isinstance(e, IndicatorBelowTarget) for e in uow.events)

    # still below: already announced
    assert await usecases.apply_school_figures_reported(uow, reported(wifiCoverage=0.7), event_time=NOW) == []  # type: ignore[arg-type]
    # met again, then below again: a new announcement
    assert await usecases.apply_school_figures_reported(uow, reported(wifiCoverage=0.95), event_time=NOW) == []  # type: ignore[arg-type]
    again = await usecases.apply_school_figures_reported(uow, reported(wifiCoverage=0.5), event_time=NOW)  # type: ignore[arg-type]
    assert [e.value for e in again] == [0.5]
    assert [e.indicator for e in uow.events if isinstance(e, IndicatorBelowTarget)] == ["wifi", "wifi"] and len(uow.events) == 2
    # only the city's indicators were judged on the city's figures
    assert {code for (_, _, code) in figure_store["alerts"]} == {"wifi"}


async def test_typed_figures_are_stored_as_metrics_a_yes_no_as_one_or_zero(figure_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    await usecases.apply_school_figures_reported(uow, SchoolFiguresReported(  # type: ignore[arg-type]
        schoolUnitId=SCHOOL, year=2026, figures={"byodAllowed": True, "pupils": 412}), event_time=NOW)
    await usecases.apply_school_figures_reported(uow, SchoolFiguresReported(  # type: ignore[arg-type]
        schoolUnitId=SCHOOL, year=2027, figures={"byodAllowed": False}), event_time=NOW)
    assert figure_store["figures"] == {(SCHOOL, 2026, "byodAllowed"): 1.0, (SCHOOL, 2026, "pupils"): 412.0, (SCHOOL, 2027, "byodAllowed"): 0.0}


async def test_guardian_reach_is_judged_by_the_notification_indicators_only(figure_store: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    reach = GuardianReachMeasured(schoolUnitId=SCHOOL, year=2026, share=0.5, reached=50, guardians=100)
    published = await usecases.apply_guardian_reach_measured(uow, reach, event_time=NOW)  # type: ignore[arg-type]
    assert [e.indicator for e in published] == ["reach"] and uow.events == published
    assert figure_store["figures"] == {(SCHOOL, 2026, "guardiansReachableShare"): 0.5}


async def test_the_handler_is_a_thin_adapter_over_the_use_case(figure_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The consumer's handler stages the announcement in the outbox of the transaction it is handed."""
    staged: list[tuple[Any, str, tuple[Event, ...]]] = []

    async def add(conn: Any, source: str, *events: Event) -> list[str]:
        staged.append((conn, source, events))
        return [str(uuid.uuid4()) for _ in events]

    monkeypatch.setattr(outbox, "add", add)
    conn = object()
    await handlers.on_school_figures_reported(conn, new_envelope(reported(wifiCoverage=0.1), "skolit.city", time=NOW))
    assert len(staged) == 1
    assert staged[0][0] is conn and staged[0][1] == SOURCE
    assert [e.indicator for e in staged[0][2]] == ["wifi"]  # type: ignore[attr-defined]


@pytest.fixture
def publication(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Schools of two districts (one without a submission) and the reports marked published so far."""
    other = uuid.uuid4()
    state: dict[str, Any] = {
        "schools": [
            SchoolLevels(str(uuid.uuid4()), "A", str(DISTRICT), "Norr", {"digital-competence": 3}),
            SchoolLevels(str(uuid.uuid4()), "B", str(DISTRICT), "Norr", {"digital-competence": 2}),
            SchoolLevels(str(uuid.uuid4()), "C", str(other), "Söder", {}),  # not submitted: its district is not told
            SchoolLevels(str(uuid.uuid4()), "D", None, None, {"digital-competence": 4}),  # no district: no one to tell
        ],
        "published": set(),
    }

    async def school_levels(conn: Any, year: int, districts: Any) -> list[SchoolLevels]:
        return state["schools"]

    async def mark_published(conn: Any, year: int, district: uuid.UUID, actor: str) -> datetime | None:
        if (year, district) in state["published"]:
            return None
        state["published"].add((year, district))
        return NOW

    async def seal_actor(conn: Any, actor: str) -> str:
        return f"sealed:{actor}"

    monkeypatch.setattr(cache, "school_levels", school_levels)
    monkeypatch.setattr(store, "mark_published", mark_published)
    monkeypatch.setattr(vault, "seal_actor", seal_actor)
    return state


async def test_publishing_the_annual_report_tells_each_district_with_a_submission_once(publication: dict[str, Any]) -> None:
    uow = FakeUnitOfWork()
    result = await usecases.publish_annual_report(uow, 2026, "admin")  # type: ignore[arg-type]
    assert result == {"year": 2026, "announced": [str(DISTRICT)], "alreadyAnnounced": []}
    [event] = uow.events
    assert isinstance(event, ReportPublished)
    assert event.districtId == DISTRICT and event.year == 2026 and event.publishedBy == "sealed:admin" and event.publishedAt == NOW
    assert sorted(event.schoolUnitIds) == sorted(uuid.UUID(s.id) for s in publication["schools"][:2])
    assert event.path == f"/districts/{DISTRICT}/overview?year=2026"

    again = FakeUnitOfWork()
    assert await usecases.publish_annual_report(again, 2026, "admin") == {  # type: ignore[arg-type]
        "year": 2026, "announced": [], "alreadyAnnounced": [str(DISTRICT)]}
    assert again.events == []


async def test_nothing_is_published_for_a_year_without_submissions(publication: dict[str, Any]) -> None:
    publication["schools"] = [s for s in publication["schools"] if not s.levels]
    uow = FakeUnitOfWork()
    with pytest.raises(usecases.NothingToPublish, match="2026"):
        await usecases.publish_annual_report(uow, 2026, "admin")  # type: ignore[arg-type]
    assert uow.events == [] and publication["published"] == set()


async def test_defining_an_indicator_never_replaces_one(monkeypatch: pytest.MonkeyPatch) -> None:
    defined: dict[str, Indicator] = {"wifi": indicator("wifi", "wifiCoverage", "city", 0.9)}

    async def define(conn: Any, d: dict[str, Any], actor: str, *, replace: bool = False) -> bool:
        if d["code"] in defined:
            return False
        defined[d["code"]] = indicator(d["code"], d["metric"], d["source"], d.get("target"))
        return True

    async def indicators(conn: Any) -> list[Indicator]:
        return list(defined.values())

    monkeypatch.setattr(store, "define_indicator", define)
    monkeypatch.setattr(store, "indicators", indicators)
    uow = FakeUnitOfWork()
    created = await usecases.define_indicator(uow, {"code": "displays", "metric": "displaysPerRoom", "source": "city", "target": 1.0}, "admin")  # type: ignore[arg-type]
    assert created is not None and created.code == "displays" and created.target == 1.0
    assert await usecases.define_indicator(uow, {"code": "wifi", "metric": "other", "source": "city", "target": 0.1}, "admin") is None  # type: ignore[arg-type]
    assert defined["wifi"].metric == "wifiCoverage" and uow.events == []
