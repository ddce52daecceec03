"""A school unit's own report: its levels for a year beside the year before, and its trends."""

from __future__ import annotations

from statistics import median
from typing import Annotated, Any
from uuid import UUID

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.reporting import cache, csv_export, domain, store, suppression, vocabulary
from services.reporting.access import READERS, readable_school, readable_school_unit_at_version
from services.reporting.csv_export import Export, export, json_answer, written_json_answer
from services.reporting.report_cache import ReportCache
from services.reporting.schemas import SchoolReport, SimilarSchools, json_or_csv
from services.reporting.vocabulary import CSV_HEADERS, LangQuery, heading_titles
from shared.auth import Principal, require
from shared.i18n import Language, language
from shared.problems import Problem, documented

router = APIRouter(tags=["school report"])


@router.get("/school-units/{school_unit_id}/report", response_model=None, summary="A school unit's self-assessment report for a year, beside the year before",
            description="Levels per heading and indicator (missing stays missing, never zero; an indicator answered \"not relevant\" is "
                        "`notRelevant`, neither a level nor missing), change since the year before, and the pulse with groups under 5 "
                        "respondents suppressed. While the year's assessment is reopened for changes the last submitted version is shown, "
                        "marked `reopened` (it does not count in any roll-up until it is submitted again). "
                        "Readers: the school's staff, its district's admins, city admins.",
            responses=documented(401, 403, 404) | json_or_csv(SchoolReport))
async def school_report(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*READERS))],
                        as_: Annotated[Export, Depends(export)], year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                        lang: LangQuery = None) -> Response:
    # The report is reporting's heaviest read and the most repeated: its JSON is kept whole (report_cache.py) under the
    # question and the read models' version, so a repeated report costs one primary-key read (the version with the school
    # unit), and who may read it is checked on that read, on every request, before anything cached is answered.
    lang_ = language(request, lang)
    answers = report_cache_of(request)
    async with request.app.state.pool.acquire() as conn:
        # first: whatever is read after it (and kept under it) is at least this new
        version, district, school = await readable_school_unit_at_version(conn, caller, school_unit_id)
        question = (school_unit_id, year, lang_)
        answer = answers.get(version, question)
        if answer is None:
            body = await school_report_body(conn, school_unit_id, school, district, year, lang_, version)
            answer = bytes(json_answer(body).body)
            answers.put(version, question, answer)
    # CSV from the same figures, written now (its "data as of" line is the time of the request)
    return csv_export.school_report_csv(orjson.loads(answer), lang_, as_.variant) if as_.csv else written_json_answer(answer)


def report_cache_of(request: Request) -> ReportCache:
    """One cache per application (per process), made on first use."""
    state = request.app.state
    if getattr(state, "report_cache", None) is None:
        state.report_cache = ReportCache()
    answers: ReportCache = state.report_cache
    return answers


async def school_report_body(conn: asyncpg.Connection, school_unit_id: UUID, school: dict[str, Any], district: UUID | None,
                             year: int | None, lang_: Language, version: int) -> dict[str, Any]:
    """The report as JSON-ready values, read at least as new as ``version`` (read before)."""
    submissions = {r["year"]: r for r in await store.reported_submissions(conn, school_unit_id)}
    if not submissions:
        raise Problem(404, "Not found", f"school unit {school_unit_id} has no submitted self-assessment")
    chosen = year if year is not None else max(submissions)
    if chosen not in submissions:
        raise Problem(404, "Not found", f"school unit {school_unit_id} has no submitted self-assessment for {chosen}; years: {sorted(submissions)}")
    previous = max((y for y in submissions if y < chosen), default=None)
    ids = [submissions[chosen]["assessment_id"]] + ([submissions[previous]["assessment_id"]] if previous else [])
    headings = await store.heading_levels(conn, ids)
    indicators = await store.indicator_levels(conn, ids)
    pulse = await store.pulse_levels(conn, submissions[chosen]["assessment_id"])
    metrics = await store.school_metrics(conn, school_unit_id, chosen)
    indicator_values = domain.indicator_rows(await store.indicators(conn), metrics, lang_)
    plan = await store.actions(conn, school_unit_id)
    peers = await cache.school_levels(conn, chosen, [district], version) if district else []
    by_year = await store.heading_levels_by_year(conn, school_unit_id)
    medians = district_medians(peers)
    now_id = submissions[chosen]["assessment_id"]

    def levels(rows: list[Any], key: str, assessment: Any) -> dict[str, domain.Level]:
        if key == "heading":
            return {r[key]: domain.Level(r["level"], r["mean"], domain.heading_not_relevant(r["level"], r["answered"], r["not_relevant"], r["indicators"]))
                    for r in rows if r["assessment_id"] == assessment}
        return {r[key]: domain.Level(r["level"], None, r["not_relevant"]) for r in rows if r["assessment_id"] == assessment}

    before_id = submissions[previous]["assessment_id"] if previous else None
    indicator_order = sorted({r["indicator_id"] for r in indicators})
    titles = heading_titles(lang_)
    groups: dict[str, dict[str, Any]] = {}
    for r in pulse:
        g = groups.setdefault(r["grp"], {"group": r["grp"], "respondents": suppression.as_json(suppression.figure(float(r["respondents"]), r["respondents"])),
                                         **domain.response_rate(r["respondents"], metrics.get(domain.PULSE_POPULATION.get(r["grp"], ""))),
                                         "headings": []})
        # the producer withholds a small group's means: such a group is suppressed here, not missing
        small = r["respondents"] < suppression.MIN_RESPONDENTS
        g["headings"].append({"heading": r["heading"], "title": titles.get(r["heading"], r["heading"]),
                              **suppression.as_json(suppression.figure(0.0 if small else r["mean"], r["respondents"]))})
    trend: dict[int, dict[str, Any]] = {}
    for r in by_year:
        trend.setdefault(r["year"], {})[r["heading"]] = r["level"]
    return {
        "schoolUnitId": str(school_unit_id), "schoolUnit": school, "year": chosen, "previousYear": previous,
        "frameworkVersion": submissions[chosen]["framework_version"], "submittedAt": submissions[chosen]["submitted_at"].isoformat(),
        "reopened": submissions[chosen]["reopened_at"] is not None,
        "reopenedAt": submissions[chosen]["reopened_at"].isoformat() if submissions[chosen]["reopened_at"] else None,
        "headings": [{**row, "title": titles[row["id"]]}
                     for row in domain.compare(levels(headings, "heading", now_id), levels(headings, "heading", before_id), domain.HEADINGS)],
        "indicators": domain.compare(levels(indicators, "indicator_id", now_id), levels(indicators, "indicator_id", before_id), indicator_order),
        "pulse": list(groups.values()),
        "indicatorFigures": indicator_values,
        "actionPlan": {
            "byStatus": {status: sum(1 for a in plan if a["status"] == status) for status in ("planned", "in_progress", "done", "dropped")},
            "open": [{"id": str(a["action_id"]), "heading": a["heading"], "indicatorId": a["indicator_id"], "status": a["status"],
                      "deadline": a["deadline"].isoformat() if a["deadline"] else None} for a in plan if a["status"] in ("planned", "in_progress")],
        },
        "years": sorted(submissions),
        "districtMedians": medians,
        # the headings in the framework's order, not the rows' (which an update of a row moves): the same data gives the same bytes
        "trend": [{"year": y, "levels": {h: trend[y][h] for h in sorted(trend[y], key=heading_order)}} for y in sorted(trend)],
        "method": vocabulary.METHOD[lang_],
    }


