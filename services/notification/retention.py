"""How long notification keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md). The order matters: children before their parents — digest items and fallbacks before
the deliveries they point at, deliveries and bypass entries before their messages, messages before their
broadcasts.

A delivery still on its way (queued, sending, temporary-failure) is never due, nor is its message: a
message goes only when no delivery and no bypass entry of it is left. Guardian reach counts deliveries of
the current year, so periods shorter than a year lower the reach published for it.
"""

from __future__ import annotations

from shared.retention import Rule, messaging

FINAL = "('delivered', 'permanent-failure', 'bounced', 'cancelled')"
# nothing else points at the delivery (a digest item at its digest, a fallback at the delivery that failed)
UNREFERENCED = ("NOT EXISTS (SELECT 1 FROM delivery x WHERE x.bundled_into = delivery.id)"
                " AND NOT EXISTS (SELECT 1 FROM delivery x WHERE x.fallback_from = delivery.id)")

RULES: tuple[Rule, ...] = (
    Rule("digest-items", "delivery",
         "mode = 'digest' AND bundled_into IS NOT NULL AND state IN " + FINAL + " AND updated_at < $1 AND " + UNREFERENCED,
         90, "Items a daily digest carried, once the digest went out (or failed for good): the digest itself stays as a delivery. "
             "Per-recipient receipts of older broadcasts then no longer show the digest channel."),
    Rule("deliveries", "delivery",
         "state IN " + FINAL + " AND updated_at < $1 AND bundled_into IS NULL AND NOT (channel = 'inapp' AND read_at IS NOT NULL) AND "
         + UNREFERENCED,
         365, "Deliveries on every channel that reached a final state (delivered, failed for good, bounced, cancelled) and have not "
              "changed since; unread in-app items included (an in-app item is delivered when made). Never one still on its way."),
    Rule("inbox-read", "delivery",
         "channel = 'inapp' AND read_at IS NOT NULL AND read_at < $1 AND " + UNREFERENCED,
         365, "In-app items their recipient has read, counted from the reading."),
    Rule("quiet-hours-bypasses", "quiet_hours_bypass", "at < $1",
         730, "The log of critical messages sent inside someone's quiet hours (docs/decisions/0007)."),
    Rule("messages", "message",
         "created_at < $1 AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.message_id = message.id)"
         " AND NOT EXISTS (SELECT 1 FROM quiet_hours_bypass b WHERE b.message_id = message.id)",
         365, "A message's content (message.data: a broadcast's text, a decision's reason) once none of its deliveries and bypass "
              "entries is left: never while a delivery of it is pending or an inbox still shows it."),
    Rule("broadcasts", "broadcast",
         "created_at < $1 AND NOT EXISTS (SELECT 1 FROM message m WHERE m.broadcast_id = broadcast.id)",
         365, "A broadcast (sender, subject, body) once none of its messages is left."),
    Rule("personal-data-access", "personal_data_access", "at < $1",
         1825, "The access log of personal-data reads (GET /privacy/access-log): append-only, removed only here, after five years."),
    *messaging(),
)
