"""SQL of the catalog service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.audit import record as audit, trail as audit_trail  # noqa: F401  (the service's audit trail)
from services.catalog.domain import (
    AppInput,
    DataProtection,
    SearchFilters,
    StatusDefinition,
    WordFacts,
    corrections_of,
    effective_dpa_status,
    fold,
    search_extra,
)
from shared.events.city import OrganisationType

# --- city replicas -------------------------------------------------------------------------------


async def school(conn: asyncpg.Connection, school_unit: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT s.id, s.display_name, s.school_unit_code, s.school_types, s.parent_organisation AS district, d.display_name AS district_name"
        " FROM organisation s LEFT JOIN organisation d ON d.id = s.parent_organisation"
        " WHERE s.id = $1 AND s.organisation_type = $2 AND NOT s.deleted",
        school_unit, OrganisationType.SKOLENHET.value,
    )


async def schools(conn: asyncpg.Connection, ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT id, display_name, school_types, parent_organisation AS district FROM organisation"
        " WHERE id = ANY($1::uuid[]) AND organisation_type = $2 AND NOT deleted",
        ids, OrganisationType.SKOLENHET.value,
    )
    return {r["id"]: r for r in rows}


async def schools_in_districts(conn: asyncpg.Connection, districts: list[UUID]) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT id FROM organisation WHERE parent_organisation = ANY($1::uuid[]) AND organisation_type = $2 AND NOT deleted",
        districts, OrganisationType.SKOLENHET.value,
    )
    return [r["id"] for r in rows]


async def duty_at(conn: asyncpg.Connection, person: str, school_unit: UUID) -> str | None:
    """The person's current duty role at the school unit per the city's data (Rektor first)."""
    return await conn.fetchval(
        "SELECT duty_role FROM duty WHERE person::text = $1 AND duty_at = $2 AND active"
        " AND (start_date IS NULL OR start_date <= current_date) AND (end_date IS NULL OR end_date >= current_date)"
        " ORDER BY duty_role = 'Rektor' DESC, duty_role LIMIT 1",
        person.lower(), school_unit,
    )


# --- statuses ------------------------------------------------------------------------------------

def _status(row: asyncpg.Record) -> StatusDefinition:
    return StatusDefinition(row["code"], row["label_sv"], row["label_en"], row["allows_use"], tuple(row["grades"]), row["retires"])


async def statuses(conn: asyncpg.Connection) -> dict[str, StatusDefinition]:
    rows = await conn.fetch("SELECT * FROM status_definition ORDER BY position, code")
    return {r["code"]: _status(r) for r in rows}


async def define_status(conn: asyncpg.Connection, s: StatusDefinition, actor: str) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO status_definition (code, label_sv, label_en, allows_use, grades, retires, position, defined_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, (SELECT coalesce(max(position), 0) + 10 FROM status_definition), $7)"
        " ON CONFLICT (code) DO NOTHING RETURNING code",
        s.code, s.label_sv, s.label_en, s.allows_use, list(s.grades), s.retires, actor,
    )
    return inserted is not None


# --- apps ----------------------------------------------------------------------------------------

APP_COLUMNS = """
    a.id, a.name, a.supplier, a.description, a.url, a.kind, a.cost_model, a.free_use, a.subjects, a.grades,
    a.school_types, a.platforms, a.languages, a.accessibility, a.headings, a.keywords, a.status, a.status_changed_at,
    a.data_categories, a.dpa_status, a.dpa_signed, a.dpa_expires, a.sub_processors, a.processing_countries,
    a.transfer_outside_eea, a.transfer_safeguard, a.dpia_ref, a.min_age, a.created_by, a.created_at,
    a.updated_by, a.updated_at, a.version
