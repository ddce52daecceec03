"""The data map: for each service's schema, every table and column holding personal data, what for,
on which legal basis (placeholders until the city's DPO confirms them), how long it is kept today and
who can read it — and the tables that hold none, so completeness can be checked.

This module is the source; ``docs/privacy.md`` is generated from it::

    python -m shared.privacy.datamap --write docs/privacy.md     # regenerate
    python -m shared.privacy.datamap --check docs/privacy.md     # exit 1 when the file is stale

tests/integration/test_privacy_datamap.py compares the map with ``information_schema`` of a database
where all four services have migrated: every table must be mapped (as holding personal data or as
declared non-personal), every mapped column must exist, and every column whose *name* suggests a
person or free text (``PERSON_HINT``) must be mapped as personal or declared not personal with a reason.
So a migration that adds such a column fails the tests until this map says what it is.

Retention is written as the system behaves today. What the retention job removes is taken from the services'
own rules (``services/<name>/retention.py``, ``retained`` and ``render_retention`` below), so the map cannot
promise a period the code does not keep. Where nothing removes data, the entry says so and points at the
pending work instead of promising a period.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# --- vocabulary ----------------------------------------------------------------------------------

PUPIL, GUARDIAN, STAFF = "pupil", "guardian", "staff"
SUBJECTS = (PUPIL, GUARDIAN, STAFF)

PERSON_ID = "person id (pseudonymous)"
CONTACT = "contact details (encrypted)"
FREE_TEXT = "free text that may hold personal data"
STAFF_IDENTITY = "staff identity (who did what)"
AUDIT = "audit"
PROTECTED = "protected identity marking (confidential)"
PREFERENCES = "preferences and settings"
DERIVED = "derived search index"
EVENT_RECORD = "event record (ids, some free text)"
EXPORT = "right-of-access export (encrypted)"
CATEGORIES = (PERSON_ID, CONTACT, FREE_TEXT, STAFF_IDENTITY, AUDIT, PROTECTED, PREFERENCES, DERIVED, EVENT_RECORD, EXPORT)

PENDING = "see issue: retention jobs (pending)"
CONFIRM = "TO BE CONFIRMED by the city's DPO"


def retention_rules(schema: str) -> tuple[Any, ...]:
    """The service's retention rules (services/<schema>/retention.py, shared/retention.py)."""
    return importlib.import_module(f"services.{schema}.retention").RULES


def retained(schema: str, data_class: str, before: str = "", after: str = "") -> str:
    """What the retention job does with a data class, from the service's own rule, so the map cannot drift
    from the code: the rule's description, its default period and the variable that changes it."""
    rules = [r for r in retention_rules(schema) if r.data_class == data_class]
    if not rules:
        raise KeyError(f"{schema} has no retention class {data_class!r}")
    rule = rules[0]
    return (f"{before}Retention job ({data_class}): {rule.description} Default {rule.default_days} days, "
            f"`{rule.variable}`.{(' ' + after) if after else ''}")


@dataclass(frozen=True)
class LegalBasis:
    key: str
    text: str


QUALITY = LegalBasis(
    "B1", f"Art. 6.1 e GDPR — allmänt intresse / myndighetsutövning: the huvudman's systematic quality work "
          f"(systematiskt kvalitetsarbete, skollagen 2010:800 4 kap.) — {CONFIRM}")
EDUCATION = LegalBasis(
    "B2", f"Art. 6.1 e GDPR — allmänt intresse: providing and governing the learning resources used in teaching "
          f"(skollagen 2010:800; the city's duty to control its processors, art. 28) — {CONFIRM}")
COMMUNICATION = LegalBasis(
    "B3", f"Art. 6.1 e GDPR — allmänt intresse / myndighetsutövning: informing guardians and staff about the pupil's "
          f"schooling and the school's work — {CONFIRM}")
ACCOUNTABILITY = LegalBasis(
    "B4", f"Art. 6.1 c/e GDPR — traceability of who did what in the city's records (art. 5.2 accountability, art. 32 "
          f"security; allmänna handlingar under arkivlagen 1990:782) — {CONFIRM}")
PROTECTION = LegalBasis(
    "B5", f"Art. 6.1 e GDPR — needed to keep protected identities (skyddade personuppgifter) from being shown; the "
          f"marking itself is confidential (offentlighets- och sekretesslagen 2009:400, 21 kap. 3 §) — {CONFIRM}")
INTEGRATION = LegalBasis(
    "B6", f"The basis of the data the events carry (B1–B5): the outbox is the record of what a service published "
          f"(docs/decisions/0002) — {CONFIRM}")
ACCESS = LegalBasis(
    "B7", f"Art. 6.1 c GDPR — legal obligation: answering the data subject's right of access (art. 15, within a month, "
          f"art. 12.3; docs/decisions/0010) — {CONFIRM}")
ERASURE = LegalBasis(
    "B8", f"Art. 6.1 c GDPR — legal obligation: carrying out the data subject's right to erasure (art. 17, art. 12.3; "
          f"docs/decisions/0009) — {CONFIRM}")
LEGAL_BASES = (QUALITY, EDUCATION, COMMUNICATION, ACCOUNTABILITY, PROTECTION, INTEGRATION, ACCESS, ERASURE)


@dataclass(frozen=True)
class Personal:
    """Columns of one table that hold personal data of one kind."""

    table: str
    columns: tuple[str, ...]
    category: str
    subjects: tuple[str, ...]
    purpose: str
    legal_basis: LegalBasis
    retention: str
    readers: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class NotPersonal:
    """A table without personal data (``columns`` empty), or columns that look personal by name but
    are not (``columns`` given, e.g. a count of guardians)."""

    table: str
    reason: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceMap:
    schema: str
    personal: tuple[Personal, ...]
    not_personal: tuple[NotPersonal, ...]


@dataclass(frozen=True)
class Entry:
    """One row of the map with its schema: what ``entries()`` yields."""

    schema: str
    table: str
    columns: tuple[str, ...]
    category: str
    subjects: tuple[str, ...]
    purpose: str
    legal_basis: LegalBasis
    retention: str
    readers: tuple[str, ...]
    note: str


