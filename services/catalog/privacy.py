"""The catalog's part in data protection (shared/privacy/part.py): where it keeps personal data (docs/privacy.md,
catalog), how long (its retention rules), what it gathers for a right-of-access request (docs/decisions/0010)
and what it erases (docs/decisions/0009; the SQL in privacy_store.py).

Retention, how long the catalog keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md). A closed request goes whole — its steps first, then the request with its free text
(purpose, proposed app, conditions, reason) — counted from its last change.
"""

from __future__ import annotations

from services.catalog import privacy_store as store
from shared.events.catalog import CatalogDataErased, CatalogDataExported
from shared.privacy import export
from shared.privacy.datamap import (
    ACCOUNTABILITY, AUDIT, DERIVED, duty, EDUCATION, FREE_TEXT, guardianships, IDEMPOTENCY_KEY, idempotency, INBOX, markings, MIGRATIONS, person_names, NotPersonal, ORGANISATION, ORGANISATION_NAME, outbox,
    outbox_key_not_personal, OUTBOX_PARKING, PENDING, Personal, PUPIL, retained, ServiceMap, STAFF, STAFF_IDENTITY,
)
from shared.privacy.datamap import JOB_RUN
from shared.privacy.part import PrivacyPart
from shared.retention import Rule, messaging

# --- retention: how long each class of data is kept (shared/retention.py) -------------------------

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

# --- the data map (docs/privacy.md) ---------------------------------------------------------------

C_STAFF = "every staff role (teacher, principal, district_admin, city_admin, it_admin, data_protection), city-wide"
C_REQUEST_READERS = ("The requester; reviewers (it_admin of the school's district, data_protection, city_admin); the school's "
                     "principal and district_admin: GET /requests, GET /requests/{id}, POST /requests/{id}/actions.")

