"""The connector's part in data protection (shared/privacy/part.py): what its schema holds about persons.

Its sync state holds SS 12000 person ids — pseudonymous personal data: which persons exist (entity_state), which
guardian is responsible for which pupil and where the pupil goes to school (pupil_responsible, pupil_schooling,
guardian_relation) — never names, civic numbers or contact details. Its outbox holds the city events it published,
names included (PersonUpserted). It answers no right-of-access or erasure request: it holds a copy of what the
city's own system holds, and the city erases there (a person deleted at the source is removed here on the next sync).
"""

from __future__ import annotations

from shared.privacy.datamap import (
    GUARDIAN,
    IDEMPOTENCY_KEY,
    INBOX,
    INTEGRATION,
    JOB_RUN,
    MIGRATIONS,
    OUTBOX_PARKING,
    PENDING,
    PERSON_ID,
    PUPIL,
    QUALITY,
    STAFF,
    NotPersonal,
    Personal,
    ServiceMap,
    idempotency,
    outbox,
)
from shared.privacy.part import PrivacyPart
from shared.retention import Rule, messaging

RULES: tuple[Rule, ...] = messaging() + (
    Rule("sync-runs", "sync_run", "finished_at < $1", 90,
         "The record of each SS 12000 sync (mode, times, outcome, counts; no ids): what GET /sync shows."),
)

_UNTIL_SOURCE = (f"Until the person is deleted at the city's source: the next sync marks the row removed (entity_state) or deletes it "
                 f"(pupil_responsible, pupil_schooling); removed rows are kept so a person coming back is never published older — {PENDING}.")

DATA_MAP = ServiceMap(
    "connector",
    personal=(
        Personal("entity_state", ("id", "person", "unit", "kind", "modified", "end_date", "removed"), PERSON_ID, (PUPIL, GUARDIAN, STAFF),
                 "Know what was last published of each SS 12000 entity (a fingerprint, never the entity), so an unchanged person, "
                 "duty or placement publishes nothing and a deleted one is removed (connectors/ss12000/sync.py).", INTEGRATION,
                 _UNTIL_SOURCE, ("No HTTP endpoint returns it; GET /sync shows counts only.",),
                 "id is a person's SS 12000 id for resource 'persons'; person is a duty's staff member or a placement's child."),
        Personal("pupil_responsible", ("pupil", "guardian", "relation_type"), PERSON_ID, (PUPIL, GUARDIAN),
                 "Derive guardian relations (responsibles × schoolings) and end them when a responsible is removed.", QUALITY,
                 _UNTIL_SOURCE, ("No HTTP endpoint returns it.",)),
        Personal("pupil_schooling", ("pupil", "source", "school_unit", "school_type", "school_year", "start_date", "end_date"), PERSON_ID,
                 (PUPIL,), "Derive guardian relations from the pupil's enrolments and placements, and end them when those end.", QUALITY,
                 _UNTIL_SOURCE, ("No HTTP endpoint returns it.",)),
        Personal("guardian_relation", ("id", "pupil", "guardian", "school_unit", "active"), PERSON_ID, (PUPIL, GUARDIAN),
                 "The guardian relations last published, so one that disappears is ended (GuardianRelationEnded).", QUALITY,
                 f"Until erased: an ended relation is kept inactive — {PENDING}.", ("No HTTP endpoint returns it.",)),
        idempotency("connector", INTEGRATION, RULES),
        outbox("connector", RULES, "the city's events as Skolit receives them: person ids, protection markings and names (PersonUpserted), "
                                   "duties, guardian relations; never civic numbers or contact details",
               "the connector consumes nothing: none", "city.*", "consumed by all four services", (PUPIL, GUARDIAN, STAFF),
               columns=("payload", "headers", "key")),
    ),
    not_personal=(
        INBOX, MIGRATIONS, OUTBOX_PARKING, IDEMPOTENCY_KEY, JOB_RUN,
        NotPersonal("sync_cursor", "Where each resource's sync stands: times and the API's page token."),
        NotPersonal("sync_cursor", "The city's API's opaque paging token (a position in a list, not a person).", ("page_token",)),
        NotPersonal("sync_run", "Each sync's mode, times, outcome and counts."),
        NotPersonal("webhook_subscription", "The webhook subscription at the city's API: its id, target URL and path secret."),
    ),
)

PRIVACY = PrivacyPart(data_map=DATA_MAP, retention=RULES)