#: Column names that suggest a person, something said about one, or free text. Such a column must be
#: mapped as personal or declared not personal with a reason. Chosen from the real columns (person,
#: guardian, pupil, requester, sender, actor, owner, *_by, email, mobile, push_token, comment, note,
#: reason, purpose, conditions, proposed, body, subject, detail, evidence, audience, data, payload,
#: headers, keys and references) plus names a future column about a person would likely have.
PERSON_HINT = re.compile(
    r"person|guardian|pupil|student|teacher|staff|employee|member|recipient|requester|sender|actor|owner|user|respondent"
    r"|author|writer|reviewer|approver|(^|_)by$|_by_"
    r"|e_?mail|mobile|phone|push|token|address|personnummer|ssn|birth|(^|_)age$|gender|(^|_)ip($|_)|device"
    r"|location|latitude|longitude|photo|avatar|account|login|health|diagnos|marking|protected|signature|initials"
    r"|name|title|comment|note|reason|purpose|condition|description|body|(^|_)subject$|detail|evidence|text|message$"
    r"|proposed|audience|(^|_)data$|payload|header|(^|_)key($|_)|(^|_)ref($|_)",
    re.IGNORECASE,
)


def looks_personal(column: str) -> bool:
    return PERSON_HINT.search(column) is not None


# --- shared pieces: the replicas and the messaging tables every service keeps ---------------------

ORGANISATION = NotPersonal("organisation", "The city's districts and school units (SS 12000 organisations): no person.")
ORGANISATION_NAME = NotPersonal("organisation", "The name of a school unit or district.", ("display_name",))
INBOX = NotPersonal("inbox", "Ids, topics and offsets of events already applied; the events themselves are not kept here.")
MIGRATIONS = NotPersonal("schema_migrations", "Which migration files were applied, with checksums.")
OUTBOX_PARKING = NotPersonal(
    "outbox", "Why the relay parked a row (its size, topic or the broker's refusal, written by the relay) and an operator's note on "
    "discarding it: about a technical row, never about a person (docs/runbook.md asks operators to name no one there).",
    ("park_reason", "discard_note"),
)


def duty(purpose: str, basis: LegalBasis, readers: str) -> Personal:
    return Personal(
        "duty", ("person", "duty_at", "duty_role", "start_date", "end_date", "active"), PERSON_ID, (STAFF,), purpose, basis,
        f"Until erased: a DutyEnded event only sets active = false and the row stays; nothing deletes duties — {PENDING}.",
        (readers,),
        "Replica of the city's SS 12000 duties (shared/city/migrations/duty.sql); the event's signature is not stored.",
    )


def markings() -> Personal:
    return Personal(
        "person", ("id", "security_marking", "removed"), PROTECTED, (PUPIL, GUARDIAN, STAFF),
        "Know who has a protected identity (Sekretessmarkering, Skyddad folkbokföring), to hide their id from everyone but "
        "them in every answer (shared/city/markings.py).", PROTECTION,
        f"Until erased: PersonRemoved sets removed = true and the row stays — {PENDING}.",
        ("No endpoint returns the marking: a protected person's id becomes `protected-identity` in every JSON and CSV answer "
         "to anyone but that person.",),
        "Replica of the city's persons, id and marking only (shared/city/migrations/person_marking.sql); persons of every kind, "
        "since the topic does not say which.",
    )


def outbox(schema: str, carries: str, dead_letters: str, topic: str, consumers: str, subjects: tuple[str, ...],
           columns: tuple[str, ...] = ("payload", "headers")) -> Personal:
    return Personal(
        "outbox", columns, EVENT_RECORD, subjects,
        "Transactional outbox: events waiting to be published, kept afterwards as the record (docs/decisions/0002). "
        "Dead letters go through it too, with the original event's headers and body.",
        INTEGRATION,
        retained(schema, "outbox", before=f"Kept after publishing as the record (`python -m services.{schema} republish --since` sends "
                                          "history again). ",
                 after="The copies on the Kafka topics follow the deployment's topic retention (deploy/; the embedded broker keeps "
                       "messages in memory only)."),
        (f"No HTTP endpoint. Published to Kafka topic {topic} ({consumers}); dead letters to `<topic>.dlq`, read back by "
         f"`python -m services.{schema} dlq-reprocess`.",),
        f"Payloads carry {carries}. A dead letter keeps the original event's body ({dead_letters}) and its dlq_reason header "
        "can quote the body.",
    )


def outbox_key_not_personal(why: str) -> NotPersonal:
    return NotPersonal("outbox", why, ("key",))


# --- assessment ----------------------------------------------------------------------------------

A_READERS = ("principal, teacher, district_admin, city_admin acting for the school unit (token school units, or district for "
             "district_admin)")

