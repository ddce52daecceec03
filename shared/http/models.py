"""Shapes that mean the same in every service's answers: one person reference, one school unit, one coded term.

A client generated from any of the four OpenAPI documents gets the same class for the same concept, so a
school unit from the catalog and one from reporting can be compared and shown by the same code.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

_PERSON_EXAMPLE: dict[str, Any] = {"id": "5b0c8c1e-4a2e-4f39-9a51-6f3c2e1d7a10", "name": "Anna Lindqvist", "protected": False, "kind": "person"}


class PersonRef(BaseModel):
    """A person as staff see them: the name from the city's person data (SS 12000 givenName familyName).

    For a protected identity (skyddad identitet) neither the id nor the name is shown to anyone but the person:
    ``id`` and ``name`` are null and ``protected`` is true. ``name`` is also null while the city has not sent
    the person's name, or after the person was erased.

    Where no person acted, ``kind`` says so: ``system`` (a rule of the service, e.g. an answer carried from last year;
    ``name`` says which, in the reader's language) or ``erased`` (the person's data was erased: no id, no name)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PERSON_EXAMPLE]})

    id: UUID | None = Field(description="the SS 12000 person id; null for a protected identity")
    name: str | None = Field(default=None, description="display name; null when protected or unknown")
    protected: bool = Field(default=False, description="a protected identity: shown to others as neither id nor name")
    kind: Literal["person", "system", "erased"] = Field(default="person", description="a person, a rule of the service, or an erased person")


class SchoolUnitRef(BaseModel):
    """A school unit (skolenhet) as every service shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "Rosengårdsskolan", "schoolUnitCode": "12345678"}]})

    id: UUID
    name: str | None = Field(default=None, description="the school unit's display name from the city's organisation data")
    schoolUnitCode: str | None = Field(default=None, description="Skolverket's school unit code (skolenhetskod)")


class CodeLabel(BaseModel):
    """A coded term with its label in the reader's language: a subject, a grade, a heading, a state."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "MA", "label": "Matematik"}]})

    code: str
    label: str


class Page(BaseModel, Generic[T]):
    """One page of a list. Ask for the next page with ``?cursor=<next>`` (and the same filters); ``next`` is
    null on the last page. ``total`` counts every item matching the filters where that is cheap, else null."""

    items: list[T]
    limit: int = Field(description="the most items a page holds, as asked for with ?limit=")
    next: str | None = Field(default=None, description="opaque cursor of the next page; null on the last page")
    total: int | None = Field(default=None, description="items matching the filters over all pages, when counted")


class ProblemError(BaseModel):
    location: str = Field(description="the field at fault: body.name, query.limit, header.Idempotency-Key …")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every 4xx and 5xx answer of every service, as application/problem+json."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{
            "type": "https://skolit.se/problems/invalid-request", "title": "Invalid request", "status": 422,
            "detail": "body.deadline: Input should be a valid date", "instance": "/v1/campaigns", "field": "body.deadline",
            "errors": [{"location": "body.deadline", "message": "Input should be a valid date"}],
        }]},
    )

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = Field(default=None, description="what went wrong in this case, in plain words")
    instance: str | None = Field(default=None, description="the request path")
    field: str | None = Field(default=None, description="the request field at fault, when there is one")
    errors: list[ProblemError] | None = Field(default=None, description="every field at fault, for invalid requests")


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "service": "catalog"}]})

    status: str
    service: str


class Readiness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ready", "checks": {"database": "ok", "broker": "ok", "outbox": "ok"}}]})

    status: str = Field(description="ready, degraded (a part named in checks is late) or not ready (answered with 503)")
    checks: dict[str, str]


class AsyncApiDocument(BaseModel):
    """An AsyncAPI 3 document: the events the service publishes and consumes (docs/asyncapi.json for all four)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "asyncapi": "3.0.0", "info": {"title": "Skolit catalog events", "version": "1"},
        "channels": {"skolit.catalog.app": {"address": "skolit.catalog.app"}}, "operations": {}, "components": {"messages": {}}}]})

    asyncapi: str
    info: dict[str, Any]
    channels: dict[str, Any]
    operations: dict[str, Any] = Field(default_factory=dict)
    components: dict[str, Any] = Field(default_factory=dict)


def example_of(model: type[BaseModel]) -> Any:
    """The first example a model declares (for responses documented by hand)."""
    extra: Any = model.model_config.get("json_schema_extra") or {}
    examples = extra.get("examples") if isinstance(extra, dict) else None
    return examples[0] if isinstance(examples, list) and examples else None
