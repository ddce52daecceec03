"""Reporting's part in data protection (shared/privacy/part.py): where it keeps personal data (docs/privacy.md,
reporting), how long (its retention rules), what it gathers for a right-of-access request (docs/decisions/0010)
and what it erases (docs/decisions/0009; the SQL in privacy_store.py).

Retention, how long reporting keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md).

Reporting's read models hold no raw data about persons: they are per school (levels, pulse means of groups
of 5 or more, figures, counts), and the two staff ids it keeps (indicator_definition.defined_by,
published_report.published_by) are the record of a configuration and a publication, kept with them. What
it can let go of is technical: the ids of applied events and the events it published.
"""

from __future__ import annotations

from services.reporting import privacy_store as store
from shared.events.reporting import ReportingDataErased, ReportingDataExported
from shared.privacy import export
from shared.privacy.datamap import (
    ACCOUNTABILITY, duty, guardianships, IDEMPOTENCY_KEY, idempotency, INBOX, MIGRATIONS, QUALITY, NotPersonal, ORGANISATION, ORGANISATION_NAME, outbox, outbox_key_not_personal, OUTBOX_PARKING, PENDING,
    Personal, ServiceMap, STAFF, STAFF_IDENTITY,
)
from shared.privacy.datamap import JOB_RUN
from shared.privacy.part import PrivacyPart
from shared.retention import Rule, messaging

# --- retention: how long each class of data is kept (shared/retention.py) -------------------------

RULES: tuple[Rule, ...] = messaging()

# --- the data map (docs/privacy.md) ---------------------------------------------------------------

DATA_MAP = ServiceMap(
    "reporting",
    personal=(
        duty("Know who holds which duty where: a signed-in person's role at a school unit comes from the city's duty data "
             "(a Rektor duty makes them its principal).", QUALITY, "No HTTP endpoint returns them; they decide what a signed-in person may do (shared/auth/authority.py)."),
        guardianships(QUALITY, "No HTTP endpoint returns them; they decide what a signed-in person may do (shared/auth/authority.py)."),
        idempotency("reporting", QUALITY, RULES),
        Personal("indicator_definition", ("defined_by",), STAFF_IDENTITY, (STAFF,),
                 "Who defined an indicator.", ACCOUNTABILITY,
                 f"Until erased: definitions are configuration, kept through `rebuild` and never deleted — {PENDING}.",
                 ("No HTTP endpoint returns it (GET /indicators leaves it out).",)),
        Personal("published_report", ("published_by",), STAFF_IDENTITY, (STAFF,),
                 "Who announced a year's report to a district.", ACCOUNTABILITY,
                 f"Until erased: kept through `rebuild`, never deleted — {PENDING}.",
                 ("No HTTP endpoint returns it.",),
                 "Also in the ReportPublished event (publishedBy)."),
        outbox("reporting", RULES, "a staff person id, sealed with the person's own key (ReportPublished.publishedBy; docs/decisions/0009)",
               "assessment and catalog events: staff person ids, status-change reasons", "skolit.reporting",
               "consumed by notification", (STAFF,)),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING, IDEMPOTENCY_KEY, JOB_RUN,
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
        NotPersonal("report_version", "A counter of changes to the tables the school report reads (its answer cache's version)."),
        outbox_key_not_personal("The message key: a district or a school unit."),
    ),
)


# --- right of access: every row it holds about the person -----------------------------------------

# its read models hold no person; the replicas it keeps (duties, guardian relations) and no audit trail
gather = export.gathering({"indicatorsDefined": store.indicators, "reportsPublished": store.published}, audit=False)


PRIVACY = PrivacyPart(data_map=DATA_MAP, retention=RULES, gather=gather, exported=ReportingDataExported,
                      erase=store.erase_person, erased=ReportingDataErased)