ASSESSMENT = ServiceMap(
    "assessment",
    personal=(
        duty("Decide who is Rektor of a school unit: only the Rektor per the city's duty data may change its "
             "assessment and action plan.", QUALITY,
             "No HTTP endpoint returns duties; used to authorise writes (services/assessment/access.py ensure_rektor)."),
        markings(),
        Personal("campaign", ("opened_by", "closed_by"), STAFF_IDENTITY, (STAFF,),
                 "Record who opened and who closed a self-assessment round.", ACCOUNTABILITY,
                 f"Until erased: rounds are never deleted — {PENDING}.",
                 (f"{A_READERS} of a school the round covers: GET /campaigns, GET /campaigns/{{id}}, "
                  "GET /campaigns/{id}/assessments (openedBy, closedBy).",),
                 "Also in the CampaignOpened/CampaignClosed events (openedBy, closedBy)."),
        Personal("assessment", ("submitted_by",), STAFF_IDENTITY, (STAFF,),
                 "Record which Rektor submitted the school's self-assessment.", ACCOUNTABILITY,
                 f"Until erased: assessments are never deleted; history over the years is the point — {PENDING}.",
                 (f"{A_READERS}: GET /assessments/{{id}}, GET /campaigns/{{id}}/school-units/{{id}}/assessment, "
                  "GET /school-units/{id}/assessments (submittedBy).",
                  "district_admin of the district, city_admin: GET /districts/{id}/assessments."),
                 "Also in the AssessmentSubmitted event (submittedBy); reporting and notification do not store it."),
        Personal("answer", ("comment", "evidence"), FREE_TEXT, (STAFF, PUPIL),
                 "The Rektor's reasons for a level and links to evidence, for the school's own follow-up and its district.",
                 QUALITY,
                 "Until erased. Clearing an answer deletes its row, but audit_log keeps a copy of every saved comment and "
                 f"link; opening the next round copies the answers into the new draft (carry-forward) — {PENDING}.",
                 (f"{A_READERS}: GET /assessments/{{id}}, GET /campaigns/{{id}}/school-units/{{id}}/assessment.",),
                 "Free text up to 4,000 characters: may name staff or pupils. Never in events."),
        Personal("answer", ("updated_by",), STAFF_IDENTITY, (STAFF,),
                 "Who saved the answer last (skolit:carry-forward when it was carried over).", ACCOUNTABILITY,
                 "As the answer it belongs to.",
                 (f"{A_READERS}: GET /assessments/{{id}}, GET /campaigns/{{id}}/school-units/{{id}}/assessment (updatedBy).",)),
        Personal("action", ("title", "owner", "success_criterion"), FREE_TEXT, (STAFF, PUPIL),
                 "The school's action plan: what, who is responsible, how success is judged.", QUALITY,
                 f"Until erased: actions are never deleted (dropped is a status) and outlive their round by design — {PENDING}.",
                 (f"{A_READERS}: GET /school-units/{{id}}/action-plan, GET /assessments/{{id}} (openActions).",),
                 "owner is documented as \"a role or name at the school\": it may name a member of staff. Never in events "
                 "(ActionPlanChanged carries no free text)."),
        Personal("action", ("created_by",), STAFF_IDENTITY, (STAFF,),
                 "Who added the action.", ACCOUNTABILITY, "As the action it belongs to.",
                 (f"{A_READERS}: GET /school-units/{{id}}/action-plan, GET /assessments/{{id}} (createdBy).",)),
        Personal("action_note", ("note",), FREE_TEXT, (STAFF, PUPIL),
                 "Follow-up notes on an action, e.g. written during next year's assessment.", QUALITY,
                 f"Until erased: notes are never deleted — {PENDING}.",
                 (f"{A_READERS}: GET /school-units/{{id}}/action-plan, GET /assessments/{{id}} (notes).",)),
        Personal("action_note", ("written_by",), STAFF_IDENTITY, (STAFF,),
                 "Who wrote the note.", ACCOUNTABILITY, "As the note it belongs to.",
                 (f"{A_READERS}: GET /school-units/{{id}}/action-plan, GET /assessments/{{id}} (notes[].writtenBy).",)),
        Personal("audit_log", ("actor", "detail"), AUDIT, (STAFF, PUPIL),
                 "Every change to assessments, actions and rounds: who, what, when (shared/audit.py).", ACCOUNTABILITY,
                 retained("assessment", "audit-log", before="Append-only: text erased elsewhere stays here until then. "),
                 ("principal, district_admin, city_admin acting for the school unit: GET /assessments/{id}/audit, "
                  "GET /actions/{id}/audit.",
                  "Entries about rounds (entity campaign): no HTTP endpoint."),
                 "detail copies the changed values: answer comments and evidence links, the reopening reason, action titles, "
                 "owners, success criteria and notes. actor is a person id or a system name (skolit:...)."),
        outbox("assessment", "staff person ids, sealed with each person's own key (openedBy, closedBy, submittedBy, reopenedBy; "
                              "docs/decisions/0009)",
               "this service consumes the city's organisations and duties: staff person ids", "skolit.assessment",
               "consumed by reporting and notification", (STAFF,)),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING,
        NotPersonal("campaign", "The round's name, e.g. \"Självskattning 2026\".", ("name",)),
        NotPersonal("campaign_school_unit", "Which school units a round covers, and each school's pulse code (shared by the "
                                            "whole school, identifies no one)."),
        NotPersonal("framework", "The published framework versions (indicators, levels, help texts)."),
        NotPersonal("pulse_respondents", "Counts of pulse respondents per school and group; no row per respondent "
                                         "(docs/decisions/0004)."),
        NotPersonal("pulse_respondents", "A number of respondents, not who they were.", ("respondents",)),
        NotPersonal("pulse_tally", "Counts of pulse answers per heading and level; no row per respondent."),
        outbox_key_not_personal("The message key: a school unit, round or framework version (dead letters keep the original "
                                "key: the duty's school unit)."),
    ),
)

# --- catalog -------------------------------------------------------------------------------------

C_STAFF = "every staff role (teacher, principal, district_admin, city_admin, it_admin, data_protection), city-wide"
C_REQUEST_READERS = ("The requester; reviewers (it_admin of the school's district, data_protection, city_admin); the school's "
                     "principal and district_admin: GET /requests, GET /requests/{id}, POST /requests/{id}/actions.")

