"""Rows as notification's answers show them (the shapes are in schemas.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.city.people import ref_or_none
from shared.http.models import PersonRef


def person_json(refs: dict[UUID, PersonRef], who: Any) -> dict[str, Any] | None:
    """A person as ``PersonRef`` JSON, looked up with ``shared.city.people.person_refs`` (which hides a protected identity
    from everyone but themselves); None for an account that is not a person id (a system, a city integration)."""
    ref = ref_or_none(refs, who)
    return ref.model_dump(mode="json") if ref is not None else None
