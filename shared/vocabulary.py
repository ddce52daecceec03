"""The strategy's five headings: the one list every service tags its data with.

The assessment framework's headings, the catalog's "headings an app serves" and reporting's
per-heading views all use these ids, so a figure can be followed across services.
"""

from __future__ import annotations

STRATEGY_HEADINGS: dict[str, dict[str, str]] = {
    "infrastruktur": {"sv": "Infrastruktur för ökad tillgänglighet", "en": "Infrastructure for greater access"},
    "digital-kompetens": {"sv": "Förbättrad digital kompetens hos alla", "en": "Better digital competence for everyone"},
    "digitalt-innehall": {"sv": "Digitalt innehåll", "en": "Digital content"},
    "samarbete-kommunikation": {"sv": "Samarbete och kommunikation", "en": "Collaboration and communication"},
    "uppfoljning": {"sv": "Uppföljning", "en": "Follow-up"},
}