"""


def app_input(row: asyncpg.Record | dict[str, Any]) -> AppInput:
    """The record as an editor would send it: what a change is merged into and validated as."""
    return AppInput.model_validate({
        "name": row["name"], "supplier": row["supplier"], "description": row["description"], "url": row["url"],
        "kind": row["kind"], "costModel": row["cost_model"], "freeUse": row["free_use"], "subjects": list(row["subjects"]),
        "grades": list(row["grades"]), "schoolTypes": list(row["school_types"]), "platforms": list(row["platforms"]),
        "languages": list(row["languages"]), "accessibility": row["accessibility"], "headings": list(row["headings"]),
        "keywords": list(row["keywords"]), "dataProtection": data_protection(row).model_dump(),
    })


def data_protection(row: asyncpg.Record | dict[str, Any]) -> DataProtection:
    return DataProtection.model_validate({
        "dataCategories": list(row["data_categories"]), "dpaStatus": row["dpa_status"], "dpaSigned": row["dpa_signed"],
        "dpaExpires": row["dpa_expires"], "subProcessors": row["sub_processors"], "processingCountries": list(row["processing_countries"]),
        "transferOutsideEea": row["transfer_outside_eea"], "transferSafeguard": row["transfer_safeguard"],
        "dpiaRef": row["dpia_ref"], "minAge": row["min_age"],
    })


def _dp_values(dp: DataProtection, today: date) -> tuple[Any, ...]:
    return (
        list(dp.dataCategories), effective_dpa_status(dp.dpaStatus, dp.dpaExpires, today).value, dp.dpaSigned, dp.dpaExpires,
        [s.model_dump() for s in dp.subProcessors], list(dp.processingCountries), dp.transferOutsideEea, dp.transferSafeguard,
        dp.dpiaRef, dp.minAge,
    )


async def insert_app(conn: asyncpg.Connection, id: UUID, app: AppInput, status: str, actor: str, today: date) -> None:
    await conn.execute(
        """
        INSERT INTO app (id, name, supplier, description, url, kind, cost_model, free_use, subjects, grades, school_types,
                         platforms, languages, accessibility, headings, keywords, search_extra, status,
                         data_categories, dpa_status, dpa_signed, dpa_expires, sub_processors, processing_countries,
                         transfer_outside_eea, transfer_safeguard, dpia_ref, min_age, created_by, updated_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $29)
        """,
        id, app.name, app.supplier, app.description, app.url, app.kind, app.costModel, app.freeUse, app.subjects, app.grades,
        app.schoolTypes, app.platforms, app.languages, app.accessibility, app.headings, app.keywords, search_extra(app), status,
        *_dp_values(app.dataProtection, today), actor,
    )
    await add_search_words(conn, id)


async def update_app(conn: asyncpg.Connection, id: UUID, app: AppInput, actor: str, today: date) -> None:
    await conn.execute(
        """
        UPDATE app SET name = $2, supplier = $3, description = $4, url = $5, kind = $6, cost_model = $7, free_use = $8,
            subjects = $9, grades = $10, school_types = $11, platforms = $12, languages = $13, accessibility = $14,
            headings = $15, keywords = $16, search_extra = $17,
            data_categories = $18, dpa_status = $19, dpa_signed = $20, dpa_expires = $21, sub_processors = $22,
            processing_countries = $23, transfer_outside_eea = $24, transfer_safeguard = $25, dpia_ref = $26, min_age = $27,
            updated_by = $28, updated_at = now(), version = version + 1
        WHERE id = $1
        """,
        id, app.name, app.supplier, app.description, app.url, app.kind, app.costModel, app.freeUse, app.subjects, app.grades,
        app.schoolTypes, app.platforms, app.languages, app.accessibility, app.headings, app.keywords, search_extra(app),
        *_dp_values(app.dataProtection, today), actor,
    )
    await add_search_words(conn, id)


async def add_search_words(conn: asyncpg.Connection, id: UUID) -> None:
    """Words of the app as written (not stemmed): what a misspelt query word is corrected to."""
    await conn.execute(
        "INSERT INTO search_word (word)"
        " SELECT DISTINCT w FROM app, unnest(tsvector_to_array(to_tsvector('simple', name || ' ' || search_extra || ' ' || supplier || ' ' || description))) AS w"
        " WHERE id = $1 AND length(w) >= 3 AND w ~ '^[[:alnum:]]+$' ON CONFLICT DO NOTHING",
        id,
    )


async def set_status(conn: asyncpg.Connection, id: UUID, status: str, actor: str) -> None:
    await conn.execute(
        "UPDATE app SET status = $2, status_changed_at = now(), updated_by = $3, updated_at = now(), version = version + 1 WHERE id = $1",
        id, status, actor,
    )


async def get_app(conn: asyncpg.Connection, id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT" + APP_COLUMNS + " FROM app a WHERE a.id = $1" + (" FOR UPDATE" if lock else ""), id)


async def find_duplicate(conn: asyncpg.Connection, name: str, supplier: str, other_than: UUID | None = None) -> UUID | None:
    return await conn.fetchval(
        "SELECT id FROM app WHERE lower(regexp_replace(name, '\\s+', ' ', 'g')) = lower(regexp_replace($1, '\\s+', ' ', 'g'))"
        " AND lower(regexp_replace(supplier, '\\s+', ' ', 'g')) = lower(regexp_replace($2, '\\s+', ' ', 'g'))"
        " AND ($3::uuid IS NULL OR id <> $3)",
        name, supplier, other_than,
    )


async def all_apps(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT" + APP_COLUMNS + " FROM app a ORDER BY lower(a.name), a.id")


async def dpas_past_expiry(conn: asyncpg.Connection, today: date) -> list[asyncpg.Record]:
    """Apps whose agreement is recorded as signed but ended before ``today``; locked for the job."""
    return await conn.fetch(
        "SELECT" + APP_COLUMNS + " FROM app a WHERE a.dpa_status = 'signed' AND a.dpa_expires < $1 ORDER BY a.id FOR UPDATE SKIP LOCKED", today
    )


async def mark_dpa_expired(conn: asyncpg.Connection, id: UUID) -> None:
    await conn.execute("UPDATE app SET dpa_status = 'expired', updated_at = now(), version = version + 1 WHERE id = $1", id)


# --- search --------------------------------------------------------------------------------------

async def search_version_and_school(conn: asyncpg.Connection, school_unit: UUID | None) -> tuple[int, asyncpg.Record | None]:
    """The search version and, in the same round trip, the school unit a search is for (None when not known)."""
    if school_unit is None:
        return int(await conn.fetchval("SELECT version FROM search_version")), None
    row = await conn.fetchrow(
        "SELECT v.version, s.id, s.display_name, s.school_unit_code, s.school_types FROM search_version v"
        " LEFT JOIN organisation s ON s.id = $1 AND s.organisation_type = $2 AND NOT s.deleted",
        school_unit, OrganisationType.SKOLENHET.value,
    )
    return int(row["version"]), (row if row["id"] is not None else None)


async def word_facts(conn: asyncpg.Connection, words: list[str]) -> dict[str, WordFacts]:
    """For each query word: a stop word? does anything match it as typed (any inflection, folded to ASCII, or, for the
    last word, the start of a word)? and, for a word nothing matches, the closest words the programbank has
    (trigram similarity of the folded forms, so "lasforstaelsr" is near "läsförståelse")."""
    if not words:
        return {}
    last = len(words) - 1
    patterns = [w + ":*" if i == last and len(w) >= 3 else w for i, w in enumerate(words)]
    folded = [fold(p) for p in patterns]
    rows = await conn.fetch(
        """
        SELECT q.word, numnode(to_tsquery('swedish', q.word)) = 0 AS stop, f.found,
               CASE WHEN f.found OR numnode(to_tsquery('swedish', q.word)) = 0 THEN '{}'::text[] ELSE
                   array(SELECT s.word FROM search_word s WHERE search_fold(s.word) % search_fold(q.word)
                         ORDER BY similarity(search_fold(s.word), search_fold(q.word)) DESC, s.word LIMIT 3) END AS near
        FROM unnest($1::text[], $2::text[], $3::text[]) AS q(word, pattern, folded),
        LATERAL (SELECT EXISTS (SELECT 1 FROM search_word s WHERE s.word = q.word)
                     -- an inflection the programbank has under another ending ("läsförståelse", "läsförståelsen") is no typo
                     OR EXISTS (SELECT 1 FROM app a WHERE a.search @@ to_tsquery('swedish', q.pattern))
                     -- nor a word typed without å, ä, ö ("lasforstaelse")
                     OR EXISTS (SELECT 1 FROM app a WHERE a.search_folded @@ to_tsquery('swedish', q.folded)) AS found) f
        """,
        words, patterns, folded,
    )
    return {r["word"]: WordFacts(stop=r["stop"], found=r["found"], near=tuple(r["near"])) for r in rows}


async def corrections(conn: asyncpg.Connection, words: list[str]) -> dict[str, list[str]]:
    """For each query word nothing matches as typed, the closest words the programbank does contain."""
    return corrections_of(words, await word_facts(conn, words))


# One statement: the page, the total and the facet counts of everything that matches. The matches
# carry only what ranking and facets need; the page's rows are fetched whole at the end (10-20 rows,
# not thousands). ts_rank with the field weights (name A ... description D) orders them; a match found only through
# the ASCII-folded words ranks at half its weight, so "bråk" typed with its å puts "bråk" above "brak". With a school
# unit ($11), the apps it may use today come first ($18: only those).
_SEARCH = """
WITH q AS (SELECT CASE WHEN $1::text IS NULL THEN NULL ELSE to_tsquery('swedish', $1) END AS query,
                  CASE WHEN $17::text IS NULL THEN NULL ELSE to_tsquery('swedish', $17) END AS folded),
