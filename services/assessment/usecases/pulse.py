"""The anonymous pulse: staff (and upper-secondary pupils) rate the school on the same headings.

One answer per invitation (docs/decisions/0016): the school's Rektor issues single-use invitation codes
per group; a code answers once and is then spent. Only a hash of each code is stored, and nothing links
an invitation to what was answered with it: the answer goes into counts per heading and level. The
published figures move only in steps of at least five new answers (``domain.due_releases``), so two
readings of the results never differ by one person's answer.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.assessment import access, domain, store
from services.assessment.usecases.assessments import Loaded, load
from shared.auth import Principal
from shared.problems import Problem, rejected
from shared.uow import UnitOfWork

# Unambiguous characters only: the code is typed on phones. 14 characters of 31: about 69 bits, so
# guessing a valid code over the anonymous endpoint is hopeless.
INVITATION_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
INVITATION_LENGTH = 14
NOT_FOUND = "no pulse invitation with this code"


def invitation_code() -> str:
    return "".join(secrets.choice(INVITATION_ALPHABET) for _ in range(INVITATION_LENGTH))


def code_hash(code: str) -> str:
    """What the database keeps of a code (codes are random enough that no salt is needed)."""
    return hashlib.sha256(code.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class Invitation:
    """An invitation as a respondent sees it: its group, whether it is spent, and its assessment."""

    group: str
    used: bool
    row: Mapping[str, Any]
    school: domain.KnownSchool


async def open_pulse(conn: asyncpg.Connection, code: str) -> Invitation:
    """The invitation and the assessment it belongs to (a read: the questionnaire)."""
    invitation = await store.pulse_invitation(conn, code_hash(code))
    if invitation is None:
        raise Problem(404, "Not found", NOT_FOUND)
    row = await store.find_assessment(conn, invitation["campaign_id"], invitation["school_unit"])
    if row is None:
        raise Problem(404, "Not found", NOT_FOUND)
    return Invitation(invitation["grp"], invitation["used"], row, await access.known_school(conn, row["school_unit"]))


def refuse_if_closed(row: Mapping[str, Any], now: datetime) -> None:
    if row["campaign_status"] != "open":
        raise rejected(409, "the round is closed", "campaign.status")
    if row["status"] == "submitted":
        raise rejected(409, "the school has submitted its assessment; the pulse is closed", "status")
    if domain.deadline_passed(row["effective_deadline"], now):
        raise rejected(409, f"the deadline {row['effective_deadline'].isoformat()} has passed", "deadline")


async def issue_invitations(uow: UnitOfWork, caller: Principal, a: Loaded, group: str, count: int) -> list[str]:
    """``count`` new single-use codes for ``group``, returned once (only their hashes are stored). The
    school's Rektor only, while the pulse is open; audited with the number issued, never the codes."""
    await access.ensure_rektor(uow.conn, caller, a.school)
    refuse_if_closed(a.row, datetime.now(UTC))
    allowed = domain.pulse_groups(a.school.school_types)
    if group not in allowed:
        raise rejected(422, f"group {group!r} cannot answer at this school unit; allowed: {', '.join(allowed)}", "group")
    codes = [invitation_code() for _ in range(count)]
    await store.add_pulse_invitations(uow.conn, a.row["campaign_id"], a.school.id, group, [code_hash(c) for c in codes])
    await store.audit(uow.conn, caller.subject, "pulse.invitations.issued", "assessment", str(a.id), {"group": group, "count": count})
    return codes


async def record_pulse_answer(uow: UnitOfWork, code: str, group: str | None, answers: Mapping[str, int]) -> None:
    """Spends the invitation and counts its levels per heading (headings left out count as 'do not know'),
    then releases what the release rule allows. A spent invitation is refused with 409 naming ``code``."""
    hashed = code_hash(code)
    invitation = await store.pulse_invitation(uow.conn, hashed)
    if invitation is None:
        raise Problem(404, "Not found", NOT_FOUND)
    row = await store.find_assessment(uow.conn, invitation["campaign_id"], invitation["school_unit"])
    if row is None:
        raise Problem(404, "Not found", NOT_FOUND)
    a = await load(uow.conn, row["id"], lock=True)  # one answer at a time per school; a submission in flight finishes first
    refuse_if_closed(a.row, datetime.now(UTC))
    if invitation["used"]:
        raise rejected(409, "this invitation has already been used: each invitation answers once", "code")
    if group is not None and group != invitation["grp"]:
        raise rejected(422, f"this invitation is for the group {invitation['grp']!r}, not {group!r}", "group")
    group = invitation["grp"]
    try:
        checked = domain.check_pulse(a.framework, group, domain.pulse_groups(a.school.school_types), answers)
    except domain.Rejected as exc:
        raise rejected(exc.status, str(exc), exc.field) from exc
    if not await store.use_pulse_invitation(uow.conn, hashed):
        raise rejected(409, "this invitation has already been used: each invitation answers once", "code")
    campaign_id = a.row["campaign_id"]
    await store.record_pulse(uow.conn, campaign_id, a.school.id, group, checked)
    live = await store.pulse_tally(uow.conn, campaign_id, a.school.id)
    released = await store.pulse_tally(uow.conn, campaign_id, a.school.id, released=True)
    respondents, headings = domain.due_releases(live, released, group)
    await store.release_pulse(uow.conn, campaign_id, a.school.id, group, respondents=respondents, headings=headings)
