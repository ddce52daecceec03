"""The annual city report: one HTML document (printable to PDF) assembled from the same views, and
its publication to the districts (ReportPublished)."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from services.reporting import cache, charts, csv_export, domain, store, suppression, usecases, views
from services.reporting.schemas import Publication, html_answer
from services.reporting.settings import SOURCE
from services.reporting.vocabulary import ANNUAL, METHOD, LangQuery, heading_titles, word
from shared.auth import Principal, Role, require
from shared.i18n import Language, language
from shared.problems import Problem, documented
from shared.uow import unit_of_work

Year = Annotated[int, Path(ge=2000, le=2100)]  # as everywhere else: a year past int32 failed the query (500)

router = APIRouter(tags=["annual report"])
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a1a1a; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; } th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } caption { text-align: left; font-weight: 600; margin-bottom: .3rem; }
.note { color: #444; font-size: .9rem; } figure { margin: 1.5rem 0; } section { break-inside: avoid; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
"""


def _text(figure: dict[str, Any], lang: Language) -> str:
    """A figure as print: decimal comma in Swedish, point in English; ".." hidden and "." missing kept as they are."""
    text = csv_export.cell(figure)
    return html.escape(text if text in (".", "..") or lang == "en" else text.replace(".", ","))


def _change(fig: dict[str, Any], lang: Language) -> str:
    change = fig.get("change")
    if change is None:
        return "."
    text = f"{change:+.2f}"
    return html.escape(text if lang == "en" else text.replace(".", ","))


@router.get("/annual-report/{year}", response_class=HTMLResponse, summary="The city's annual follow-up report as one printable HTML document",
            responses=documented(401, 403) | html_answer())
async def annual_report(request: Request, year: Year, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))],
                        lang: LangQuery = None) -> HTMLResponse:
    lang_ = language(request, lang)
    words = ANNUAL[lang_]
    titles = heading_titles(lang_)
    async with request.app.state.pool.acquire() as conn:
        overview = await views.city_overview(conn, year, lang_)
    headings = domain.HEADINGS
    no_district = word("no_district", lang_)
    head = "".join(f"<th scope='col'>{html.escape(titles[h])}</th>" for h in headings)
    rows = [(word("city", lang_), overview["city"])] + [(d["displayName"] or no_district, d["headings"]) for d in overview["districts"]]
    body_rows = "".join(
        f"<tr><th scope='row'>{html.escape(name)}</th>"
        + "".join(f"<td>{_text(figs.get(h, {}), lang_)} <small>({_change(figs.get(h, {}), lang_)})</small></td>" for h in headings) + "</tr>"
        for name, figs in rows
    )
    hidden = frozenset((str(d["id"]), h) for d in overview["districts"] for h, f in d["headings"].items() if f["status"] == "suppressed")
    heat = charts.heatmap([(str(d["id"]), d["displayName"] or no_district) for d in overview["districts"]],
                          [(h, titles[h]) for h in headings],
                          {(str(d["id"]), h): f["value"] for d in overview["districts"] for h, f in d["headings"].items()},
                          title=word("heatmap_title", lang_).format(year=year), suppressed=hidden, lang=lang_)
    async with request.app.state.pool.acquire() as conn:
        trend_years = await store.years_with_submissions(conn, None)
        trend_values = {y: await cache.school_levels(conn, y, None) for y in trend_years if y <= year}
    city_trend = charts.trend(sorted(trend_values) or [year],
                              [(titles[h], {y: suppression.rollup([s.levels.get(h) for s in schools]).value for y, schools in trend_values.items()})
                               for h in headings], title=word("city_trend_title", lang_), y_label=word("level", lang_), lang=lang_)
    notes = "".join(f"<li>{html.escape(text)}</li>" for text in METHOD[lang_].values())
    document = f"""<!doctype html>
<html lang="{lang_}"><head><meta charset="utf-8"><title>{html.escape(words['title'].format(year=year))}</title><style>{STYLE}</style></head>
<body>
<h1>{html.escape(words['heading'].format(year=year))}</h1>
<p class="note">{html.escape(words['submitted'].format(submitted=overview['submitted'], schools=overview['schoolUnits'], year=year))}</p>
<section><table><caption>{html.escape(words['caption'].format(previous=year - 1))}</caption>
<thead><tr><th scope="col">{html.escape(words['district'])}</th>{head}</tr></thead><tbody>{body_rows}</tbody></table></section>
<section><figure>{heat}</figure></section>
<section><figure>{city_trend}</figure></section>
<section><h2>{html.escape(words['method'])}</h2><ul class="note">{notes}<li>{html.escape(words['marks'])}</li></ul></section>
</body></html>"""
    return HTMLResponse(document, headers={"Content-Language": lang_})


@router.post("/annual-report/{year}/publish", summary="Announce the year's report to each district (ReportPublished), once",
             response_model=Publication, responses=documented(401, 403, 409))
async def publish(request: Request, year: Year, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    try:
        async with unit_of_work(request.app.state.pool, SOURCE) as uow:
            return await usecases.publish_annual_report(uow, year, caller.subject)
    except usecases.NothingToPublish as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
