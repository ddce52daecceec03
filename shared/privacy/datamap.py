"""The data map: for each service's schema, every table and column holding personal data, what for,
on which legal basis (placeholders until the city's DPO confirms them), how long it is kept today and
who can read it — and the tables that hold none, so completeness can be checked.

This module holds the vocabulary, the entries' shapes, the checks and the rendering; each service declares its
own ``ServiceMap`` in its privacy part (``services/<name>/privacy.py``, shared/privacy/part.py), and
``devkit/privacy_map.py`` collects the four and generates ``docs/privacy.md``::

    python -m devkit.privacy_map --write docs/privacy.md     # regenerate
    python -m devkit.privacy_map --check docs/privacy.md     # exit 1 when the file is stale

tests/integration/test_privacy_datamap.py compares the map with ``information_schema`` of a database
where all four services have migrated: every table must be mapped (as holding personal data or as
declared non-personal), every mapped column must exist, and every column whose *name* suggests a
person or free text (``PERSON_HINT``) must be mapped as personal or declared not personal with a reason.
So a migration that adds such a column fails the tests until this map says what it is.

Retention is written as the system behaves today. What the retention job removes is taken from the services'
own rules (``PrivacyPart.retention``, ``retained`` and ``render_retention`` below), so the map cannot
promise a period the code does not keep. Where nothing removes data, the entry says so and points at the
pending work instead of promising a period.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.retention import Rule

# --- vocabulary ----------------------------------------------------------------------------------

PUPIL, GUARDIAN, STAFF = "pupil", "guardian", "staff"
SUBJECTS = (PUPIL, GUARDIAN, STAFF)

PERSON_ID = "person id (pseudonymous)"
CONTACT = "contact details (encrypted)"
FREE_TEXT = "free text that may hold personal data"
STAFF_IDENTITY = "staff identity (who did what)"
AUDIT = "audit"
PROTECTED = "protected identity marking (confidential)"
NAME = "name (SS 12000 givenName/familyName)"
STORED_ANSWER = "stored answer of a create (retries)"
PREFERENCES = "preferences and settings"
DERIVED = "derived search index"
EVENT_RECORD = "event record (ids, some free text)"
EXPORT = "right-of-access export (encrypted)"
CATEGORIES = (PERSON_ID, CONTACT, FREE_TEXT, STAFF_IDENTITY, AUDIT, PROTECTED, NAME, PREFERENCES, DERIVED, EVENT_RECORD, EXPORT, STORED_ANSWER)

PENDING = "see issue: retention jobs (pending)"
CONFIRM = "TO BE CONFIRMED by the city's DPO"


def retained(rules: Iterable[Rule], data_class: str, before: str = "", after: str = "") -> str:
    """What the retention job does with a data class, from the service's own rule (its ``PrivacyPart.retention``), so
    the map cannot drift from the code: the rule's description, its default period and the variable that changes it."""
    of_class = [r for r in rules if r.data_class == data_class]
    if not of_class:
        raise KeyError(f"no retention class {data_class!r} among the service's rules")
    rule = of_class[0]
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
JOB_RUN = NotPersonal(
    "job_run", "The last run of each scheduled job (shared/migrations/0004_job_runs.sql): times, outcome, the job's counters and the "
    "class of an error, one row per job replaced by the next run; the error's message, which could quote data, stays in the log.",
)
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
        "Replica of the city's persons, id and marking (shared/city/migrations/person_marking.sql), names beside them "
        "(person_name.sql); persons of every kind, since the topic does not say which.",
    )


def person_names(purpose: str, basis: LegalBasis, readers: str) -> Personal:
    """The names in the city's person replica (shared/city/migrations/person_name.sql), shown through shared/city/people.py."""
    return Personal(
        "person", ("given_name", "family_name"), NAME, (PUPIL, GUARDIAN, STAFF), purpose, basis,
        f"Until erased: PersonRemoved clears the name (the row stays, without it); a newer PersonUpserted replaces it — {PENDING}.",
        (readers, "A protected identity's name is shown to nobody but the person (shared/city/people.py `person_refs`)."),
        "Replica of the city's SS 12000 Person givenName/familyName (shared/city/migrations/person_name.sql), from the city's "
        "person topic only: Skolit's own events never carry names. In the person's right-of-access export (table person).",
    )


def guardianships(basis: LegalBasis, readers: str) -> Personal:
    """The city's guardian relations where a service keeps them only to know who signs in as a guardian
    (shared/city/migrations/guardianship.sql; notification maps its own, from person.sql)."""
    return Personal(
        "guardianship", ("guardian", "pupil", "school_unit", "relation_type", "school_type", "school_year", "start_date", "end_date",
                         "active"), PERSON_ID, (GUARDIAN, PUPIL),
        "Know who is a guardian of a pupil at which school unit: a signed-in guardian's role comes from the city's "
        "guardianship data (shared/auth/authority.py).", basis,
        f"Until erased: GuardianRelationEnded sets active = false; rows are never deleted — {PENDING}.",
        (readers,),
        "Replica of the city's guardian relations (shared/city/migrations/guardianship.sql). In the person's right-of-access "
        "export (guardianRelations); erased with the person.",
    )


