"""Each service's OpenAPI document, finished so that it says what the service really answers.

FastAPI documents a 422 as its own ``HTTPValidationError``; Skolit answers every error as an RFC 9457 problem
(shared/problems.py), so every 4xx/5xx is documented as ``application/problem+json`` with the ``Problem``
schema. Operations behind a bearer token document 401, 403 and 503 (the identity provider's keys
unreachable); operations with a body document 413 (shared/limits.py); creating POSTs take an
``Idempotency-Key`` (shared/http/idempotency.py). ``lint`` lists what a client developer would miss.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.http.models import ProblemDetails
from shared.problems import MEDIA_TYPE, TITLES

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_DESCRIPTIONS = {
    400: "The body cannot be read (not JSON, or not UTF-8)", 401: "No valid bearer token", 403: "The caller's role or school units do not allow this",
    404: "No such resource", 406: "None of the accepted media types or API versions is served",
    409: "The resource's state does not allow this now (locked, closed, past the deadline), or the same Idempotency-Key is in use",
    413: "The request body is over the limit", 415: "The body's media type is not accepted",
    422: "The request is invalid; `field` and `errors[]` name what", 503: "A part the service needs is unavailable; retry after Retry-After",
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any unique string (1–255 visible ASCII characters, a UUID is good) to make a retried create safe: the same key "
                   "with the same body within 24 hours answers the first answer again instead of creating twice (docs/api.md).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$"},
}
_BODY_METHODS = ("post", "put", "patch")
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head")


def example(value: Any, status: int = 200, media_type: str = "application/json") -> dict[int | str, dict[str, Any]]:
    """A ``responses`` entry giving a route's answer one realistic example: ``responses=documented(404) | example({...})``."""
    return {status: {"content": {media_type: {"example": value}}}}


def problem_response(status: int) -> dict[str, Any]:
    return {"description": _DESCRIPTIONS.get(status, TITLES.get(status, "Error")), "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}}}


def finish(document: dict[str, Any], *, version_prefix: str = "/v1") -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in problem.pop("$defs", {}).items():
        schemas[name] = sub
    problem["title"] = "Problem"
    schemas["Problem"] = problem
    document["servers"] = [{"url": version_prefix, "description": "version 1 of the API (docs/api.md: versions and deprecation)"}]
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            if op.get("security"):
                for status in (401, 403, 503):
                    responses.setdefault(str(status), {})
            if method in _BODY_METHODS and "requestBody" in op:
                responses.setdefault("400", {})  # a body that is not JSON at all
                responses.setdefault("413", {})
            if op.get("parameters") or "requestBody" in op:
                responses.setdefault("422", {})
            if method == "post" and "201" in responses:
                params = op.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in params):
                    params.append(dict(IDEMPOTENCY_HEADER))
                responses.setdefault("409", {})
                responses.setdefault("422", {})
            for status, answer in list(responses.items()):
                content = answer.get("content") or {}
                stated_otherwise = content and MEDIA_TYPE not in content and "HTTPValidationError" not in str(content)
                if status.isdigit() and int(status) >= 400 and not stated_otherwise:
                    documented = problem_response(int(status))
                    documented["description"] = answer.get("description") or documented["description"]
                    responses[status] = documented
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) answer the finished document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags)
            app.openapi_schema = finish(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# ---- what a client developer would miss ---------------------------------------------------------------------------

def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
        seen += 1
    return schema


def _is_untyped(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(document, schema)
    if not schema:
        return True
    if schema.get("type") == "object" and not schema.get("properties") and schema.get("additionalProperties") in (None, True, {}):
        return True
    return False


def _has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or media.get("examples"):
        return True
    schema = _resolve(document, media.get("schema") or {})
    return bool(schema.get("examples") or "example" in schema)


def lint(document: dict[str, Any]) -> list[str]:
    """Each operation's shortcomings: a 2xx without a typed schema or an example; an error not documented as a problem."""
    faults: list[str] = []
    operation_ids: dict[str, str] = {}
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = f"{method.upper()} {path}"
            op_id = op.get("operationId")
            if op_id in operation_ids:
                faults.append(f"{where}: operationId {op_id} also names {operation_ids[op_id]}")
            operation_ids[op_id] = where
            responses = op.get("responses", {})
            ok = {s: r for s, r in responses.items() if s.startswith("2")}
            if not ok:
                faults.append(f"{where}: no 2xx response documented")
            for status, answer in ok.items():
                content = answer.get("content") or {}
                if status == "204":
                    continue
                if not content:
                    faults.append(f"{where} {status}: no content documented")
                for media_type, media in content.items():
                    if media_type.endswith("json"):
                        if _is_untyped(document, media.get("schema") or {}):
                            faults.append(f"{where} {status} {media_type}: untyped schema")
                        if not _has_example(document, media):
                            faults.append(f"{where} {status} {media_type}: no example")
            for status, answer in responses.items():
                if status.isdigit() and int(status) >= 400 and path != "/readyz":  # readiness answers 503 with its checks
                    media = (answer.get("content") or {}).get(MEDIA_TYPE)
                    if not media or media.get("schema") != PROBLEM_REF:
                        faults.append(f"{where} {status}: not documented as a problem")
    return faults
