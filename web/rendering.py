"""Rendering pages: Jinja templates with autoescaping, the person's language and the texts of web/translations.

``render(request, "area/page.html", **context)`` gives every template ``t`` (a text from the catalogue), the
formatters (``date``, ``datetime``, ``number``, ``percent``), ``me`` (who is signed in, with roles), ``csrf_token``
and ``nav`` (the person's menu). Templates hold no text of their own (tests/unit/test_web_texts.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from web import i18n
from web.session import current

TEMPLATES = Path(__file__).resolve().parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _translator(lang: str) -> Callable[..., str]:
    def t(key: str, **params: Any) -> str:
        return i18n.translate(lang, key, **params)

    return t


def nav_items(me: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The person's menu: (catalogue key, path), from their roles (web/navigation.py)."""
    from web.navigation import menu

    return menu(me)


def context(request: Request, **extra: Any) -> dict[str, Any]:
    lang = getattr(request.state, "lang", i18n.DEFAULT)
    session = current(request)
    me = getattr(request.state, "me", None)
    t = _translator(lang)
    return {
        "request": request,
        "lang": lang,
        "other_lang": "en" if lang == "sv" else "sv",
        "t": t,
        "date": lambda v: i18n.format_date(lang, v),
        "datetime": lambda v: i18n.format_datetime(lang, v),
        "number": lambda v, d=None: i18n.format_number(lang, v, d),
        "percent": lambda v, d=0: i18n.format_percent(lang, v, d),
        "session": session,
        "me": me,
        "roles": set(me.get("roles", [])) if me else set(),
        "csrf_token": getattr(request.state, "csrf", ""),
        "nav": nav_items(me) if session else [],
        "path": request.url.path,
        "dev": request.app.state.settings.dev,
        "errors": {},
        "values": {},
        **extra,
    }


def render(request: Request, template: str, status: int = 200, headers: dict[str, str] | None = None, **extra: Any) -> HTMLResponse:
    html = environment.get_template(template).render(context(request, **extra))
    return HTMLResponse(html, status_code=status, headers=headers)


def markup(text: str) -> Markup:
    """Text already escaped or built from escaped parts (e.g. a chart's SVG from a Skolit service)."""
    return Markup(text)