def idempotency(service: str, basis: LegalBasis, rules: Iterable[Rule]) -> Personal:
    """The stored answers of idempotent creates every service keeps (shared/migrations/0003_idempotency_keys.sql)."""
    return Personal("idempotency_key", ("caller", "status", "headers", "body"), STORED_ANSWER, (STAFF, GUARDIAN),
                 "Answer a retried create (the same Idempotency-Key) with the first answer instead of creating twice "
                 "(shared/http/idempotency.py, docs/api.md).", basis,
                 retained(rules, "idempotency", after="A key older than a day is also taken over by the next request with it; "
                                                      "the caller's rows go on erasure."),
                 (f"Only the caller who made the create, by retrying it with the same key ({service}'s POST endpoints).",),
                 "caller is a SHA-256 of the token's subject, not the id itself; body is the stored answer, which may name "
                 "persons (e.g. a request's requester).")


IDEMPOTENCY_KEY = NotPersonal("idempotency_key", "The client's own retry key (a random value it chose), not about a person.", ("key",))


def outbox(schema: str, rules: Iterable[Rule], carries: str, dead_letters: str, topic: str, consumers: str, subjects: tuple[str, ...],
           columns: tuple[str, ...] = ("payload", "headers")) -> Personal:
    return Personal(
        "outbox", columns, EVENT_RECORD, subjects,
        "Transactional outbox: events waiting to be published, kept afterwards as the record (docs/decisions/0002). "
        "Dead letters go through it too, with the original event's headers and body.",
        INTEGRATION,
        retained(rules, "outbox", before=f"Kept after publishing as the record (`python -m services.{schema} republish --since` sends "
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


# --- queries -------------------------------------------------------------------------------------

def entries(services: Iterable[ServiceMap]) -> list[Entry]:
    return [Entry(s.schema, p.table, p.columns, p.category, p.subjects, p.purpose, p.legal_basis, p.retention, p.readers, p.note)
            for s in services for p in s.personal]


def personal_columns(services: Iterable[ServiceMap]) -> set[tuple[str, str, str]]:
    return {(s.schema, p.table, c) for s in services for p in s.personal for c in p.columns}


def declared_columns(services: Iterable[ServiceMap]) -> set[tuple[str, str, str]]:
    """Columns declared not personal one by one."""
    return {(s.schema, n.table, c) for s in services for n in s.not_personal for c in n.columns}


def personal_tables(services: Iterable[ServiceMap]) -> set[tuple[str, str]]:
    return {(s.schema, p.table) for s in services for p in s.personal}


def non_personal_tables(services: Iterable[ServiceMap]) -> set[tuple[str, str]]:
    return {(s.schema, n.table) for s in services for n in s.not_personal if not n.columns}


def inconsistencies(services: Iterable[ServiceMap]) -> list[str]:
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


def structure_problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap],
                       tables: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Tables in the database but not in the map, and tables or columns in the map but not in the database.
    ``columns``: (schema, table, column) of every column of the mapped schemas; ``tables``: (schema, table) of
    every table, for tables without columns."""
    services = tuple(services)
    actual = set(columns)
    actual_tables = {(s, t) for s, t, _ in actual} | set(tables)
    schemas = {s.schema for s in services}
    mapped_tables = personal_tables(services) | non_personal_tables(services)
    out = [f"{s}.{t}: table not in the data map — map its personal columns or declare it non-personal (services/<name>/privacy.py)"
           for s, t in sorted(actual_tables - mapped_tables)]
    out += [f"{s}.{t}: in the data map but not in the database" for s, t in sorted(mapped_tables - actual_tables) if s in schemas]
    out += [f"{s}.{t}.{c}: in the data map but not in the database"
            for s, t, c in sorted((personal_columns(services) | declared_columns(services)) - actual) if (s, t) in actual_tables]
    return out


def heuristic_problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap]) -> list[str]:
    """Columns whose name suggests personal data that the map neither lists as personal nor declares not personal."""
    services = tuple(services)
    known = personal_columns(services) | declared_columns(services)
    return [f"{s}.{t}.{c}: the name suggests personal data — map it as personal or declare it not personal with a reason"
            for s, t, c in sorted(set(columns)) if looks_personal(c) and (s, t, c) not in known]


def problems(columns: Iterable[tuple[str, str, str]], services: Iterable[ServiceMap],
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

<!-- Generated by `python -m devkit.privacy_map --write docs/privacy.md` from each service's privacy.py (its PrivacyPart).
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
  city's systems), personal data — pseudonymous ones, since the city can tell whose they are. The city's person
  replicas also keep the person's name (SS 12000 givenName/familyName), to show people to staff; personnummer never
  reach Skolit. Contact details live only in the notification service, encrypted.
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
counts them. The rules are in `services/<service>/privacy.py` (shared/retention.py runs them); this table is
generated from them.

| Service | Class | Table(s) | Default | Variable | What is removed |
|---|---|---|---|---|---|
"""


def render_retention(services: Iterable[ServiceMap], retention: Mapping[str, Sequence[Rule]]) -> str:
    out = [RETENTION_INTRO]
    for s in services:
        rules = retention[s.schema]
        for data_class in dict.fromkeys(r.data_class for r in rules):
            of_class = [r for r in rules if r.data_class == data_class]
            first = of_class[0]
            out.append("| " + " | ".join(_cell(x) for x in (
                s.schema, f"`{data_class}`", _code(dict.fromkeys(r.table for r in of_class)), f"{first.default_days} days",
                f"`{first.variable}`", first.description,
            )) + " |\n")
    return "".join(out)


def render(services: Iterable[ServiceMap], retention: Mapping[str, Sequence[Rule]], findings: Iterable[str]) -> str:
    """docs/privacy.md: the services' maps, their retention rules (by schema) and what the map shows (``findings``)."""
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
    out.append(render_retention(services, retention))
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
    for f in findings:
        out.append(f"- {f}\n")
    return "".join(out)