lic AS (SELECT l.app_id FROM licence l WHERE $11::uuid IS NOT NULL AND l.school_unit = $11 AND l.ended_at IS NULL
        AND l.starts <= $13 AND l.expires >= $13),
matched AS (
    SELECT a.id, a.name, a.subjects, a.grades, a.school_types, a.headings, a.platforms, a.status, a.dpa_status, a.kind,
           CASE WHEN q.query IS NULL THEN 0
                WHEN a.search @@ q.query THEN ts_rank(a.search, q.query)
                ELSE ts_rank(a.search_folded, q.folded) / 2 END AS rank,
           CASE WHEN $11::uuid IS NULL THEN NULL ELSE (
               sd.allows_use AND a.school_types && $12::text[] AND (cardinality(sd.grades) = 0 OR a.grades && sd.grades)
               AND (a.free_use OR a.id IN (SELECT app_id FROM lic))) END AS usable
    FROM app a JOIN status_definition sd ON sd.code = a.status, q
    WHERE (q.query IS NULL OR a.search @@ q.query OR (q.folded IS NOT NULL AND a.search_folded @@ q.folded))
      AND (cardinality($2::text[]) = 0 OR a.subjects && $2)
      AND (cardinality($3::text[]) = 0 OR a.grades && $3)
      AND (cardinality($4::text[]) = 0 OR a.school_types && $4)
      AND (cardinality($5::text[]) = 0 OR a.headings && $5)
      AND (CASE WHEN cardinality($6::text[]) = 0 THEN NOT sd.retires ELSE a.status = ANY($6) END)
      AND (cardinality($7::text[]) = 0 OR a.dpa_status = ANY($7))
      AND (cardinality($8::text[]) = 0 OR a.kind = ANY($8))
      AND (cardinality($9::text[]) = 0 OR a.platforms && $9)
      AND (cardinality($10::text[]) = 0 OR a.languages && $10)
),
hits AS MATERIALIZED (SELECT * FROM matched WHERE NOT $18::boolean OR usable),
page AS (SELECT id, rank, usable, row_number() OVER (ORDER BY usable DESC NULLS LAST, rank DESC, lower(name), id) AS n
         FROM hits ORDER BY usable DESC NULLS LAST, rank DESC, lower(name), id LIMIT $14 OFFSET $15),