CATALOG = ServiceMap(
    "catalog",
    personal=(
        duty("Check that a requester works at the school; the request records the duty role they hold there.", EDUCATION,
             "No HTTP endpoint returns duties; used to authorise requests (services/catalog/access.py requester_duty)."),
        markings(),
        Personal("status_definition", ("defined_by",), STAFF_IDENTITY, (STAFF,),
                 "Who defined a status (skolit:seed for the built-in ones).", ACCOUNTABILITY,
                 f"Until erased: statuses are never deleted — {PENDING}.",
                 ("No HTTP endpoint returns it (GET /statuses leaves it out).",)),
        Personal("app", ("created_by", "updated_by"), STAFF_IDENTITY, (STAFF,),
                 "Who added and who last changed the programbank record.", ACCOUNTABILITY,
                 f"Until erased: apps are never deleted (retired is a status) — {PENDING}.",
                 (f"{C_STAFF}: GET /apps/{{id}} (createdBy, updatedBy).",)),
        Personal("app", ("supplier", "description", "search"), FREE_TEXT, (STAFF,),
                 "Describe the resource and who provides it.", EDUCATION,
                 f"Until erased: apps are never deleted — {PENDING}.",
                 ("Anyone, without login: GET /public/school-units/{id}/apps.",
                  f"{C_STAFF}: GET /apps, GET /apps/{{id}}, GET /apps/export."),
                 "For a teacher-made resource the supplier can be a teacher's name (the demo writes \"Lärare på Matteusskolan\", "
                 "nothing stops a name), shown publicly. search is a stored tsvector generated from name, supplier and "
                 "description. The app's events carry name and supplier."),
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
                 retained("catalog", "closed-requests", before="Open requests stay. "),
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
                 retained("catalog", "audit-log", before="Append-only: text erased elsewhere stays here until then. "),
                 ("it_admin, data_protection, city_admin: GET /apps/{id}/audit (entries about apps).",
                  "Entries about licences, statuses and imports: no HTTP endpoint."),
                 "detail copies status-change reasons (free text) and changed fields. actor is a person id or a system name "
                 "(skolit:dpa-expiry, skolit:catalog-rules)."),
        outbox("catalog", "staff person ids, sealed with each person's own key (publishedBy, changedBy, retiredBy, requester, by, "
                          "decidedBy; docs/decisions/0009) and free text "
                          "(request notes, conditions, rejection and status-change reasons)",
               "this service consumes the city's organisations, duties and app launches: staff person ids", "skolit.catalog",
               "consumed by reporting and notification", (STAFF, PUPIL)),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING,
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

# --- reporting -----------------------------------------------------------------------------------

REPORTING = ServiceMap(
    "reporting",
    personal=(
        Personal("indicator_definition", ("defined_by",), STAFF_IDENTITY, (STAFF,),
                 "Who defined an indicator.", ACCOUNTABILITY,
                 f"Until erased: definitions are configuration, kept through `rebuild` and never deleted — {PENDING}.",
                 ("No HTTP endpoint returns it (GET /indicators leaves it out).",)),
        Personal("published_report", ("published_by",), STAFF_IDENTITY, (STAFF,),
                 "Who announced a year's report to a district.", ACCOUNTABILITY,
                 f"Until erased: kept through `rebuild`, never deleted — {PENDING}.",
                 ("No HTTP endpoint returns it.",),
                 "Also in the ReportPublished event (publishedBy)."),
        outbox("reporting", "a staff person id, sealed with the person's own key (ReportPublished.publishedBy; docs/decisions/0009)",
               "assessment and catalog events: staff person ids, status-change reasons", "skolit.reporting",
               "consumed by notification", (STAFF,)),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING,
        NotPersonal("campaign", "Read model of the rounds: name, year, deadline (not who opened them)."),
        NotPersonal("campaign", "The round's name.", ("name",)),
        NotPersonal("campaign_school_unit", "Which school units a round covers."),
        NotPersonal("school_unit_history", "Every version of a school unit: name, district, school types."),
        NotPersonal("school_unit_history", "The school unit's name at the time.", ("display_name",)),
        NotPersonal("submission", "Which assessments count, per school and year (not who submitted)."),
        NotPersonal("heading_level", "A school's level per heading."),
        NotPersonal("indicator_level", "A school's level per indicator."),
        NotPersonal("pulse_level", "Pulse means per school, group and heading, only for groups of 5 or more."),
        NotPersonal("pulse_level", "A number of respondents.", ("respondents",)),
        NotPersonal("indicator_definition", "The indicator's names and descriptions.", ("name_sv", "name_en", "description_sv", "description_en")),
        NotPersonal("school_figure", "Figures the city measures per school (Wi-Fi, devices, numbers of pupils)."),
        NotPersonal("app_fact", "What the catalog says of each app (headings, allowed, valid DPA)."),
        NotPersonal("app_launch", "Launches per app, school unit and period, never per pupil."),
        NotPersonal("indicator_alert", "Whether a school's figure is below its indicator's target."),
        NotPersonal("action_state", "Status and deadline of each action (ActionPlanChanged carries no free text)."),
        outbox_key_not_personal("The message key: a district or a school unit."),
    ),
)

# --- notification --------------------------------------------------------------------------------

N_SCHOOL = "principal, district_admin, city_admin acting for the school unit"
N_SELF = "the person themselves (token subject = their person id) and city_admin"
N_SELF_ = "The person themselves (token subject = their person id) and city_admin"

NOTIFICATION = ServiceMap(
    "notification",
    personal=(
        duty("Find recipients by duty: a school's Rektor and IT-samordnare, district admins (Övrig "
             "arbetsledning at the district), staff audiences of broadcasts.", COMMUNICATION,
             f"Counts only ({N_SCHOOL}): GET /school-units/{{id}}/audience, POST /broadcasts/audience. Duty rows never leave "
             "over HTTP; staff recipients' ids do, through delivery (receipts)."),
        Personal("person", ("id", "security_marking", "removed"), PROTECTED, (PUPIL, GUARDIAN, STAFF),
                 "Know which persons exist (contact details only for known persons) and hide protected identities "
                 "(Sekretessmarkering, Skyddad folkbokföring) in receipts, worklists and the bypass log.", PROTECTION,
                 f"Until erased: PersonRemoved sets removed = true and ends the person's relations; the row stays — {PENDING}.",
                 (f"No endpoint returns the marking; {N_SCHOOL} see protectedIdentity: true (without the id) in "
                  "GET /broadcasts/{id}/receipts, GET /school-units/{id}/unreached and GET /quiet-hours-bypasses.",),
                 "Replica of the city's persons (shared/city/migrations/person.sql): id and marking only."),
        Personal("guardianship", ("guardian", "pupil", "school_unit", "relation_type", "school_type", "school_year",
                                  "start_date", "end_date", "active"), PERSON_ID, (GUARDIAN, PUPIL),
                 "Who is guardian of which pupil, at which school, school type and year group: recipients of messages about "
                 "a school, cancelling what is pending when a relation ends, guardian reach.", COMMUNICATION,
                 f"Until erased: GuardianRelationEnded and PersonRemoved set active = false; rows are never deleted — {PENDING}.",
                 (f"Counts only ({N_SCHOOL}): GET /school-units/{{id}}/audience, POST /broadcasts/audience.",
                  "Guardian ids through delivery (receipts, unreached); pupil ids never leave over HTTP."),
                 "Replica of the city's guardian relations (shared/city/migrations/person.sql)."),
        Personal("contact", ("email", "mobile", "push_token"), CONTACT, (GUARDIAN, STAFF, PUPIL),
                 "Send messages by e-mail, SMS and push.", COMMUNICATION,
                 f"Until erased: overwritten when the city's systems send new ones; not deleted, not even on PersonRemoved — {PENDING}.",
                 ("city_admin with a reason (support, correction, access-request, delivery-problem, guardian-request, dpo-review), "
                  "each read logged in personal_data_access: GET /persons/{id}/contacts.",
                  "The senders decrypt them to send (services/notification/sender.py)."),
                 "AES-256-GCM (services/notification/crypto.py), the person id as associated data, key id beside each row. "
                 "Any person known from the city's events can be given contact details, pupils included."),
        Personal("contact", ("person", "language"), PREFERENCES, (GUARDIAN, STAFF, PUPIL),
                 "Whose contact details these are, and the language the city's systems gave.", COMMUNICATION,
                 "As the contact details.",
                 ("city_admin: GET /persons/{id}/contacts (language).",),
                 "language is not encrypted."),
        Personal("contact", ("updated_by",), STAFF_IDENTITY, (STAFF,),
                 "Which account (the city's system) wrote the contact details.", ACCOUNTABILITY,
                 "As the contact details.",
                 ("No HTTP endpoint returns it.",)),
        Personal("personal_data_access", ("actor", "actor_roles", "action", "subject", "subjects", "why_code", "path"), AUDIT,
                 (GUARDIAN, STAFF, PUPIL),
                 "The access log: who (token subject and roles) read or wrote whose contact details or messages, when, why "
                 "(the reason given, own-data for one's own, city-sync for the city's systems) and by which path "
                 "(services/notification/access_audit.py).", ACCOUNTABILITY,
                 retained("notification", "personal-data-access",
                          before="Append-only in the database: a trigger refuses UPDATE, DELETE and TRUNCATE except the retention "
                                 "job's DELETE (migrations/0006_access_audit.sql). "),
                 ("data_protection: GET /privacy/access-log (filters: person, actor, from, to, action; that read is logged too).",),
                 "A list's row (receipts, unreached, bypass log) names every person the answer carried in subjects, protected "
                 "identities included; path holds the person id of a single read. Took over contact_access (migrated, dropped)."),
        Personal("preference", ("person", "message_type", "channel", "mode"), PREFERENCES, (GUARDIAN, STAFF),
                 "What each recipient gets, on which channel, instantly or as a digest.", COMMUNICATION,
                 f"Until erased: kept after the person is removed — {PENDING}.",
                 (f"{N_SELF_}: GET /persons/{{id}}/preferences.",)),
        Personal("recipient_setting", ("person", "language", "quiet_start", "quiet_end"), PREFERENCES, (GUARDIAN, STAFF),
                 "A recipient's language and quiet hours.", COMMUNICATION,
                 f"Until erased: kept after the person is removed — {PENDING}.",
                 (f"{N_SELF_}: GET /persons/{{id}}/preferences.",)),
        Personal("message", ("data",), FREE_TEXT, (GUARDIAN, STAFF, PUPIL),
                 "The content of a message, composed per recipient's language from a template.", COMMUNICATION,
                 retained("notification", "messages"),
                 (f"Each recipient — {N_SELF} (with a reason, logged in personal_data_access): GET /persons/{{id}}/messages; "
                  "sent by e-mail, SMS and push.",),
                 "Holds a broadcast's subject and body as written and a request decision's conditions or reason."),
        Personal("message", ("dedupe_key",), PERSON_ID, (GUARDIAN, STAFF),
                 "Make each message once per cause.", COMMUNICATION,
                 "As the message.",
                 ("No HTTP endpoint returns it.",),
                 "A digest's key is `digest:<person>:<channel>:<day>`: a person id inside a text column."),
        Personal("delivery", ("person", "channel", "mode", "state", "send_after", "quiet_bypassed", "attempts", "last_error",
                              "read_at", "gateway_ref"), PERSON_ID, (GUARDIAN, STAFF),
                 "One row per recipient and channel: sending, retries, fallbacks, read receipts, guardian reach.", COMMUNICATION,
                 " ".join((retained("notification", "deliveries"), retained("notification", "inbox-read"),
                           retained("notification", "digest-items"))),
                 (f"{N_SELF_}: GET /persons/{{id}}/messages (read or not).",
                  f"{N_SCHOOL}: GET /broadcasts/{{id}}/receipts (per recipient: read, state per channel), "
                  "GET /school-units/{id}/unreached; protected identities without their id; with a reason, each read logged in "
                  "personal_data_access.",
                  "principal, district_admin, city_admin who sent the broadcast or act for all its schools: "
                  "GET /broadcasts/{id} (counts only)."),
                 "last_error holds codes (smtp-550, http-400), never the gateway's text; gateway_ref is the gateway's id, "
                 "which the gateway's own log ties to the address."),
        Personal("broadcast", ("sender",), STAFF_IDENTITY, (STAFF,),
                 "Who sent a broadcast.", ACCOUNTABILITY,
                 retained("notification", "broadcasts"),
                 ("The sender, or who acts for all its schools (principal, district_admin, city_admin): GET /broadcasts/{id}.",)),
        Personal("broadcast", ("subject", "body"), FREE_TEXT, (PUPIL, GUARDIAN, STAFF),
                 "What a principal or district admin wrote to an audience.", COMMUNICATION,
                 "As the broadcast (broadcasts).",
                 ("The sender, or who acts for all its schools: GET /broadcasts/{id} (subject only).",
                  "The recipients: GET /persons/{id}/messages (subject and body, from message.data); e-mail, SMS, push."),
                 "Up to 5,000 characters written by staff: may name a pupil."),
        Personal("quiet_hours_bypass", ("person", "channel", "local_time"), AUDIT, (GUARDIAN, STAFF),
                 "Every critical message sent inside someone's quiet hours (docs/decisions/0007).", ACCOUNTABILITY,
                 retained("notification", "quiet-hours-bypasses", before="Append-only. ",
                          after="The message it points at stays as long as the entry does."),
                 (f"{N_SCHOOL} (for that school): GET /quiet-hours-bypasses?schoolUnitId=.",
                  "city_admin, data_protection (the whole city): GET /quiet-hours-bypasses.",
                  "With a reason, each read logged in personal_data_access; protected identities without their id."),
                 "Hides protected identities (personId null, protectedIdentity true), as receipts and unreached do."),
        Personal("access_request", ("person",), PERSON_ID, (PUPIL, GUARDIAN, STAFF),
                 "Whose data a right-of-access request asks for (docs/decisions/0010).", ACCESS,
                 f"The request row stays as the record that the request was answered, after its export is dropped — {PENDING}.",
                 ("Whoever asked (token subject = requested_by): GET /privacy/access-requests/{id}.",),
                 "Sealed with the person's own key in AccessRequested (shared/privacy/vault.py); plain here."),
        Personal("access_request", ("requested_by",), STAFF_IDENTITY, (STAFF, GUARDIAN),
                 "Who asked: data_protection, a city admin, or the person themselves; only they may read the export.", ACCESS,
                 "As the request row.",
                 ("Whoever asked: GET /privacy/access-requests/{id}.",)),
        Personal("access_request", ("export",), EXPORT, (PUPIL, GUARDIAN, STAFF),
                 "The assembled export: everything the four services hold about the person, for whoever asked to fetch.", ACCESS,
                 "30 days after it was complete (job access-exports), then dropped; the request row stays without it.",
                 ("Whoever asked: GET /privacy/access-requests/{id}, each read logged in personal_data_access.",),
                 "Contact details included, in clear inside: the whole document is encrypted with notification's keyring "
                 "(AES-256-GCM, the request id as associated data)."),
        Personal("access_request_part", ("part",), EXPORT, (PUPIL, GUARDIAN, STAFF),
                 "Each service's part of an export as it arrived, until the four are in.", ACCESS,
                 "Deleted when the export is assembled, or when a request still pending after 30 days is given up.",
                 ("No HTTP endpoint: only the request's private key opens a part.",),
                 "Sealed for the request's X25519 public key (shared/privacy/sealedbox.py), as on the topics."),
        Personal("erasure_request", ("person_ref", "person_hash", "requested_by"), PERSON_ID, (PUPIL, GUARDIAN, STAFF),
                 "Whose data is being erased, and who asked, until every service has confirmed (docs/decisions/0009).", ERASURE,
                 "person_ref (the person sealed with their own key) and person_hash (a keyed hash, to find a pending request "
                 "for the same person) are dropped when the request completes, and the key destroyed; the row stays, naming no one.",
                 ("city_admin, data_protection: GET /privacy/erasure-requests/{id} (never the person).",),
                 "requested_by is the asker sealed (a person) or the name of the city system's account."),
        outbox("notification", "recipients' person ids, sealed with each person's own key (MessageDelivered, MessageFailed, keyed by "
                               "the message; ErasureRequested, AccessRequested; docs/decisions/0009)",
               "this service consumes the city's persons, duties and guardian relations: guardian, pupil and staff ids; "
               "a person event's key and ce_subject header are the person id", "skolit.notification",
               "consumed by reporting", (GUARDIAN, STAFF, PUPIL), ("key", "payload", "headers")),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING,
        NotPersonal("contact", "The id of the key that encrypted the row.", ("key_id",)),
        NotPersonal("access_request", "Why the request was made: a code from a fixed list (data-subject-request, ...).", ("reason_code",)),
        NotPersonal("erasure_request", "Why: a code from a fixed list (art. 17.1 GDPR); and whether the person's key is destroyed.",
                    ("reason_code", "key_destroyed")),
        NotPersonal("erasure_confirmation", "Each service's confirmation of an erasure: when, and how many rows of each table — "
                                            "counts, never an id."),
        NotPersonal("access_request", "The request's X25519 private key, encrypted with the keyring, and the keyring's key ids: "
                                      "keys, not data about anyone. The private key is dropped once the export is complete.",
                    ("private_key", "private_key_id", "export_key_id")),
        NotPersonal("broadcast", "The audience as chosen: school units, school types, year groups, duty roles; never a list "
                                 "of persons.", ("audience",)),
        NotPersonal("broadcast", "How many recipients: a number.", ("recipients",)),
        NotPersonal("campaign", "Self-assessment rounds, for deadline reminders."),
        NotPersonal("campaign", "The round's name.", ("name",)),
        NotPersonal("campaign_school", "Deadline and submitted flag per school unit and round."),
        NotPersonal("reach_published", "Counts of guardians and of guardians reached per school and year."),
        NotPersonal("reach_published", "A number of guardians, not who.", ("guardians",)),
    ),
)

SERVICES: tuple[ServiceMap, ...] = (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)

#: What the map shows that matters for erasure and retention (rendered at the end of docs/privacy.md).
FINDINGS: tuple[str, ...] = (
    "The retention job (see Retention above) removes messages, deliveries, broadcasts, bypass entries, the access log, closed "
    "requests, audit logs, the pulse counts of closed rounds and the messaging tables by their periods; the rest marked "
    f"\"{PENDING}\" is kept until erased. Replicas only mark rows inactive (duty.active, guardianship.active, person.removed); "
    "PersonRemoved does not touch notification's contact, preference, recipient_setting, delivery or quiet_hours_bypass, and "
    "assessment and catalog keep only the persons' markings (to hide protected identities), reporting no person replica at all.",
    "Free text is copied: assessment's audit_log.detail repeats answer comments, reopening reasons, action texts and notes; "
    "catalog's request reasons and conditions go into events (outbox.payload) and on into notification's message.data. "
    "Erasing the original leaves the copies.",
    "Every outbox keeps its published events for 90 days (SKOLIT_RETENTION_OUTBOX_DAYS), with staff ids and free text; "
    "notification's also keeps recipients' ids and dead letters carrying guardian and pupil ids. The same events also sit on "
    "the Kafka topics, under the deployment's topic retention.",
    "Person ids hide inside text: notification's message.dedupe_key holds `digest:<person>:<channel>:<day>`.",
    "catalog.app.supplier of a teacher-made resource can be a teacher's name and is public (GET /public/school-units/{id}/apps); "
    "its words also land in search_word, which is never pruned.",
    "Every API read of a person's contact details or messages (inbox, receipts, unreached, bypass log) is in "
    "notification.personal_data_access with a reason, and the data-protection officer reads it at GET /privacy/access-log. "
    "Reads of preferences are not logged.",
    "Protected identities are hidden from others everywhere an id is shown: notification's receipts, unreached and bypass log "
    "(without the id), and every answer of assessment and catalog (shared/city/markings.py). Reporting keeps no person ids "
    "in its answers at all.",
    "The pulse stores counts per group without suppression (assessment.pulse_respondents, pulse_tally): a group of one is "
    "suppressed in the API and in events, not in the table, until the counts go 30 days after the round closes "
    "(SKOLIT_RETENTION_PULSE_DAYS).",
    "answer.comment, action.owner, broadcast.body and licence.group_name are free text staff write; nothing keeps names of "
    "pupils out of them.",
    "Erasure (docs/decisions/0009) finds a person by their id: every column above that holds it, the outboxes' dead letters "
    "and the dedupe keys that embed it. It cannot find a name someone wrote into free text (a comment, an owner, a broadcast) "
    "about someone else; and the free text of Skolit's events (request notes, conditions, status reasons) stays on the topics, "
    "with the person sealed beside it, until the topics' retention. Dead letters of the city's events carry ids plain on "
    "`<city topic>.dlq`, like the city's topics themselves: their retention is the city's and the deployment's.",
)


# --- queries -------------------------------------------------------------------------------------

def entries(services: Iterable[ServiceMap] = SERVICES) -> list[Entry]:
    return [Entry(s.schema, p.table, p.columns, p.category, p.subjects, p.purpose, p.legal_basis, p.retention, p.readers, p.note)
            for s in services for p in s.personal]


def personal_columns(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str, str]]:
    return {(s.schema, p.table, c) for s in services for p in s.personal for c in p.columns}


