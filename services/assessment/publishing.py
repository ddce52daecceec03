"""Publishing the framework files shipped with the code: at start, each version not yet published is
recorded and announced (FrameworkPublished, through the outbox); a published version whose file
has changed stops the service, because answers given under it would change meaning."""

from __future__ import annotations

import logging

import asyncpg

from services.assessment import store
from services.assessment.framework import Framework, FrameworkError, published
from shared import outbox
from shared.events.assessment import FrameworkHeading, FrameworkIndicator, FrameworkPublished, LocalText

log = logging.getLogger(__name__)
SOURCE = "skolit.assessment"


def announcement(f: Framework) -> FrameworkPublished:
    return FrameworkPublished(
        version=f.version,
        title=LocalText(sv=f.title.sv, en=f.title.en),
        previousVersion=f.previousVersion,
        carryForward=f.carryForward,
        headings=[FrameworkHeading(id=h.id, title=LocalText(sv=h.title.sv, en=h.title.en), selfie=h.selfie, lika=h.lika)
                  for h in sorted(f.headings, key=lambda h: h.order)],
        indicators=[FrameworkIndicator(id=i.id, heading=i.heading, title=LocalText(sv=i.title.sv, en=i.title.en),
                                       schoolTypes=[t.value for t in i.schoolTypes], required=i.required) for i in f.indicators],
    )


async def publish_frameworks(conn: asyncpg.Connection) -> list[int]:
    """The versions published by this call (none when every version was published before)."""
    new: list[int] = []
    for version, framework in sorted(published().items()):
        checksum = framework.checksum()
        async with conn.transaction():
            if await store.publish_framework(conn, version, checksum, framework.model_dump(mode="json")):
                await outbox.add(conn, SOURCE, announcement(framework))
                new.append(version)
                continue
        if await store.framework_checksum(conn, version) != checksum:
            raise FrameworkError(
                f"framework version {version} was published with other content; publish the change as a new version "
                "with a carryForward mapping instead of editing a published one"
            )
    if new:
        log.info("published framework version(s) %s", new)
    return new