facet AS (
    SELECT 'subject' AS f, unnest(subjects) AS v FROM hits
    UNION ALL SELECT 'grade', unnest(grades) FROM hits
    UNION ALL SELECT 'schoolType', unnest(school_types) FROM hits
    UNION ALL SELECT 'heading', unnest(headings) FROM hits
    UNION ALL SELECT 'platform', unnest(platforms) FROM hits
    UNION ALL SELECT 'status', status FROM hits
    UNION ALL SELECT 'dpaStatus', dpa_status FROM hits
    UNION ALL SELECT 'kind', kind FROM hits
),
counts AS (SELECT f, jsonb_object_agg(v, n) AS values FROM (SELECT f, v, count(*) AS n FROM facet WHERE $16::boolean GROUP BY f, v) x GROUP BY f)
SELECT
    (SELECT count(*) FROM hits) AS total,
    (SELECT count(*) FILTER (WHERE usable) FROM hits) AS usable_total,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'id', a.id, 'name', a.name, 'supplier', a.supplier, 'description', a.description, 'url', a.url, 'kind', a.kind,
                'cost_model', a.cost_model, 'free_use', a.free_use, 'subjects', a.subjects, 'grades', a.grades,
                'school_types', a.school_types, 'platforms', a.platforms, 'languages', a.languages, 'headings', a.headings,
                'status', a.status, 'dpa_status', a.dpa_status, 'dpa_expires', a.dpa_expires, 'rank', p.rank,
                'usable', p.usable, 'licensed', a.id IN (SELECT app_id FROM lic)) ORDER BY p.n), '[]')
       FROM page p JOIN app a ON a.id = p.id) AS items,
    (SELECT jsonb_object_agg(f, values) FROM counts) AS facets
