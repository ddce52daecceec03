"""Assessment's part in data protection (shared/privacy/part.py): where it keeps personal data (docs/privacy.md,
assessment), how long (its retention rules), what it gathers for a right-of-access request (docs/decisions/0010)
and what it erases (docs/decisions/0009; the SQL in privacy_store.py).

Retention, how long assessment keeps what it holds, by data class (shared/retention.py; the periods in
docs/privacy.md).

The pulse keeps counts per school, group, heading and level (never a row per respondent, decision 0004),
live and as last released (decision 0016), and a hash per single-use invitation with whether it was used.
They are the raw material of the pulse: once the round is closed nothing can add to them or submit them
again, and what reporting needs went out in AssessmentSubmitted (means of groups of 5 or more). So the
counts of a closed round go a while after closing; the round's own pulse view then shows no answers.
"""

from __future__ import annotations

from services.assessment import privacy_store as store
from shared.events.assessment import AssessmentDataErased, AssessmentDataExported
from shared.privacy import export
from shared.privacy.datamap import (
    ACCOUNTABILITY, AUDIT, duty, FREE_TEXT, guardianships, IDEMPOTENCY_KEY, idempotency, INBOX, markings, MIGRATIONS, person_names, NotPersonal, ORGANISATION, ORGANISATION_NAME, outbox,
    outbox_key_not_personal, OUTBOX_PARKING, PENDING, Personal, PUPIL, QUALITY, retained, ServiceMap, STAFF, STAFF_IDENTITY,
)
from shared.privacy.datamap import JOB_RUN
from shared.privacy.part import PrivacyPart
from shared.retention import Rule, messaging

# --- retention: how long each class of data is kept (shared/retention.py) -------------------------

CLOSED_ROUND = "EXISTS (SELECT 1 FROM campaign c WHERE c.id = {table}.campaign_id AND c.status = 'closed' AND c.closed_at < $1)"

RULES: tuple[Rule, ...] = (
    Rule("pulse", "pulse_tally", CLOSED_ROUND.format(table="pulse_tally"), 30,
         "The pulse's counts per school, group, heading and level (pulse_tally, pulse_respondents), once their round has been "
         "closed this long: aggregated by then into AssessmentSubmitted and reporting's pulse means."),
    Rule("pulse", "pulse_respondents", CLOSED_ROUND.format(table="pulse_respondents"), 30,
         "The pulse's respondent counts, with the tally."),
    Rule("pulse", "pulse_invitation", CLOSED_ROUND.format(table="pulse_invitation"), 30,
         "The pulse's single-use invitations (a hash of each code and whether it was used), with the tally."),
    Rule("audit-log", "audit_log", "at < $1", 1825,
         "The audit trail of assessments, actions and rounds (with the comments and texts it copies), after five years."),
    *messaging(),
)

# --- the data map (docs/privacy.md) ---------------------------------------------------------------

A_READERS = ("principal, teacher, district_admin, city_admin acting for the school unit (token school units, or district for "
             "district_admin)")

DATA_MAP = ServiceMap(
    "assessment",
    personal=(
        duty("Decide who is Rektor of a school unit: only the Rektor per the city's duty data may change its "
             "assessment and action plan.", QUALITY,
             "No HTTP endpoint returns duties; used to authorise writes (services/assessment/access.py ensure_rektor)."),
        markings(),
        guardianships(QUALITY, "No HTTP endpoint returns them; they decide what a signed-in person may do (shared/auth/authority.py)."),
        idempotency("assessment", QUALITY, RULES),
        person_names("Show staff by name where the service shows who did something: who opened, closed or submitted, saved an "
                     "answer, added an action or wrote a note, and the audit trails.", ACCOUNTABILITY,
                     f"{A_READERS}: the `name` of every person reference (PersonRef) in the answers that name staff — "
                     "GET /assessments/{id}, GET /assessments/{id}/audit, GET /actions/{id}/audit, GET /campaigns, "
                     "GET /school-units/{id}/action-plan."),
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
                 retained(RULES, "audit-log", before="Append-only: text erased elsewhere stays here until then. "),
                 ("principal, district_admin, city_admin acting for the school unit: GET /assessments/{id}/audit, "
                  "GET /actions/{id}/audit.",
                  "Entries about rounds (entity campaign): no HTTP endpoint."),
                 "detail copies the changed values: answer comments and evidence links, the reopening reason, action titles, "
                 "owners, success criteria and notes. actor is a person id or a system name (skolit:...)."),
        outbox("assessment", RULES, "staff person ids, sealed with each person's own key (openedBy, closedBy, submittedBy, reopenedBy; "
                              "docs/decisions/0009)",
               "this service consumes the city's organisations and duties: staff person ids", "skolit.assessment",
               "consumed by reporting and notification", (STAFF,)),
    ),
    not_personal=(
        ORGANISATION, ORGANISATION_NAME, INBOX, MIGRATIONS, OUTBOX_PARKING, IDEMPOTENCY_KEY, JOB_RUN,
        NotPersonal("campaign", "The round's name, e.g. \"Självskattning 2026\".", ("name",)),
        NotPersonal("campaign_school_unit", "Which school units a round covers, and each school's former shared pulse code (no "
                                            "longer answers the pulse: invitations do; identifies no one)."),
        NotPersonal("framework", "The published framework versions (indicators, levels, help texts)."),
        NotPersonal("pulse_respondents", "Counts of pulse respondents per school and group; no row per respondent "
                                         "(docs/decisions/0004)."),
        NotPersonal("pulse_respondents", "A number of respondents, not who they were.", ("respondents",)),
        NotPersonal("pulse_tally", "Counts of pulse answers per heading and level, live and as last released; no row per respondent."),
        NotPersonal("pulse_invitation", "Single-use pulse invitations: a SHA-256 of each code, its school, round and group, and whether "
                                        "it was used; not who received it, when it was used or what was answered with it (docs/decisions/0016)."),
        outbox_key_not_personal("The message key: a school unit, round or framework version (dead letters keep the original "
                                "key: the duty's school unit)."),
    ),
)


# --- right of access: every row it holds about the person -----------------------------------------

gather = export.gathering({
    "roundsOpenedOrClosed": store.rounds, "assessmentsSubmitted": store.submitted, "answersSaved": store.answers,
    "actionsAdded": store.actions, "actionNotesWritten": store.notes,
})


PRIVACY = PrivacyPart(data_map=DATA_MAP, retention=RULES, gather=gather, exported=AssessmentDataExported,
                      erase=store.erase_person, erased=AssessmentDataErased)