DATA_MAP = ServiceMap(
    "catalog",
    personal=(
        duty("Check that a requester works at the school; the request records the duty role they hold there.", EDUCATION,
             "No HTTP endpoint returns duties; used to authorise requests (services/catalog/access.py requester_duty)."),
        markings(),
        guardianships(EDUCATION, "No HTTP endpoint returns them; they decide what a signed-in person may do (shared/auth/authority.py)."),
        idempotency("catalog", EDUCATION, RULES),
        person_names("Show staff by name where the catalog shows who did something: requesters and who acted on a request, "
                     "who added or changed an app or a licence, and the audit trail.", ACCOUNTABILITY,
                     "Those who may read the request, app or audit trail: the `name` of every person reference (PersonRef) — "
                     "GET /requests, GET /requests/{id}, GET /apps/{id}, GET /apps/{id}/audit."),
        Personal("status_definition", ("defined_by",), STAFF_IDENTITY, (STAFF,),
                 "Who defined a status (skolit:seed for the built-in ones).", ACCOUNTABILITY,
                 f"Until erased: statuses are never deleted — {PENDING}.",
                 ("No HTTP endpoint returns it (GET /statuses leaves it out).",)),
        Personal("app", ("created_by", "updated_by"), STAFF_IDENTITY, (STAFF,),
                 "Who added and who last changed the programbank record.", ACCOUNTABILITY,
                 f"Until erased: apps are never deleted (retired is a status) — {PENDING}.",
                 (f"{C_STAFF}: GET /apps/{{id}} (createdBy, updatedBy).",)),
        Personal("app", ("supplier", "description", "search", "search_folded"), FREE_TEXT, (STAFF,),
                 "Describe the resource and who provides it.", EDUCATION,
                 f"Until erased: apps are never deleted — {PENDING}.",
                 ("Anyone, without login: GET /public/school-units/{id}/apps.",
                  f"{C_STAFF}: GET /apps, GET /apps/{{id}}, GET /apps/export."),
                 "For a teacher-made resource the supplier can be a teacher's name (the demo writes \"Lärare på Matteusskolan\", "
                 "nothing stops a name), shown publicly. search is a stored tsvector generated from name, supplier and "
                 "description, search_folded the same folded to ASCII (å, ä, ö as a, a, o). The app's events carry name and supplier."),
        Personal("search_word", ("word",), DERIVED, (STAFF,),
                 "Every word of the programbank as written, to correct misspelt search words.", EDUCATION,
                 f"Never pruned: a word stays after the app that had it changes or retires — {PENDING}.",
                 (f"{C_STAFF}: GET /apps?q= (a misspelt word is corrected to one of these).",),
                 "Holds the words of suppliers and descriptions, so a teacher's name in a supplier lands here too."),
        Personal("licence", ("created_by",), STAFF_IDENTITY, (STAFF,),
                 "Who recorded the licence.", ACCOUNTABILITY,
                 f"Until erased: licences are never deleted (ended_at marks an ended one) — {PENDING}.",
                 ("Staff of the licence's school unit (token school units), it_admin and district_admin of its district, "
                  "city_admin and data_protection: GET /licences (createdBy).",)),
        Personal("licence", ("group_name", "note"), FREE_TEXT, (STAFF, PUPIL),
                 "Which group a group licence is for; the order or agreement number.", EDUCATION,
                 f"Until erased — {PENDING}.",
                 ("As created_by: GET /licences (groupName, note).",),
                 "A group name can name a teacher's group or a class."),
        Personal("app_request", ("requester", "requester_duty", "decided_by"), STAFF_IDENTITY, (STAFF,),
                 "Who asked for an app (and the duty they hold at the school), and who decided.", EDUCATION,
                 retained(RULES, "closed-requests", before="Open requests stay. "),
                 (C_REQUEST_READERS,),
                 "Also in the AppRequest* events (requester, decidedBy, by); notification messages the requester."),
        Personal("app_request", ("purpose", "proposed", "conditions", "reason"), FREE_TEXT, (STAFF, PUPIL),
                 "What the app is for in teaching, the app proposed, the conditions of an approval, the reason for a "
                 "rejection.", EDUCATION,
                 "As the request they belong to (closed-requests).",
                 (C_REQUEST_READERS,),
                 "conditions and reason travel in AppRequestDecided and end up in notification's message.data."),
        Personal("app_request_step", ("actor", "note"), AUDIT, (STAFF, PUPIL),
                 "Each step of a request: who, when, with the question, answer or reason.", ACCOUNTABILITY,
                 "Append-only; removed with its request (closed-requests).",
                 (C_REQUEST_READERS.replace("GET /requests/{id},", "GET /requests/{id} (history),"),),
                 "note is free text and travels in AppRequestProgressed."),
        Personal("audit_log", ("actor", "detail"), AUDIT, (STAFF,),
                 "Every change to the programbank: apps, data-protection facts, statuses, licences, imports.", ACCOUNTABILITY,
                 retained(RULES, "audit-log", before="Append-only: text erased elsewhere stays here until then. "),
                 ("it_admin, data_protection, city_admin: GET /apps/{id}/audit (entries about apps).",
                  "Entries about licences, statuses and imports: no HTTP endpoint."),
                 "detail copies status-change reasons (free text) and changed fields. actor is a person id or a system name "
                 "(skolit:dpa-expiry, skolit:catalog-rules)."),
        outbox("catalog", RULES, "staff person ids, sealed with each person's own key (publishedBy, changedBy, retiredBy, requester, by, "
                          "decidedBy; docs/decisions/0009) and free text "
                          "(request notes, conditions, rejection and status-change reasons)",
               "this service consumes the city's organisations, duties and app launches: staff person ids", "skolit.catalog",
               "consumed by reporting and notification", (STAFF, PUPIL)),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING, IDEMPOTENCY_KEY, JOB_RUN,
        NotPersonal("app", "The product's or resource's name.", ("name",)),
        NotPersonal("app", "A reference to the DPIA document.", ("dpia_ref",)),
        NotPersonal("app", "The youngest age the app may be used at: a property of the app.", ("min_age",)),
        NotPersonal("app_request", "The requested app's name.", ("app_name",)),
        NotPersonal("app_request", "How many pupils would use the app: a number.", ("pupils",)),
        NotPersonal("app_usage", "Launches per app, school unit and period, counted at the source, never per pupil."),
        NotPersonal("app_usage", "A count of active users, not who they are.", ("active_users",)),
        NotPersonal("search_version", "A counter of programbank changes (the search cache's version)."),
                outbox_key_not_personal("The message key: an app or a school unit (dead letters keep the original key: a school unit "
                                "for duty events)."),
    ),
)


# --- right of access: every row it holds about the person -----------------------------------------

gather = export.gathering({
    "appRequests": store.own_requests, "appRequestHistory": store.own_request_steps, "requestsDecided": store.decided_requests,
    "requestStepsOnOthersRequests": store.steps_on_others, "appsRecorded": store.apps, "licencesRecorded": store.licences,
    "statusesDefined": store.statuses,
})


PRIVACY = PrivacyPart(data_map=DATA_MAP, retention=RULES, gather=gather, exported=CatalogDataExported,
                      erase=store.erase_person, erased=CatalogDataErased)