"""


async def search(conn: asyncpg.Connection, *, tsquery: str | None, f: SearchFilters, school_unit: UUID | None,
                 school_types: list[str], today: date, limit: int, offset: int, facets: bool = True,
                 folded: str | None = None, usable_only: bool = False) -> asyncpg.Record:
    """A page of matches (``folded``: the query against the ASCII-folded words); with ``school_unit``, each hit says
    whether that school may use it today (``usable``, ``licensed``), those first, and ``usable_only`` keeps only them."""
    return await conn.fetchrow(
        _SEARCH, tsquery, list(f.subjects), list(f.grades), list(f.school_types), list(f.headings), list(f.statuses),
        list(f.dpa_statuses), list(f.kinds), list(f.platforms), list(f.languages), school_unit, school_types, today, limit, offset, facets,
        folded, usable_only and school_unit is not None,
    )


# --- availability and the guardian view ----------------------------------------------------------

async def licensed(conn: asyncpg.Connection, app_id: UUID, school_unit: UUID, today: date) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM licence WHERE app_id = $1 AND school_unit = $2 AND ended_at IS NULL AND starts <= $3 AND expires >= $3)",
        app_id, school_unit, today,
    )


async def approved_for_school(conn: asyncpg.Connection, school_unit: UUID, school_types: list[str], today: date) -> list[asyncpg.Record]:
    """Apps the school may use now: a status that allows use, its school types, and free use or a valid licence."""
    return await conn.fetch(
        "SELECT" + APP_COLUMNS + " FROM app a JOIN status_definition sd ON sd.code = a.status"
        " WHERE sd.allows_use AND a.school_types && $2::text[] AND (cardinality(sd.grades) = 0 OR a.grades && sd.grades)"
        " AND (a.free_use OR EXISTS (SELECT 1 FROM licence l WHERE l.app_id = a.id AND l.school_unit = $1 AND l.ended_at IS NULL"
        "                            AND l.starts <= $3 AND l.expires >= $3))"
        " ORDER BY lower(a.name), a.id",
        school_unit, school_types, today,
    )


# --- licences ------------------------------------------------------------------------------------

async def insert_licence(conn: asyncpg.Connection, *, id: UUID, app_id: UUID, school_unit: UUID, licence_type: str, seats: int | None,
                         group_name: str | None, starts: date, expires: date, note: str, actor: str) -> None:
    await conn.execute(
        "INSERT INTO licence (id, app_id, school_unit, licence_type, seats, group_name, starts, expires, note, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        id, app_id, school_unit, licence_type, seats, group_name, starts, expires, note, actor,
    )


LICENCE_COLUMNS = ("l.id, l.app_id, a.name AS app_name, l.school_unit, o.display_name AS school_name, o.school_unit_code AS school_code,"
                   " l.licence_type, l.seats, l.group_name, l.starts, l.expires, l.note, l.created_by, l.created_at, l.ended_at")
LICENCE_FROM = " FROM licence l JOIN app a ON a.id = l.app_id LEFT JOIN organisation o ON o.id = l.school_unit"


async def get_licence(conn: asyncpg.Connection, id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT " + LICENCE_COLUMNS + LICENCE_FROM + " WHERE l.id = $1" + (" FOR UPDATE OF l" if lock else ""), id
    )


async def licences(conn: asyncpg.Connection, *, app_id: UUID | None = None, school_units: list[UUID] | None = None, everything: bool = False,
                   limit: int, offset: int) -> list[asyncpg.Record]:
    """A page of licences (``total``: all that match, on every row)."""
    return await conn.fetch(
        "SELECT " + LICENCE_COLUMNS + ", count(*) OVER () AS total" + LICENCE_FROM +
        " WHERE ($1::uuid IS NULL OR l.app_id = $1) AND ($2 OR l.school_unit = ANY($3::uuid[]))"
        " ORDER BY l.expires, l.id LIMIT $4 OFFSET $5",
        app_id, everything, school_units or [], limit, offset,
    )


async def end_licence(conn: asyncpg.Connection, id: UUID) -> None:
    await conn.execute("UPDATE licence SET ended_at = now() WHERE id = $1", id)


async def licences_needing_notice(conn: asyncpg.Connection, today: date, notice_days: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT " + LICENCE_COLUMNS + LICENCE_FROM +
        " WHERE l.ended_at IS NULL AND l.expires BETWEEN $1 AND $1 + $2::int AND l.notice_sent_for IS DISTINCT FROM l.expires"
        " ORDER BY l.expires, l.id FOR UPDATE OF l SKIP LOCKED",
        today, notice_days,
    )


async def mark_notice_sent(conn: asyncpg.Connection, id: UUID, expires: date) -> None:
    await conn.execute("UPDATE licence SET notice_sent_for = $2 WHERE id = $1", id, expires)


async def licensed_schools(conn: asyncpg.Connection, app_id: UUID, today: date) -> list[UUID]:
    rows = await conn.fetch("SELECT DISTINCT school_unit FROM licence WHERE app_id = $1 AND ended_at IS NULL AND expires >= $2 ORDER BY 1", app_id, today)
    return [r["school_unit"] for r in rows]


# --- requests ------------------------------------------------------------------------------------

REQUEST_COLUMNS = """
    r.id, r.school_unit, o.display_name AS school_name, o.school_unit_code AS school_code, r.district, r.requester, r.requester_duty, r.app_id, r.proposed,
    r.app_name, r.purpose, r.grades, r.pupils, r.state, r.conditions, r.reason, r.decided_by, r.decided_at,
    r.created_at, r.updated_at, r.waiting_since, r.reminded_at
