"""The connector's Prometheus metrics (besides every service's, shared/metrics.py). The alert SS12000SyncStale
(deploy/prometheus) watches the last success; docs/runbook.md says what to do."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LAST_SUCCESS = Gauge(
    "skolit_connector_last_success_timestamp_seconds",
    "When a sync of the resource last completed (unix time); restored from the sync state at start",
    ["resource"],
)
ENTITIES_CHANGED = Counter(
    "skolit_connector_entities_changed_total",
    "Entities (and derived guardian relations) whose events were published, by change: new, changed, removed",
    ["resource", "change"],
)
ERRORS = Counter(
    "skolit_connector_errors_total",
    "Failed requests to the city's SS 12000 API by kind: rate-limited (429), server (5xx), network, auth (401), client (other 4xx)",
    ["resource", "kind"],
)
SYNC_DURATION = Histogram(
    "skolit_connector_sync_duration_seconds",
    "How long one sync took, by mode (incremental, full); failed syncs too",
    ["mode"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
UNKNOWN_DUTY_ROLES = Counter(
    "skolit_connector_unknown_duty_roles_total",
    "Duties whose dutyRole Skolit does not know, published as 'Annan personal'",
)
