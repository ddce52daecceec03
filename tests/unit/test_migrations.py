"""Migration ordering: the shared messaging tables first, then the city replicas, then the service's own."""

from __future__ import annotations


def test_migrations_apply_shared_then_replicas_then_the_service() -> None:
    from services.notification.app import SPEC

    versions = [m.version for m in SPEC.migrations()]
    assert versions[0] == "shared/0001_messaging"
    assert versions.index("city/organisation") < versions.index("city/person")
    assert all(not v.startswith(("assessment/", "catalog/", "reporting/")) for v in versions)


def test_the_person_replicas_get_their_names_as_a_migration_of_their_own() -> None:
    """Applied migrations are checksummed: the name columns come as a new file after the replica's first, so a database
    migrated before them migrates on; reporting keeps no person replica and gets none."""
    from services.assessment.app import SPEC as ASSESSMENT
    from services.catalog.app import SPEC as CATALOG
    from services.notification.app import SPEC as NOTIFICATION
    from services.reporting.app import SPEC as REPORTING

    for spec, replica in ((NOTIFICATION, "city/person"), (ASSESSMENT, "city/person_marking"), (CATALOG, "city/person_marking")):
        versions = [m.version for m in spec.migrations()]
        assert versions.index(replica) < versions.index("city/person_name"), spec.name
        assert len(versions) == len(set(versions)), spec.name
        [names] = [m for m in spec.migrations() if m.version == "city/person_name"]
        assert "given_name" in names.sql and "family_name" in names.sql
    assert not [m for m in REPORTING.migrations() if m.version.startswith("city/person")]