"""


async def insert_request(conn: asyncpg.Connection, *, id: UUID, school_unit: UUID, district: UUID | None, requester: str, requester_duty: str,
                         app_id: UUID | None, proposed: dict[str, Any] | None, app_name: str, purpose: str, grades: list[str],
                         pupils: int | None, now: datetime) -> bool:
    """False when the school already has an open request for the app (the unique index decides, not a check)."""
    inserted = await conn.fetchval(
        "INSERT INTO app_request (id, school_unit, district, requester, requester_duty, app_id, proposed, app_name, purpose, grades,"
        " pupils, state, created_at, updated_at, waiting_since)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'submitted', $12, $12, $12)"
        " ON CONFLICT (app_id, school_unit) WHERE app_id IS NOT NULL AND state IN ('submitted', 'acknowledged', 'needs_info') DO NOTHING"
        " RETURNING id",
        id, school_unit, district, requester, requester_duty, app_id, proposed, app_name, purpose, grades, pupils, now,
    )
    return inserted is not None


async def open_request_for(conn: asyncpg.Connection, app_id: UUID, school_unit: UUID) -> UUID | None:
    return await conn.fetchval(
        "SELECT id FROM app_request WHERE app_id = $1 AND school_unit = $2 AND state IN ('submitted', 'acknowledged', 'needs_info')", app_id, school_unit
    )


async def get_request(conn: asyncpg.Connection, id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT" + REQUEST_COLUMNS + " FROM app_request r LEFT JOIN organisation o ON o.id = r.school_unit WHERE r.id = $1"
        + (" FOR UPDATE OF r" if lock else ""),
        id,
    )


async def move_request(conn: asyncpg.Connection, id: UUID, *, state: str, now: datetime, waiting_since: datetime | None,
                       app_id: UUID | None = None, conditions: str | None = None, reason: str | None = None, decided_by: str | None = None) -> None:
    decided = state in ("approved", "rejected")
    await conn.execute(
        "UPDATE app_request SET state = $2, updated_at = $3, waiting_since = $4, reminded_at = NULL,"
        " app_id = coalesce($5, app_id), conditions = coalesce($6, conditions), reason = coalesce($7, reason),"
        " decided_by = CASE WHEN $8 THEN $9 ELSE decided_by END, decided_at = CASE WHEN $8 THEN $3 ELSE decided_at END"
        " WHERE id = $1",
        id, state, now, waiting_since, app_id, conditions, reason, decided, decided_by,
    )


async def add_request_step(conn: asyncpg.Connection, request_id: UUID, actor: str, step: str, note: str | None, at: datetime) -> None:
    await conn.execute("INSERT INTO app_request_step (request_id, actor, step, note, at) VALUES ($1, $2, $3, $4, $5)", request_id, actor, step, note, at)


async def request_steps(conn: asyncpg.Connection, request_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT at, actor, step, note FROM app_request_step WHERE request_id = $1 ORDER BY id", request_id)


async def list_requests(conn: asyncpg.Connection, *, everything: bool, school_units: list[UUID], districts: list[UUID], requester: str | None,
                        states: list[str], limit: int, offset: int) -> list[asyncpg.Record]:
    """A page of the requests of the schools and districts given, or the requester's own (``total`` on every row)."""
    return await conn.fetch(
        "SELECT" + REQUEST_COLUMNS + ", count(*) OVER () AS total FROM app_request r LEFT JOIN organisation o ON o.id = r.school_unit"
        " WHERE ($1 OR r.school_unit = ANY($2::uuid[]) OR r.district = ANY($3::uuid[]) OR r.requester = $4)"
        " AND (cardinality($5::text[]) = 0 OR r.state = ANY($5))"
        " ORDER BY r.created_at DESC, r.id LIMIT $6 OFFSET $7",
        everything, school_units, districts, requester, states, limit, offset,
    )


