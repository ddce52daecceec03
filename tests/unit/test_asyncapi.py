"""The committed AsyncAPI document (docs/asyncapi.json) is what the services' event contracts generate."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_asyncapi_document_is_current() -> None:
    from services.__main__ import combined_asyncapi

    committed = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(combined_asyncapi())), "run `make asyncapi` and commit docs/asyncapi.json"
    assert "city.publish.GuardianRelationAdded" in committed["operations"]
    assert "reporting.consume.CampaignOpened" in committed["operations"]