def declared_columns(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str, str]]:
    """Columns declared not personal one by one."""
    return {(s.schema, n.table, c) for s in services for n in s.not_personal for c in n.columns}


def personal_tables(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str]]:
    return {(s.schema, p.table) for s in services for p in s.personal}


def non_personal_tables(services: Iterable[ServiceMap] = SERVICES) -> set[tuple[str, str]]:
    return {(s.schema, n.table) for s in services for n in s.not_personal if not n.columns}


def inconsistencies(services: Iterable[ServiceMap] = SERVICES) -> list[str]:
    """Contradictions inside the map itself (no database needed)."""
    services = tuple(services)
    out: list[str] = []
    seen: dict[tuple[str, str, str], str] = {}
    for s in services:
        for p in s.personal:
            for c in p.columns:
                key = (s.schema, p.table, c)
                if key in seen:
                    out.append(f"{s.schema}.{p.table}.{c}: mapped twice ({seen[key]} and {p.category})")
                seen[key] = p.category
    for key in sorted(personal_columns(services) & declared_columns(services)):
        out.append("{}.{}.{}: mapped as personal and declared not personal".format(*key))
    for table in sorted(personal_tables(services) & non_personal_tables(services)):
        out.append("{}.{}: has personal columns and is declared non-personal".format(*table))
    for s in services:
        for n in s.not_personal:
            if n.columns and (s.schema, n.table) not in personal_tables(services) | non_personal_tables(services):
                out.append(f"{s.schema}.{n.table}: columns declared not personal, but the table itself is not mapped")
            out += [f"{s.schema}.{n.table}.{c}: declared not personal, but its name does not look personal: drop the declaration"
                    for c in n.columns if not looks_personal(c)]
    return out


