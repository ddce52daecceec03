"""The start page's "what you have to do": each area of the app registers a function that, given the signed-in person,
returns their tasks there (an open self-assessment, requests to review, unread messages …). The start page asks
every area whose roles the person has, side by side, and shows what they return."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request


@dataclass(frozen=True)
class Task:
    #: the catalogue key of the task's title; ``params`` fill its placeholders
    title: str
    href: str
    params: tuple[tuple[str, Any], ...] = ()
    #: a catalogue key for a line under the title (same params)
    hint: str | None = None
    #: something waits for the person (shown first, marked "att göra")
    due: bool = False

    def texts(self) -> dict[str, Any]:
        return dict(self.params)


Provider = Callable[[Request, dict[str, Any]], Awaitable[list[Task]]]
PROVIDERS: list[tuple[frozenset[str], Provider]] = []


def provides(*roles: str) -> Callable[[Provider], Provider]:
    """Registers a start-page task provider for people with any of ``roles`` (none: everyone)."""

    def register(fn: Provider) -> Provider:
        PROVIDERS.append((frozenset(roles), fn))
        return fn

    return register
