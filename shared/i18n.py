"""The caller's language: Swedish by default, English on request."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

Language = Literal["sv", "en"]


def language(request: Request, lang: Language | None) -> Language:
    """``?lang=`` wins; otherwise the first of sv/en in Accept-Language; Swedish by default."""
    if lang:
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("sv"):
            return "sv"
    return "sv"