def heading_order(heading: str) -> tuple[int, str]:
    """The strategy's headings in its own order, any other (an older framework's) after them by name."""
    return (domain.HEADINGS.index(heading), "") if heading in domain.HEADINGS else (len(domain.HEADINGS), heading)


def district_medians(peers: list[domain.SchoolLevels]) -> dict[str, float | None]:
    """The median level per heading over the district's schools with one (the radar's district series); fewer than
    3 schools and there is no figure (the same rule as the roll-ups)."""
    out: dict[str, float | None] = {}
    for h in domain.HEADINGS:
        values = [v for s in peers if (v := s.levels.get(h)) is not None]
        out[h] = float(median(values)) if len(values) >= suppression.MIN_SCHOOLS else None
    return out


@router.get("/school-units/{school_unit_id}/similar", summary="The school beside similar schools (same school type and size band), never a ranking",
            response_model=None,
            description="The group's figure per heading is the mean over its other schools with a level; fewer than 3 and it is suppressed. "
                        "No other school is named.", responses=documented(401, 403, 404) | json_or_csv(SimilarSchools))
async def similar_schools(request: Request, school_unit_id: UUID, caller: Annotated[Principal, Depends(require(*READERS))],
                          as_: Annotated[Export, Depends(export)], year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                          lang: LangQuery = None) -> Response:
    lang_ = language(request, lang)
    titles = heading_titles(lang_)
    async with request.app.state.pool.acquire() as conn:
        await readable_school(conn, caller, school_unit_id)
        year = year or max((r["year"] for r in await store.current_submissions(conn, school_unit_id)), default=None)
        if year is None:
            raise Problem(404, "Not found", f"school unit {school_unit_id} has no submitted self-assessment")
        schools = await cache.school_levels(conn, year, None)
        sizes = {str(k): v for k, v in (await store.pupils(conn, year)).items()}
    me = next((s for s in schools if s.id == str(school_unit_id)), None)
    if me is None:
        raise Problem(404, "Not found", f"school unit {school_unit_id} is not known")
    kind, band = domain.main_type(list(me.school_types)), domain.size_band(sizes.get(me.id))
    peers = [s for s in schools if s.id != me.id and domain.main_type(list(s.school_types)) == kind
             and (band is None or domain.size_band(sizes.get(s.id)) == band)]
    headings = [{"id": h, "title": titles[h], "level": me.levels.get(h),
                 "group": suppression.as_json(suppression.rollup([p.levels.get(h) for p in peers]))} for h in domain.HEADINGS]
    if as_.csv:
        return csv_export.csv_response(CSV_HEADERS[lang_]["similar"],
                                       [["school", me.id, h["id"], h["title"], year, h["level"], h["group"], len(peers)] for h in headings],
                                       f"similar-{me.id}-{year}.csv", lang_, as_.variant)
    rule = vocabulary.word("rule_type", lang_) + vocabulary.word("rule_band" if band else "rule_no_size", lang_)
    return json_answer({
        "schoolUnitId": me.id, "schoolUnit": me.ref(), "year": year,
        "schoolType": vocabulary.school_type(kind, lang_), "sizeBand": vocabulary.size_band(band, lang_),
        "group": {"schoolUnits": len(peers), "rule": rule},
        "headings": headings,
        "method": vocabulary.METHOD[lang_],
    })
