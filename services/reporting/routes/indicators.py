"""Indicators as data: the list, and a committee adding one without code."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.reporting import store, usecases
from services.reporting.access import READERS
from services.reporting.schemas import Indicator, page_example
from services.reporting.settings import SOURCE
from shared.auth import Principal, Role, require
from shared.http.models import Page
from shared.http.openapi import example
from shared.http.pages import PageRequest, page_request
from shared.problems import documented, rejected
from shared.uow import unit_of_work
from shared.vocabulary import STRATEGY_HEADINGS

router = APIRouter(tags=["indicators"])


class Text(BaseModel):
    sv: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)


class NewIndicator(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]{1,59}$", examples=["interactive-displays"])
    metric: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,59}$", description="the figure's key in SchoolFiguresReported (or a derived metric)",
                        examples=["interactiveDisplaysPerClassroom"])
    source: Literal["city", "catalog", "notification"] = "city"
    unit: Literal["share", "ratio", "count", "yes-no"]
    direction: Literal["higher", "lower"] = "higher"
    target: float | None = None
    heading: str | None = Field(default=None, description="the strategy heading the indicator follows up")
    name: Text
    description: Text | None = None


def indicator_json(i: Any) -> dict[str, Any]:
    return {"code": i.code, "metric": i.metric, "source": i.source, "unit": i.unit, "direction": i.direction, "target": i.target,
            "heading": i.heading, "name": i.name}


@router.get("/indicators", summary="The indicators reports follow, with units, directions and targets", response_model=Page[Indicator],
            description="By heading, then code; indicators without a heading last. Each names itself in Swedish and English. "
                        "`total` counts every indicator.",
            responses=documented(401, 403) | example(page_example(Indicator, total=7)))
async def list_indicators(request: Request, caller: Annotated[Principal, Depends(require(*READERS))],
                          page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        return page.slice(await store.indicators(conn), item=indicator_json)


@router.post("/indicators", status_code=201, summary="Define an indicator (city admins, for the committee)", response_model=Indicator,
             responses=documented(400, 401, 403, 409, 422))
async def define_indicator(request: Request, body: NewIndicator, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    if body.heading is not None and body.heading not in STRATEGY_HEADINGS:
        raise rejected(422, f"unknown heading {body.heading!r}; headings: {', '.join(STRATEGY_HEADINGS)}", "body.heading")
    definition = body.model_dump()
    definition["description"] = definition["description"] or {"sv": "", "en": ""}
    async with unit_of_work(request.app.state.pool, SOURCE) as uow:
        created = await usecases.define_indicator(uow, definition, caller.subject)
    if created is None:
        raise rejected(409, f"the indicator {body.code} exists already", "body.code")
    return indicator_json(created)
