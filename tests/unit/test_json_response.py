"""shared/json_response.py writes what FastAPI's jsonable_encoder would, only faster."""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from fastapi.encoders import jsonable_encoder

from shared.json_response import json_response


class Colour(StrEnum):
    RED = "red"


@dataclass
class Point:
    x: int
    y: float


def test_the_same_json_as_fastapi_for_the_values_the_routes_use() -> None:
    body = {"id": uuid.uuid4(), "year": 2026, "mean": Decimal("2.50"), "count": Decimal("3"), "on": date(2026, 11, 25),
            "at": datetime(2026, 11, 25, 3, 30, tzinfo=UTC), "missing": None, "colour": Colour.RED, "point": Point(1, 2.5),
            "levels": {"infrastruktur": 3, "uppfoljning": None}, "tags": ("a", "b"), "nested": [{"x": [1, 2.0, "å"]}]}
    response = json_response(body)
    assert response.media_type == "application/json" and response.status_code == 200
    assert json.loads(response.body) == json.loads(json.dumps(jsonable_encoder(body)))


def test_an_unknown_type_fails_loudly() -> None:
    try:
        json_response({"x": object()})
    except TypeError as exc:
        assert "not JSON serializable" in str(exc)  # orjson wraps the default hook's error in its own
    else:
        raise AssertionError("an object that is not JSON must not be written as something else")
