"""A JSON answer written with orjson, for routes that build their body as plain dicts and lists.

FastAPI passes whatever a route returns without a response model (``response_model=None``, needed where a
route answers JSON or CSV) through ``jsonable_encoder``, which walks every value in Python and then encodes
with the standard library: in the reporting service's profile under load that was about half of the CPU of
a school report (docs/benchmarks.md). orjson encodes the same values (UUIDs, dates, datetimes, enums,
dataclasses) in C; the few it does not know are converted the way jsonable_encoder converts them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):  # as FastAPI does: whole numbers stay integers
        return int(value) if value.as_tuple().exponent >= 0 else float(value)  # type: ignore[operator]
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "model_dump"):  # a pydantic model
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS), status_code=status_code, media_type="application/json")
