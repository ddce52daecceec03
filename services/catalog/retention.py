"""How long the catalog keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md). A closed request goes whole — its steps first, then the request with its free text
(purpose, proposed app, conditions, reason) — counted from its last change."""

from __future__ import annotations

from shared.retention import Rule, messaging

CLOSED = "('approved', 'rejected', 'withdrawn')"

RULES: tuple[Rule, ...] = (
    Rule("closed-requests", "app_request_step",
         "EXISTS (SELECT 1 FROM app_request r WHERE r.id = app_request_step.request_id AND r.state IN " + CLOSED + " AND r.updated_at < $1)",
         1095, "App requests decided (approved, rejected) or withdrawn, with every step and their free text, three years after "
               "their last change. Open requests are never due."),
    Rule("closed-requests", "app_request",
         "state IN " + CLOSED + " AND updated_at < $1 AND NOT EXISTS (SELECT 1 FROM app_request_step s WHERE s.request_id = app_request.id)",
         1095, "The requests themselves, once their steps are gone."),
    Rule("audit-log", "audit_log", "at < $1", 1825,
         "The audit trail of the programbank (with the status-change reasons it copies), after five years."),
    *messaging(),
)