async def waiting_requests(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT" + REQUEST_COLUMNS + " FROM app_request r LEFT JOIN organisation o ON o.id = r.school_unit"
        " WHERE r.waiting_since IS NOT NULL ORDER BY r.waiting_since FOR UPDATE OF r SKIP LOCKED"
    )


async def link_request_app(conn: asyncpg.Connection, id: UUID, app_id: UUID) -> None:
    """A request for a new app gets its catalogue record (a draft made for it, or one a reviewer named)."""
    await conn.execute("UPDATE app_request SET app_id = $2 WHERE id = $1", id, app_id)


async def data_protection_reviewed(conn: asyncpg.Connection, app_id: UUID) -> bool:
    """False for a draft made from a request for a new app until the data-protection function records its facts."""
    return bool(await conn.fetchval("SELECT data_protection_reviewed FROM app WHERE id = $1", app_id))


async def set_data_protection_reviewed(conn: asyncpg.Connection, app_id: UUID, reviewed: bool) -> None:
    await conn.execute("UPDATE app SET data_protection_reviewed = $2 WHERE id = $1", app_id, reviewed)


async def mark_reminded(conn: asyncpg.Connection, id: UUID, at: datetime) -> None:
    await conn.execute("UPDATE app_request SET reminded_at = $2 WHERE id = $1", id, at)


