"""Migration ordering: the shared messaging tables first, then the city replicas, then the service's own."""

from __future__ import annotations


def test_migrations_apply_shared_then_replicas_then_the_service() -> None:
    from services.notification.app import SPEC

    versions = [m.version for m in SPEC.migrations()]
    assert versions[0] == "shared/0001_messaging"
    assert versions.index("city/organisation") < versions.index("city/person")
    assert all(not v.startswith(("assessment/", "catalog/", "reporting/")) for v in versions)
