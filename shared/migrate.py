"""A small migration runner: plain SQL files, applied in order, once, under an advisory lock.

Sources are applied in order: the shared messaging migrations, the city replicas the service keeps,
then the service's own. Each file runs in its own transaction and is recorded with a checksum; an applied
file that has since changed is an error (write a new migration instead). See
docs/decisions/0001-migrations.md for why this is not Alembic or yoyo.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.db import unlock

log = logging.getLogger(__name__)
SHARED_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Migration:
    version: str  # e.g. "shared/0001_messaging"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(service_dir: Path, replica_files: Sequence[Path] = ()) -> list[Migration]:
    """Shared messaging first, then the city replicas the service keeps, then its own migrations."""
    found = [Migration(f"shared/{p.stem}", p.read_text(encoding="utf-8")) for p in sorted(SHARED_MIGRATIONS.glob("*.sql"))]
    found += [Migration(f"city/{p.stem}", p.read_text(encoding="utf-8")) for p in replica_files]
    found += [Migration(f"{service_dir.name}/{p.stem}", p.read_text(encoding="utf-8")) for p in sorted((service_dir / "migrations").glob("*.sql"))]
    return found


class MigrationChanged(RuntimeError):
    pass


async def migrate(conn: asyncpg.Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what is missing; returns the versions applied now. ``conn``'s search_path is ``schema``."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", "skolit.migrate." + schema)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")}
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationChanged(f"migration {m.version} was applied but its file has changed since")
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", m.version, m.checksum)
            applied_now.append(m.version)
            log.info("applied migration %s to schema %s", m.version, schema)
    finally:
        await unlock(conn, "skolit.migrate." + schema)
    return applied_now