def structure_problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap] = SERVICES,
                       tables: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Tables in the database but not in the map, and tables or columns in the map but not in the database.
    ``columns``: (schema, table, column) of every column of the mapped schemas; ``tables``: (schema, table) of
    every table, for tables without columns."""
    services = tuple(services)
    actual = set(columns)
    actual_tables = {(s, t) for s, t, _ in actual} | set(tables)
    schemas = {s.schema for s in services}
    mapped_tables = personal_tables(services) | non_personal_tables(services)
    out = [f"{s}.{t}: table not in the data map — map its personal columns or declare it non-personal (shared/privacy/datamap.py)"
           for s, t in sorted(actual_tables - mapped_tables)]
    out += [f"{s}.{t}: in the data map but not in the database" for s, t in sorted(mapped_tables - actual_tables) if s in schemas]
    out += [f"{s}.{t}.{c}: in the data map but not in the database"
            for s, t, c in sorted((personal_columns(services) | declared_columns(services)) - actual) if (s, t) in actual_tables]
    return out


def heuristic_problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap] = SERVICES) -> list[str]:
    """Columns whose name suggests personal data that the map neither lists as personal nor declares not personal."""
    services = tuple(services)
    known = personal_columns(services) | declared_columns(services)
    return [f"{s}.{t}.{c}: the name suggests personal data — map it as personal or declare it not personal with a reason"
            for s, t, c in sorted(set(columns)) if looks_personal(c) and (s, t, c) not in known]


def problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap] = SERVICES,
             tables: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Everything the tests check against a database: the map's own consistency, structure, and the name heuristic."""
    columns, services = list(columns), tuple(services)
    return inconsistencies(services) + structure_problems(columns, services, tables) + heuristic_problems(columns, services)