async def audit_page(conn: asyncpg.Connection, entity: str, entity_id: str, *, limit: int, offset: int) -> list[asyncpg.Record]:
    """A page of an entity's audit trail, oldest first (``total`` on every row)."""
    return await conn.fetch(
        "SELECT at, actor, action, detail, count(*) OVER () AS total FROM audit_log WHERE entity = $1 AND entity_id = $2"
        " ORDER BY id LIMIT $3 OFFSET $4",
        entity, entity_id, limit, offset,
    )


# --- usage ---------------------------------------------------------------------------------------

async def app_exists(conn: asyncpg.Connection, id: UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM app WHERE id = $1)", id)


async def record_usage(conn: asyncpg.Connection, *, app_id: UUID, school_unit: UUID, start: date, end: date, launches: int,
                       active_users: int | None, event_time: datetime) -> None:
    """The city's figure for a period replaces an earlier one for the same period (a re-count), never adds to it."""
    await conn.execute(
        "INSERT INTO app_usage (app_id, school_unit, period_start, period_end, launches, active_users, event_time)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (app_id, school_unit, period_start, period_end) DO UPDATE SET"
        " launches = EXCLUDED.launches, active_users = EXCLUDED.active_users, event_time = EXCLUDED.event_time"
        " WHERE app_usage.event_time <= EXCLUDED.event_time",
        app_id, school_unit, start, end, launches, active_users, event_time,
    )


async def adoption(conn: asyncpg.Connection, since: date, school_units: list[UUID] | None, *, limit: int, offset: int) -> list[asyncpg.Record]:
    """Per app: launches and the school units that launched it since ``since`` (optionally only some schools); a page, ``total`` on every row."""
    return await conn.fetch(
        "SELECT a.id, a.name, a.status, sd.allows_use, a.dpa_status, a.free_use,"
        " coalesce(sum(u.launches), 0) AS launches, count(DISTINCT u.school_unit) FILTER (WHERE u.launches > 0) AS schools,"
        " count(DISTINCT u.school_unit) FILTER (WHERE u.launches > 0 AND NOT a.free_use AND NOT EXISTS ("
        "     SELECT 1 FROM licence l WHERE l.app_id = a.id AND l.school_unit = u.school_unit AND l.ended_at IS NULL"
        "     AND l.starts <= u.period_end AND l.expires >= u.period_start)) AS schools_without_licence,"
        " count(*) OVER () AS total"
        " FROM app_usage u JOIN app a ON a.id = u.app_id JOIN status_definition sd ON sd.code = a.status"
        " WHERE u.period_end >= $1 AND ($2::uuid[] IS NULL OR u.school_unit = ANY($2::uuid[]))"
        " GROUP BY a.id, a.name, a.status, sd.allows_use, a.dpa_status, a.free_use"
        " ORDER BY launches DESC, lower(a.name), a.id LIMIT $3 OFFSET $4",
        since, school_units, limit, offset,
    )


async def app_usage(conn: asyncpg.Connection, app_id: UUID, since: date) -> list[asyncpg.Record]:
    """One app's launches per school unit (one row per school unit that launched it: a few hundred at most)."""
    return await conn.fetch(
        "SELECT u.school_unit, o.display_name, o.school_unit_code, sum(u.launches) AS launches, max(u.active_users) AS active_users,"
        " max(u.period_end) AS last_period"
        " FROM app_usage u LEFT JOIN organisation o ON o.id = u.school_unit"
        " WHERE u.app_id = $1 AND u.period_end >= $2 GROUP BY u.school_unit, o.display_name, o.school_unit_code"
        " ORDER BY launches DESC, o.display_name, u.school_unit",
        app_id, since,
    )
