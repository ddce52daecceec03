"""Every operation of the four OpenAPI documents is something a client generator can build on (issue 19).

The documents are made in process, without a database or a broker: what FastAPI would serve at /openapi.json.
"""

from __future__ import annotations

import importlib

import pytest

from shared.http.openapi import lint
from shared.settings import SERVICES


def document(service: str) -> dict:
    from shared.app import create_app

    spec = importlib.import_module(f"services.{service}.app").SPEC
    return create_app(spec).openapi()


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_is_typed_with_an_example_and_its_errors_are_problems(service: str) -> None:
    faults = lint(document(service))
    assert not faults, f"{len(faults)} faults:\n" + "\n".join(faults)


@pytest.mark.parametrize("service", SERVICES)
def test_no_fastapi_validation_error_is_left_in_the_document(service: str) -> None:
    doc = document(service)
    assert "HTTPValidationError" not in str(doc)
    assert doc["components"]["schemas"]["Problem"]["properties"]["errors"]


def test_the_lint_finds_an_untyped_answer_and_a_bare_error() -> None:
    doc = {"paths": {"/x": {"get": {"responses": {
        "200": {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}}},
        "404": {"description": "no"}}}}}, "components": {"schemas": {}}}
    faults = lint(doc)
    assert any("untyped" in f for f in faults) and any("no example" in f for f in faults) and any("problem" in f for f in faults)
