"""Notification's use cases: one plain async function per thing a user, an event or a job can make happen.
Each takes a ``UnitOfWork`` first (shared/uow.py: its connection inside a transaction, and ``publish`` the one
way to stage events), then the caller (``shared.auth.Principal``) where there is one, then plain arguments, and
returns a result. Routes (routes/), event handlers (handlers.py), jobs (jobs.py) and the senders (sender.py)
are thin adapters around them. Privacy's own flows (right of access, erasure) stay in access_requests.py and
privacy.py."""

from services.notification.usecases.broadcasts import (
    Audience,
    broadcast_receipts,
    get_broadcast,
    preview_broadcast,
    send_broadcast,
)
from services.notification.usecases.contacts import ContactDetails, put_contacts, put_many_contacts, read_contacts
from services.notification.usecases.deliveries import apply_gateway_callback, mark_delivered, mark_failed, record_outcomes
from services.notification.usecases.events import (
    apply_app_request_decided,
    apply_assessment_reopened,
    apply_assessment_submitted,
    apply_campaign_closed,
    apply_campaign_opened,
    apply_dpa_expired,
    apply_guardian_relation_ended,
    apply_licence_expiring,
    apply_person_removed,
    apply_report_published,
)
from services.notification.usecases.inbox import mark_read, read_inbox
from services.notification.usecases.jobs import run_digests, run_reach, run_reminders
from services.notification.usecases.preferences import get_preferences, set_preferences
from services.notification.usecases.worklists import list_quiet_hours_bypasses, list_unreached, school_audience

__all__ = [
    "Audience", "ContactDetails",
    "apply_app_request_decided", "apply_assessment_reopened", "apply_assessment_submitted", "apply_campaign_closed", "apply_campaign_opened",
    "apply_dpa_expired", "apply_gateway_callback", "apply_guardian_relation_ended", "apply_licence_expiring", "apply_person_removed",
    "apply_report_published", "broadcast_receipts", "get_broadcast", "get_preferences", "list_quiet_hours_bypasses", "list_unreached",
    "mark_delivered", "mark_failed", "mark_read", "preview_broadcast", "put_contacts", "put_many_contacts", "read_contacts", "read_inbox",
    "record_outcomes", "run_digests", "run_reach", "run_reminders", "school_audience", "send_broadcast", "set_preferences",
]
