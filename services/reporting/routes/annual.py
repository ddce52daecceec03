"""The annual city report: one HTML document (printable to PDF) assembled from the same views, and
its publication to the districts (ReportPublished)."""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from services.reporting import cache, charts, csv_export, domain, store, suppression, usecases, views
from services.reporting.settings import SOURCE
from shared.auth import Principal, Role, require
from shared.problems import Problem, documented
from shared.uow import unit_of_work
from shared.vocabulary import STRATEGY_HEADINGS

Year = Annotated[int, Path(ge=2000, le=2100)]  # as everywhere else: a year past int32 failed the query (500)

router = APIRouter(tags=["annual report"])
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1a1a1a; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; } th, td { border: 1px solid #bbb; padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } caption { text-align: left; font-weight: 600; margin-bottom: .3rem; }
.note { color: #444; font-size: .9rem; } figure { margin: 1.5rem 0; } section { break-inside: avoid; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; text-decoration: none; } }
"""


def _text(figure: dict[str, Any]) -> str:
    """A figure as Swedish print: decimal comma; ".." hidden and "." missing kept as they are."""
    text = csv_export.cell(figure)
    return html.escape(text if text in (".", "..") else text.replace(".", ","))


def _change(fig: dict[str, Any]) -> str:
    change = fig.get("change")
    return "." if change is None else html.escape(f"{change:+.2f}".replace(".", ","))


@router.get("/annual-report/{year}", response_class=HTMLResponse, summary="The city's annual follow-up report as one printable HTML document",
            responses=documented(401, 403))
async def annual_report(request: Request, year: Year, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> HTMLResponse:
    async with request.app.state.pool.acquire() as conn:
        overview = await views.city_overview(conn, year)
    headings = domain.HEADINGS
    head = "".join(f"<th scope='col'>{html.escape(STRATEGY_HEADINGS[h]['sv'])}</th>" for h in headings)
    rows = [("Staden", overview["city"])] + [(d["displayName"] or "Utan område", d["headings"]) for d in overview["districts"]]
    body_rows = "".join(
        f"<tr><th scope='row'>{html.escape(name)}</th>" + "".join(f"<td>{_text(figs.get(h, {}))} <small>({_change(figs.get(h, {}))})</small></td>" for h in headings) + "</tr>"
        for name, figs in rows
    )
    hidden = frozenset((d["id"], h) for d in overview["districts"] for h, f in d["headings"].items() if f["status"] == "suppressed")
    heat = charts.heatmap([(d["id"], d["displayName"] or "Utan område") for d in overview["districts"]],
                          [(h, STRATEGY_HEADINGS[h]["sv"]) for h in headings],
                          {(d["id"], h): f["value"] for d in overview["districts"] for h, f in d["headings"].items()},
                          title=f"Områden och rubriker {year}", suppressed=hidden)
    async with request.app.state.pool.acquire() as conn:
        trend_years = await store.years_with_submissions(conn, None)
        trend_values = {y: await cache.school_levels(conn, y, None) for y in trend_years if y <= year}
    city_trend = charts.trend(sorted(trend_values) or [year],
                              [(STRATEGY_HEADINGS[h]["sv"], {y: suppression.rollup([s.levels.get(h) for s in schools]).value for y, schools in trend_values.items()})
                               for h in headings], title="Stadens nivå per rubrik över åren")
    notes = "".join(f"<li>{html.escape(text)}</li>" for text in domain.METHOD.values())
    document = f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Uppföljning av IT-strategin {year}</title><style>{STYLE}</style></head>
<body>
<h1>Uppföljning av IT-strategin för bättre lärande {year}</h1>
<p class="note">{overview['submitted']} av {overview['schoolUnits']} skolenheter har lämnat in sin självskattning för {year}.</p>
<section><table><caption>Nivå per område och rubrik (förändring sedan {year - 1} inom parentes)</caption>
<thead><tr><th scope="col">Område</th>{head}</tr></thead><tbody>{body_rows}</tbody></table></section>
<section><figure>{heat}</figure></section>
<section><figure>{city_trend}</figure></section>
<section><h2>Metod</h2><ul class="note">{notes}<li>".." betyder dolt värde, "." betyder att uppgift saknas.</li></ul></section>
</body></html>"""
    return HTMLResponse(document)


@router.post("/annual-report/{year}/publish", summary="Announce the year's report to each district (ReportPublished), once",
             responses=documented(401, 403, 409))
async def publish(request: Request, year: Year, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> dict[str, Any]:
    try:
        async with unit_of_work(request.app.state.pool, SOURCE) as uow:
            return await usecases.publish_annual_report(uow, year, caller.subject)
    except usecases.NothingToPublish as exc:
        raise Problem(409, "Conflict", str(exc)) from exc
