"""Titles next to codes, in the reader's language: headings and indicators by their ids.

The titles come from the framework versions shipped with the code (framework.py). A heading or an indicator
is looked up in the version given (an assessment's own), else in the newest version that has it, so an
action written under an older version still shows its title. An id no version knows (there is none today:
the rules refuse unknown ids) is shown as its own title rather than failing the answer.
"""

from __future__ import annotations

from functools import cache

from services.assessment.framework import Framework, Heading, Indicator, published
from shared.i18n import Language


@cache
def _headings() -> dict[str, Heading]:
    found: dict[str, Heading] = {}
    for framework in sorted(published().values(), key=lambda f: f.version):
        found.update({h.id: h for h in framework.headings})  # the newest version's title wins
    return found


@cache
def _indicators() -> dict[str, Indicator]:
    found: dict[str, Indicator] = {}
    for framework in sorted(published().values(), key=lambda f: f.version):
        found.update(framework.by_id)
    return found


def heading_title(heading: str, lang: Language, framework: Framework | None = None) -> str:
    if framework is not None:
        own = next((h for h in framework.headings if h.id == heading), None)
        if own is not None:
            return own.title(lang)
    known = _headings().get(heading)
    return known.title(lang) if known is not None else heading


def heading_label(heading: str, lang: Language, framework: Framework | None = None) -> dict[str, str]:
    """A heading as a ``CodeLabel``: ``{"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}``."""
    return {"code": heading, "label": heading_title(heading, lang, framework)}


def indicator_title(indicator: str | None, lang: Language, framework: Framework | None = None) -> str | None:
    if indicator is None:
        return None
    found = framework.by_id.get(indicator) if framework is not None else None
    if found is None:
        found = _indicators().get(indicator)
    return found.title(lang) if found is not None else indicator


#: what the anonymous pulse promises its respondents
PULSE_PRIVACY = {
    "sv": "Svaren är anonyma. Koden gäller för ett svar och sparas inte ihop med det. Inga enskilda svar sparas eller visas; "
          "grupper med färre än 5 svarande redovisas inte, och resultaten ändras bara när minst 5 nya svar har kommit in.",
    "en": "Answers are anonymous. The code is good for one answer and is not stored with it. No individual answer is stored or shown; "
          "groups with fewer than 5 respondents are not reported, and the results change only once at least 5 new answers have arrived.",
}
