"""What the assessment service does when it starts (``ServiceSpec.on_start``): publishes each framework
version shipped with the code that is not yet published (usecases.frameworks), one transaction per
version. A published version whose file has changed stops the service."""

from __future__ import annotations

import logging

import asyncpg

from services.assessment.framework import published
from services.assessment.settings import SOURCE
from services.assessment.usecases import frameworks
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)


async def publish_frameworks(conn: asyncpg.Connection) -> list[int]:
    """The versions published by this call (none when every version was published before)."""
    new: list[int] = []
    for version, framework in sorted(published().items()):
        async with conn.transaction():
            if await frameworks.publish_framework(UnitOfWork(conn, SOURCE), framework):
                new.append(version)
    if new:
        log.info("published framework version(s) %s", new)
    return new
