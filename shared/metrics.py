"""The Prometheus metrics every service exposes at /metrics (one process per service)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_DURATION = Histogram(
    "skolit_http_request_duration_seconds",
    "HTTP request duration by route template and status",
    ["service", "method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HOT_READS = Counter(
    "skolit_http_hot_reads_total",
    "Hot reads (shared/http/hot_reads.py) by route: answered in front of the framework, or passed on to the full route",
    ["service", "route", "outcome"],
)
EVENTS_CONSUMED = Counter(
    "skolit_events_consumed_total",
    "Events taken from Kafka, by outcome (applied, duplicate, ignored, dead-lettered)",
    ["service", "topic", "type", "outcome"],
)
EVENTS_PUBLISHED = Counter("skolit_events_published_total", "Events published from the outbox", ["service", "topic", "type"])
EVENTS_FAILED = Counter(
    "skolit_events_failed_total",
    "Event processing failures: transient (retried) or permanent (dead-lettered)",
    ["service", "topic", "kind"],
)
DEAD_LETTERED = Counter("skolit_events_dead_lettered_total", "Events sent to a dead-letter topic", ["service", "topic"])
HANDLER_DURATION = Histogram(
    "skolit_handler_duration_seconds",
    "Time to apply one consumed batch in its transaction",
    ["service", "topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("skolit_outbox_backlog", "Outbox events not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("skolit_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox event (0 when none)", ["service"])
OUTBOX_PARKED = Gauge("skolit_outbox_parked_rows", "Outbox rows parked because they can never be published as they are: they need an operator", ["service"])
OUTBOX_PARKED_TOTAL = Counter("skolit_outbox_rows_parked_total", "Outbox rows the relay has parked", ["service"])
OUTBOX_HELD = Gauge("skolit_outbox_held_rows", "Outbox rows waiting behind a parked row of the same topic and key", ["service"])
OUTBOX_STALLED = Gauge(
    "skolit_outbox_stalled_seconds", "Seconds since the outbox relay last made progress while rows wait to be published (0 when none wait)", ["service"]
)
CONSUMER_LAG = Gauge("skolit_consumer_lag", "Messages behind the partition's high-water mark", ["service", "topic", "partition"])
JOB_RUNS = Counter(
    "skolit_job_runs_total", "Scheduled job runs by outcome (ok, failed, skipped: another replica was running it)", ["service", "job", "outcome"]
)
JOB_LAST_SUCCESS = Gauge("skolit_job_last_success_timestamp_seconds", "When a scheduled job last completed (unix time)", ["service", "job"])
JOB_DURATION = Histogram("skolit_job_duration_seconds", "Time one scheduled job run took", ["service", "job"], buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120))
RETENTION_DELETED = Counter(
    "skolit_retention_deleted_total", "Rows the retention job removed because their data class's period ran out (shared/retention.py)",
    ["service", "data_class"],
)
EVENT_AGE_AT_APPLY = Histogram(
    "skolit_event_age_at_apply_seconds",
    "Time from an event's creation (CloudEvents time) to the commit of its effect in this service",
    ["service", "topic"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
READ_MODEL_LAG = Gauge(
    "skolit_read_model_lag_seconds",
    "How long the oldest record of the topic not applied yet has waited (its Kafka timestamp to now); 0 when the consumer "
    "has applied everything up to the high-water mark, however quiet the topic (shared/consumer.py ReadModelLag)",
    ["service", "topic"],
)
NOTIFICATIONS = Counter(
    "skolit_notification_deliveries_total",
    "Notification deliveries by channel and what became of them (delivered, accepted, temporary-failure, permanent-failure, bounced)",
    ["channel", "state"],
)
NOTIFICATION_PLAN_WAITING = Gauge(
    "skolit_notification_plan_waiting_recipients", "Recipients of accepted broadcasts whose deliveries are not planned yet (planner.py)"
)
NOTIFICATION_PLAN_FAILING = Gauge(
    "skolit_notification_plan_failed_recipients", "Of those, recipients whose message failed to plan too often and waits for an operator"
)
NOTIFICATION_QUEUE_AGE = Gauge(
    "skolit_notification_oldest_due_age_seconds", "How long the oldest due delivery of a channel has waited (0 when none)", ["channel"]
)
