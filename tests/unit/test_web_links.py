"""Every link in a message Skolit sends opens a page of the web app: the links the notification service writes
(``"link": f"/requests/{...}"``) and the report path the reporting service publishes are found in their code, filled
in with an id, and matched against the web app's routes (a GET page, not the 404 page)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from starlette.routing import Match

from web.app import create_app
from web.settings import DEV_SESSION_SECRET, WebSettings

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"""(?:"link":\s*|path=)f?"(/[^"]*)\"""")


def links_in_messages() -> list[str]:
    found: set[str] = set()
    for folder in ("services/notification", "services/reporting/usecases"):
        for path in (ROOT / folder).rglob("*.py"):
            found.update(LINK.findall(path.read_text(encoding="utf-8")))
    return sorted(found)


def test_the_message_links_are_found() -> None:
    assert {"/preferences", "/requests/{e.requestId}", "/campaigns/{e.id}"} <= set(links_in_messages())


@pytest.mark.parametrize("link", links_in_messages())
def test_a_message_link_opens_a_page_of_the_web_app(link: str) -> None:
    path = re.sub(r"\{[^}]*\}", lambda m: "2026" if "year" in m.group(0) else str(uuid.uuid4()), link).split("?")[0]
    app = create_app(WebSettings(dev=True, session_secret=DEV_SESSION_SECRET, services={}))
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "query_string": b"", "headers": []}
    matched = [route for route in app.router.routes if route.matches(scope)[0] == Match.FULL]
    assert matched and getattr(matched[0], "path", "").split("{")[0] != "/static", f"{link} ({path}) opens no page of the web app"