# --- rendering -----------------------------------------------------------------------------------

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


HEADER = """\
# Where Skolit keeps personal data

<!-- Generated by `python -m shared.privacy.datamap --write docs/privacy.md` from shared/privacy/datamap.py.
     Do not edit by hand: tests/integration/test_privacy_datamap.py fails when this file differs from the map. -->

This is the data map of Skolit's four services: for each service's PostgreSQL schema, every table and column
that holds personal data, what it is for, the legal basis (placeholders), how long it is kept **today** and who
can read it — and, at the end, the tables that hold none.

**It is checked against the real schemas.** `tests/integration/test_privacy_datamap.py` migrates all four
services into a real PostgreSQL and compares `information_schema` with the map: every table must be in it
(with its personal columns, or declared non-personal), every mapped column must exist, and every column whose
name suggests a person or free text (`person`, `guardian`, `pupil`, `requester`, `*_by`, `actor`, `email`,
`mobile`, `comment`, `note`, `reason`, `body`, `detail`, `data`, `payload`, ... — `PERSON_HINT` in the module)
must be mapped as personal or declared not personal with a reason. A migration that adds such a column fails
the tests until the map says what it is; the map is the source and this file is generated from it.

**How to read it**

- **Data subjects**: *pupil*, *guardian*, *staff*. Persons appear by their SS 12000 person id (a UUID from the
  city's systems): names and personnummer never reach Skolit, but the ids are personal data — pseudonymous
  ones, since the city can tell whose they are. Contact details live only in the notification service, encrypted.
- **Column(s)** are those that identify a person or say something about one. The ids, states and timestamps of
  the same rows are not listed one by one: erasing or pseudonymising a row covers them.
- **Retention** says what the system does today. Where the daily retention job removes data, the entry names its
  class, default period and variable (all of them under *Retention* below); "see issue: retention jobs (pending)"
  marks data that nothing removes yet. **"Until erased"** is literal: every personal column here is erased on
  request (docs/decisions/0009) — deleted, or anonymised to "erased" where the row stays (levels, figures,
  other persons' records) — by each service in turn, and what cannot be changed in place (topics, the outboxes'
  history, backups) holds person ids only sealed with the person's own key, which the erasure destroys.
- **Readers** are the roles (`shared/auth` `Role`) and HTTP endpoints that return the data. Beyond them, every
  table can be read by the service itself (its database role `skolit_<service>`), by database administrators and
  from backups; the Kafka topics are outside this map.
- **Legal basis** cites a key from the list below. Every basis is a placeholder until the city's data
  protection officer confirms it.

## Legal bases (placeholders)

"""


