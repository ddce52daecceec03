"""Every text of the web app comes from the one translation catalogue, in Swedish and English: no template holds text
of its own, every key a page uses exists, and both languages say the same thing with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from web import i18n

WEB = Path(__file__).resolve().parents[2] / "web"
TEMPLATES = sorted((WEB / "templates").rglob("*.html"))
SOURCES = sorted(WEB.rglob("*.py"))
KEY_IN_TEMPLATE = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.\-]+)["']""")
# Python code names catalogue keys in Task(...) titles/hints and t()/translate() calls
KEY_IN_PYTHON = re.compile(r"""["']((?:core|nav|assessment|school|pulse|catalog|followup|messages|privacy|imports)\.[A-Za-z0-9_.\-]+)["']""")
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TEXT_ATTRIBUTES = re.compile(r"""\b(alt|title|aria-label|placeholder|aria-description)\s*=\s*(["'])(.*?)\2""", re.S)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_entry_has_swedish_and_english_with_the_same_placeholders() -> None:
    problems = []
    for key, texts in i18n.catalogue().items():
        sv, en = texts.get("sv"), texts.get("en")
        if not sv or not en:
            problems.append(f"{key}: needs both sv and en")
        elif _placeholders(sv) != _placeholders(en):
            problems.append(f"{key}: placeholders differ: {_placeholders(sv)} vs {_placeholders(en)}")
    assert not problems, "\n".join(problems)


def test_every_key_a_page_uses_is_in_the_catalogue() -> None:
    known = i18n.catalogue()
    missing = []
    for path in TEMPLATES:
        # a key ending in "." is a prefix the template completes with a value ("core.error." ~ kind ~ ".title")
        missing += [f"{path.relative_to(WEB)}: {k}" for k in KEY_IN_TEMPLATE.findall(path.read_text(encoding="utf-8"))
                    if k not in known and not k.endswith(".")]
    for path in SOURCES:
        if path.name == "i18n.py":  # its docstring shows the format with an example key
            continue
        text = path.read_text(encoding="utf-8")
        missing += [f"{path.relative_to(WEB)}: {k}" for k in KEY_IN_PYTHON.findall(text)
                    if k not in known and not k.endswith(".") and not any(k.startswith(p) for p in _prefixes_built_in_code(text))]
    assert not missing, "\n".join(missing)


def _prefixes_built_in_code(text: str) -> list[str]:
    """Keys a module builds from a prefix and a value (``f"catalog.status.{status}"``) are checked by their pages' tests."""
    return [m for m in re.findall(r"""f["']([a-z_]+\.[A-Za-z0-9_.]*)\{""", text)]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(WEB / "templates")))
def test_a_template_holds_no_text_of_its_own(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    without_jinja = JINJA.sub(" ", source)
    bare_attributes = [m.group(0) for m in TEXT_ATTRIBUTES.finditer(without_jinja) if any(c.isalpha() for c in m.group(3))]
    text = re.sub(r"<!--.*?-->", " ", without_jinja, flags=re.S)
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"""[\w-]+=["']""", " ", text)  # an attribute a macro writes piece by piece (aria-describedby=")
    text = re.sub(r"&[a-zA-Z]+;|&#\d+;", " ", text)
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    assert not words and not bare_attributes, f"{path.name}: text outside the catalogue: {words[:10]} {bare_attributes[:5]}"
