"""Message texts per type and language, as files (templates/<type>.<lang>.txt: the first line is the
subject, the rest the body). Another language is a new file; a missing translation falls back to
Swedish; a placeholder without a value renders empty rather than failing the message."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).with_name("templates")
FALLBACK = "sv"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@cache
def _read(message_type: str, language: str) -> str | None:
    path = DIRECTORY / f"{message_type}.{language}.txt"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def render(message_type: str, language: str, values: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, body, the language actually used)."""
    text, used = _read(message_type, language), language
    if text is None:
        text, used = _read(message_type, FALLBACK), FALLBACK
    if text is None:
        raise LookupError(f"no template for message type {message_type!r}")
    subject, _, body = text.format_map(_Blank(values)).partition("\n")
    return subject.strip(), "\n".join(line for line in body.splitlines() if line.strip()), used


def written_in(values: dict[str, Any], language: str) -> str | None:
    """The language of the text for a reader of ``language``, for text a person wrote (a broadcast: ``values["writtenIn"]``
    names what its subject and body are written in, ``values["versions"]`` the same text in other languages): the reader's
    version where there is one (picked into ``values``), else the text as written. None for a message that is all
    template. The template's frame (the critical prefix, the signature) stays in the reader's language either way, so an
    urgent message is marked as such in words the reader reads even when its text has no version in their language."""
    versions = values.pop("versions", None)
    written = values.get("writtenIn")
    if not isinstance(written, str):
        return None
    version = versions.get(language) if isinstance(versions, dict) and language != written else None
    if isinstance(version, dict):
        values.update({k: v for k, v in version.items() if k in ("subject", "body")})
        return language
    return written


def compose(message_type: str, language: str, data: dict[str, Any], school: str | None, web_url: str) -> tuple[str, str, str]:
    """A stored message as its recipient reads it: the school's name as the city's data has it now, and
    the deep link made absolute for the web client."""
    values = dict(data)
    text_language = written_in(values, language)
    if school:
        values["school"] = school
    link = values.get("link")
    if isinstance(link, str) and link.startswith("/"):
        values["link"] = web_url.rstrip("/") + link
    subject, body, used = render(message_type, language, values)
    return subject, body, text_language or used


def compose_digest(language: str, items: list[tuple[str, dict[str, Any], str | None]], web_url: str) -> tuple[str, str, str]:
    """One summary of several messages: each item's subject and body, in the recipient's language."""
    parts = []
    for message_type, data, school in items:
        subject, body, _ = compose(message_type, language, data, school, web_url)
        parts.append(f"• {subject}\n{body}")
    return compose("digest", language, {"count": len(items), "items": "\n".join(parts), "link": "/preferences"}, None, web_url)
