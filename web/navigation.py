"""What each person sees in the menu: one list, by role, so every area's pages are reachable from every page."""

from __future__ import annotations

from typing import Any

#: (catalogue key, path, roles that see it); the order is the menu's
MENU: list[tuple[str, str, frozenset[str]]] = [
    ("nav.start", "/", frozenset()),
    ("nav.assessment", "/assessment", frozenset({"principal"})),
    ("nav.action_plan", "/action-plan", frozenset({"principal"})),
    ("nav.school_report", "/school-report", frozenset({"principal", "teacher"})),
    ("nav.pulse", "/pulse", frozenset({"principal"})),
    ("nav.apps", "/apps", frozenset({"teacher", "principal", "it_admin", "data_protection", "district_admin", "city_admin"})),
    ("nav.my_requests", "/requests", frozenset({"teacher", "principal"})),
    ("nav.review", "/review", frozenset({"it_admin", "data_protection"})),
    ("nav.dpa", "/dpa", frozenset({"it_admin", "data_protection"})),
    ("nav.licences", "/licences", frozenset({"it_admin"})),
    ("nav.rounds", "/rounds", frozenset({"district_admin", "city_admin"})),
    ("nav.overview", "/overview", frozenset({"district_admin", "city_admin"})),
    ("nav.imports", "/imports", frozenset({"city_admin"})),
    ("nav.broadcasts", "/broadcasts", frozenset({"principal", "district_admin", "city_admin"})),
    ("nav.privacy", "/privacy", frozenset({"data_protection"})),
    ("nav.school_apps", "/school-apps", frozenset({"guardian"})),
    ("nav.inbox", "/inbox", frozenset()),
    ("nav.preferences", "/preferences", frozenset()),
]


def menu(me: dict[str, Any] | None) -> list[tuple[str, str]]:
    roles = set(me.get("roles", [])) if me else set()
    return [(key, path) for key, path, who in MENU if not who or roles & who]