RETENTION_INTRO = """
## Retention: what the daily job removes

Each service runs a `retention` job once a day (and on demand: `POST /jobs/retention/run`, city admins; `asOf` where
`SKOLIT_ALLOW_CLOCK_OVERRIDE` is set). Each data class below has a default period; `SKOLIT_RETENTION_<CLASS>_DAYS`
changes it (a whole number of days, or `never` to keep the class), and a wrongly set variable stops the service at
start. A row is due when its timestamp is before local midnight (Europe/Stockholm) of the day that many days before
the job's date. Rows go in batches, children before their parents; `skolit_retention_deleted_total{service,data_class}`
counts them. The rules are in `services/<service>/retention.py` (shared/retention.py runs them); this table is
generated from them.

| Service | Class | Table(s) | Default | Variable | What is removed |
|---|---|---|---|---|---|
"""


def render_retention(services: Iterable[ServiceMap] = SERVICES) -> str:
    out = [RETENTION_INTRO]
    for s in services:
        rules = retention_rules(s.schema)
        for data_class in dict.fromkeys(r.data_class for r in rules):
            of_class = [r for r in rules if r.data_class == data_class]
            first = of_class[0]
            out.append("| " + " | ".join(_cell(x) for x in (
                s.schema, f"`{data_class}`", _code(dict.fromkeys(r.table for r in of_class)), f"{first.default_days} days",
                f"`{first.variable}`", first.description,
            )) + " |\n")
    return "".join(out)


def render(services: Iterable[ServiceMap] = SERVICES) -> str:
    services = tuple(services)
    out = [HEADER]
    for lb in LEGAL_BASES:
        out.append(f"- **{lb.key}** — {lb.text}\n")
    all_entries = entries(services)
    out.append(f"\nIn all: {len(all_entries)} entries, {len(personal_columns(services))} personal columns in "
               f"{len(personal_tables(services))} tables; {len(non_personal_tables(services))} tables without personal data.\n")
    for s in services:
        tables = sorted({p.table for p in s.personal})
        out.append(f"\n## {s.schema}\n\nSchema `{s.schema}`: {len(s.personal)} entries in {len(tables)} tables "
                   f"({', '.join(f'`{t}`' for t in tables)}).\n\n")
        out.append("| Table | Column(s) | Data | Subjects | Purpose | Basis | Retention | Readers |\n")
        out.append("|---|---|---|---|---|---|---|---|\n")
        for p in s.personal:
            data = p.category + (f" — {p.note}" if p.note else "")
            out.append("| " + " | ".join(_cell(x) for x in (
                f"`{p.table}`", _code(p.columns), data, ", ".join(p.subjects), p.purpose, p.legal_basis.key, p.retention,
                " ".join(p.readers),
            )) + " |\n")
    out.append(render_retention(services))
    out.append("\n## Tables without personal data\n\n"
               "Declared in the map with the reason; the tests fail if a table exists that is neither here nor above.\n")
    for s in services:
        out.append(f"\n### {s.schema}\n\n")
        for n in s.not_personal:
            if not n.columns:
                out.append(f"- `{n.table}` — {n.reason}\n")
    out.append("\n## Columns that look personal but are not\n\n"
               "Their names match the check's pattern; the map declares why they hold no personal data.\n\n")
    out.append("| Schema | Table | Column(s) | Why not personal |\n|---|---|---|---|\n")
    for s in services:
        for n in s.not_personal:
            if n.columns:
                out.append(f"| `{s.schema}` | `{n.table}` | {_code(n.columns)} | {_cell(n.reason)} |\n")
    out.append("\n## What this means for erasure and retention\n\n")
    for f in FINDINGS:
        out.append(f"- {f}\n")
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.privacy.datamap", description="Render the data map (docs/privacy.md).")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="PATH", type=Path, help="write the Markdown to PATH")
    group.add_argument("--check", metavar="PATH", type=Path, help="exit 1 when PATH differs from the map")
    args = parser.parse_args(argv)
    problems_inside = inconsistencies()
    if problems_inside:
        print("\n".join(problems_inside), file=sys.stderr)
        return 1
    text = render()
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write} ({len(entries())} entries)")
    elif args.check:
        if not args.check.exists() or args.check.read_text(encoding="utf-8") != text:
            print(f"{args.check} is stale: run python -m shared.privacy.datamap --write {args.check}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
