"""Reporting's words in the reader's language (``shared.i18n.language``: ``?lang=`` or Accept-Language, Swedish by
default): the method notes, chart titles and axis labels, CSV headers and the annual report's prose.

Codes (heading ids, statuses, CSV's ".." and ".") stay the same in every language; only words change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Query

from shared.i18n import Language
from shared.vocabulary import STRATEGY_HEADINGS

METHOD: dict[Language, dict[str, str]] = {
    "en": {
        "levels": "A school's level per heading is the mean of its indicator levels, rounded down (1-5), from its latest submitted "
                  "self-assessment of the year; a reopened assessment does not count until it is submitted again.",
        "rollups": "A district's or the city's figure is the mean of its schools' levels; schools without a level are left out, not counted as zero.",
        "suppression": "A figure over fewer than 3 schools, or from fewer than 5 respondents, is suppressed (\"..\"); where a total is "
                       "published beside its parts, a second part is suppressed so that a hidden value cannot be derived (complementary suppression).",
        "missing": "Missing (\".\") means no data: not zero and not suppressed.",
        "pulse": "A pulse group's response rate is its respondents over the school's staff or pupils as the city reports them; under 50% "
                 "the figures are marked insufficient (shown, but not representative).",
        "ranking": "Schools are listed by name. The figures are for follow-up and development, not for ranking schools.",
    },
    "sv": {
        "levels": "En skolas nivå per rubrik är medelvärdet av dess indikatorers nivåer, avrundat nedåt (1–5), från årets senast inlämnade "
                  "självskattning; en återöppnad självskattning räknas inte förrän den lämnats in igen.",
        "rollups": "Ett områdes eller stadens värde är medelvärdet av skolornas nivåer; skolor utan nivå räknas inte, de räknas inte som noll.",
        "suppression": "Ett värde över färre än 3 skolor, eller från färre än 5 svarande, döljs (\"..\"); där en summa publiceras bredvid sina "
                       "delar döljs ytterligare en del så att ett dolt värde inte kan räknas fram (sekundär röjandekontroll).",
        "missing": "Uppgift saknas (\".\") betyder att det inte finns data: inte noll och inte dolt.",
        "pulse": "En pulsgrupps svarsfrekvens är antalet svarande delat med skolans personal eller elever enligt staden; under 50 % "
                 "markeras värdena som otillräckliga (visas, men är inte representativa).",
        "ranking": "Skolorna listas efter namn. Värdena är till för uppföljning och utveckling, inte för att rangordna skolor.",
    },
}

# A method note as the answer's example shows it (Swedish, as answered by default).
METHOD_EXAMPLE = METHOD["sv"]

WORDS: dict[Language, dict[str, str]] = {
    "sv": {
        "city": "Staden", "no_district": "Utan område", "district_median": "Områdets median", "level": "Nivå",
        "radar_title": "{school} – självskattning {year}", "trend_title": "Nivå per rubrik över åren",
        "heatmap_title": "Områden och rubriker {year}", "city_trend_title": "Stadens nivå per rubrik över åren",
        "rule_type": "samma skolform", "rule_band": " och storleksklass", "rule_no_size": " (skolans storlek är okänd)",
        "data_as_of": "uppgifter per",
        "reopened": "återöppnad för ändring; den senast inlämnade versionen visas tills den lämnas in igen",
        "heatmap_schools_title": "Skolor och rubriker {year}: {districts}",
    },
    "en": {
        "city": "City", "no_district": "No district", "district_median": "District median", "level": "Level",
        "radar_title": "{school} – self-assessment {year}", "trend_title": "Level per heading over the years",
        "heatmap_title": "Districts and headings {year}", "city_trend_title": "The city's level per heading over the years",
        "rule_type": "same school type", "rule_band": " and size band", "rule_no_size": " (the school's size is not known)",
        "data_as_of": "data as of",
        "reopened": "reopened for changes; the last submitted version is shown until it is submitted again",
        "heatmap_schools_title": "Schools and headings {year}: {districts}",
    },
}

SIZE_BANDS: dict[Language, dict[str, str]] = {
    "sv": {"under 100": "under 100 elever", "100-299": "100–299 elever", "300-599": "300–599 elever", "600 or more": "600 elever eller fler"},
    "en": {"under 100": "under 100 pupils", "100-299": "100–299 pupils", "300-599": "300–599 pupils", "600 or more": "600 pupils or more"},
}

# CSV column headers: one word list per export, in the reader's language (the cells' codes stay the same).
CSV_HEADERS: dict[Language, dict[str, list[str]]] = {
    "sv": {
        "school": ["typ", "id", "år", "nivå_eller_värde", "föregående_eller_mål", "förändring_eller_når_målet"],
        "overview": ["typ", "id", "namn", "rubrik_id", "rubrik", "år", "värde", "föregående_års_värde", "förändring"],
        "trends": ["typ", "id", "år", "rubrik_id", "rubrik", "värde", "föregående_års_värde", "förändring", "inlämnade"],
        "similar": ["typ", "id", "rubrik_id", "rubrik", "år", "skolans_nivå", "liknande_skolors_medelvärde", "liknande_skolor"],
    },
    "en": {
        "school": ["kind", "id", "year", "level_or_value", "previous_or_target", "change_or_meets_target"],
        "overview": ["kind", "id", "name", "heading", "heading_title", "year", "value", "previous_year_value", "change"],
        "trends": ["kind", "id", "year", "heading", "heading_title", "value", "previous_year_value", "change", "submitted"],
        "similar": ["kind", "id", "heading", "heading_title", "year", "school_level", "similar_schools_mean", "similar_schools"],
    },
}
SCHOOL_TYPES: dict[Language, dict[str, str]] = {
    "sv": {"GR": "Grundskola", "GY": "Gymnasieskola", "GRS": "Anpassad grundskola", "GYS": "Anpassad gymnasieskola", "FS": "Fritidshem",
           "VUX": "Kommunal vuxenutbildning", "SFI": "Svenska för invandrare", "FKLASS": "Förskoleklass"},
    "en": {"GR": "Compulsory school", "GY": "Upper secondary school", "GRS": "Adapted compulsory school", "GYS": "Adapted upper secondary school",
           "FS": "School-age educare", "VUX": "Municipal adult education", "SFI": "Swedish for immigrants", "FKLASS": "Preschool class"},
}

ANNUAL: dict[Language, dict[str, str]] = {
    "sv": {
        "title": "Uppföljning av IT-strategin {year}", "heading": "Uppföljning av IT-strategin för bättre lärande {year}",
        "submitted": "{submitted} av {schools} skolenheter har lämnat in sin självskattning för {year}.",
        "caption": "Nivå per område och rubrik (förändring sedan {previous} inom parentes)", "district": "Område",
        "method": "Metod", "marks": "\"..\" betyder dolt värde, \".\" betyder att uppgift saknas.",
        "district_title": "Uppföljning av IT-strategin {year}: {districts}",
        "district_heading": "Uppföljning av IT-strategin för bättre lärande {year}: {districts}",
        "district_caption": "Områdets nivå per rubrik (förändring sedan {previous} inom parentes)",
        "schools_caption": "Skolornas nivå per rubrik (efter namn, ingen rangordning)", "school": "Skolenhet",
        "district_trend_title": "Områdets nivå per rubrik över åren",
    },
    "en": {
        "title": "Follow-up of the IT strategy {year}", "heading": "Follow-up of the IT strategy for better learning {year}",
        "submitted": "{submitted} of {schools} school units have submitted their self-assessment for {year}.",
        "caption": "Level per district and heading (change since {previous} in brackets)", "district": "District",
        "method": "Method", "marks": "\"..\" means a suppressed value, \".\" means no data.",
        "district_title": "Follow-up of the IT strategy {year}: {districts}",
        "district_heading": "Follow-up of the IT strategy for better learning {year}: {districts}",
        "district_caption": "The district's level per heading (change since {previous} in brackets)",
        "schools_caption": "The schools' level per heading (by name, not a ranking)", "school": "School unit",
        "district_trend_title": "The district's level per heading over the years",
    },
}


def heading_title(heading: str, lang: Language) -> str:
    return STRATEGY_HEADINGS[heading][lang]


def heading_titles(lang: Language) -> Mapping[str, str]:
    return {h: t[lang] for h, t in STRATEGY_HEADINGS.items()}


def word(key: str, lang: Language) -> str:
    return WORDS[lang][key]


def size_band(band: str | None, lang: Language) -> dict[str, str] | None:
    """A size band as a CodeLabel (the code as the domain names it, e.g. "100-299")."""
    return {"code": band, "label": SIZE_BANDS[lang].get(band, band)} if band is not None else None


def school_type(code: str | None, lang: Language) -> dict[str, str] | None:
    return {"code": code, "label": SCHOOL_TYPES[lang].get(code, code)} if code is not None else None


LangQuery = Annotated[Language | None, Query(description="the answer's language (sv or en); wins over Accept-Language; Swedish by default")]
