"""Publishing a framework version shipped with the code: recorded once and announced
(FrameworkPublished); a published version whose content has changed is refused, because answers
given under it would change meaning."""

from __future__ import annotations

from services.assessment import store
from services.assessment.framework import Framework, FrameworkError
from shared.events.assessment import FrameworkHeading, FrameworkIndicator, FrameworkPublished, LocalText
from shared.uow import UnitOfWork


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


async def publish_framework(uow: UnitOfWork, framework: Framework) -> bool:
    """Records and announces the version; False when it was published before (by this or another replica)
    with the same content. Raises FrameworkError when it was published with other content."""
    checksum = framework.checksum()
    if await store.publish_framework(uow.conn, framework.version, checksum, framework.model_dump(mode="json")):
        await uow.publish(announcement(framework))
        return True
    if await store.framework_checksum(uow.conn, framework.version) != checksum:
        raise FrameworkError(
            f"framework version {framework.version} was published with other content; publish the change as a new version "
            "with a carryForward mapping instead of editing a published one"
        )
    return False
