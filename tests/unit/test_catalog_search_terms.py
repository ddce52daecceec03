"""How a search box is read (ASCII folding, corrections only for words nothing matches, "did you mean") and what the
data-protection facts as sent must be (plausible dates, a stated transfer described): services/catalog/domain.py."""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path

import orjson
import pytest

from services.catalog import domain, schemas
from services.catalog.domain import DataProtection, StatusDefinition, WordFacts
from services.catalog.routes.search import _hit
from services.catalog.views import school_ref
from shared.http.pages import PageRequest

MIGRATION = Path(__file__).resolve().parents[2] / "services" / "catalog" / "migrations" / "0003_search_folding.sql"
TODAY = date(2026, 12, 7)


# --- folding -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "typed"), [("läsförståelse", "lasforstaelse"), ("Bråk", "brak"), ("ÖVNING", "ovning"),
                                                ("Café", "cafe"), ("geogebra", "geogebra"), ("3d", "3d")])
def test_a_word_folds_to_what_a_keyboard_without_å_ä_ö_types(written: str, typed: str) -> None:
    assert domain.fold(written) == typed


def test_the_database_folds_the_same_letters_as_python() -> None:
    """search_fold() in the migration builds the stored vector; domain.fold builds the query: they must agree."""
    sql = MIGRATION.read_text(encoding="utf-8")
    [(source, target)] = re.findall(r"translate\(lower\(\$1\), '([^']+)', '([^']+)'\)", sql)
    assert (source, target) == (domain.FOLD_FROM, domain.FOLD_TO)
    assert len(source) == len(target)
    assert all(c.isascii() for c in target) and not any(c.isascii() for c in source)


# --- corrections and "did you mean" --------------------------------------------------------------

def test_a_word_that_matches_something_is_never_corrected() -> None:
    """A product name the programbank has ("geogebra") is searched as typed, however near another word it is."""
    facts = {"geogebra": WordFacts(found=True, near=("geografi",)), "matemtik": WordFacts(found=False, near=("matematik", "matematiken"))}
    assert domain.corrections_of(["geogebra", "matemtik"], facts) == {"matemtik": ["matematik", "matematiken"]}


def test_a_stop_word_or_a_word_with_nothing_near_is_not_corrected() -> None:
    facts = {"för": WordFacts(stop=True, found=False, near=("före",)), "qzxv": WordFacts(found=False, near=())}
    assert domain.corrections_of(["för", "qzxv"], facts) == {}


def test_did_you_mean_replaces_each_corrected_word_by_its_nearest() -> None:
    assert domain.suggestion(["programmerng", "nybörjare"], {"programmerng": ["programmering", "programmet"]}) == "programmering nybörjare"
    assert domain.suggestion(["geogebra"], {}) is None


def test_the_terms_of_a_search_box() -> None:
    words = domain.query_words("Lasforstaelse för matemtik")
    facts = {"lasforstaelse": WordFacts(found=True), "för": WordFacts(stop=True), "matemtik": WordFacts(found=False, near=("matematik",))}
    terms = domain.search_terms(words, facts)
    assert terms.tsquery == "(lasforstaelse) & (för) & (matemtik:* | matematik)"  # as before: Swedish stemming drops "för"
    assert terms.folded == "(lasforstaelse) & (matemtik:* | matematik)"  # "för" folds to "for", which is no stop word
    assert terms.corrections == {"matemtik": ["matematik"]} and terms.suggestion == "lasforstaelse för matematik"
    assert domain.search_terms([], {}) == domain.SearchTerms()


def test_the_folded_query_folds_the_corrections_too_and_keeps_the_prefix_on_the_last_word() -> None:
    assert domain.folded_tsquery_text(["bråk", "läsförstå"], {"bråk": ["bråket", "bråk"]}) == "(brak | braket) & (lasforsta:*)"
    assert domain.folded_tsquery_text(["och", "i"], {}, stop=["och", "i"]) is None
    assert domain.folded_tsquery_text(["bråk", "och"], {}, stop=["och"]) == "(brak)"  # the prefix belongs to the last word typed


@pytest.mark.parametrize("q", ["'; DROP TABLE app; --", "a & !b | (c <-> d)", "foo:* bar:AB 'baz'", "İstanbul ß ﬁ ½ ²", "中文 العربية", "Ærø Åsa"])
def test_the_folded_query_of_any_input_has_only_words_and_operators(q: str) -> None:
    words = domain.query_words(q)
    text = domain.folded_tsquery_text(words, {w: ["x'y", "ok"] for w in words}) or ""
    assert all(c.isalnum() or c in "()|&:* " for c in text), text


# --- data protection as sent ---------------------------------------------------------------------

def problems(sent: dict[str, object]) -> dict[str, str]:
    return dict(domain.data_protection_problems(DataProtection.model_validate(sent), TODAY))


SIGNED = {"dataCategories": ["identity"], "dpaStatus": "signed", "dpaSigned": "2024-08-01", "dpaExpires": "2027-07-31", "processingCountries": ["SE"]}


def test_plausible_facts_have_no_problems() -> None:
    assert problems(SIGNED) == {}
    assert problems({**SIGNED, "dpaSigned": TODAY.isoformat()}) == {}  # signed today
    assert problems({**SIGNED, "dpaStatus": "expired", "dpaSigned": "2019-01-01", "dpaExpires": "2020-01-01"}) == {}  # a past agreement
    assert problems({**SIGNED, "dpaSigned": "1998-10-24", "dpaExpires": "2056-12-31"}) == {}


@pytest.mark.parametrize(("change", "field"), [
    ({"dpaSigned": "0116-07-20"}, "dpaSigned"),
    ({"dpaSigned": "1994-12-31"}, "dpaSigned"),
    ({"dpaSigned": "2026-12-08", "dpaExpires": "2027-12-08"}, "dpaSigned"),  # signed tomorrow
    ({"dpaExpires": "9999-12-31"}, "dpaExpires"),
    ({"dpaExpires": "2057-01-01"}, "dpaExpires"),
])
def test_an_implausible_date_is_named(change: dict[str, str], field: str) -> None:
    assert list(problems({**SIGNED, **change})) == [field]


def test_a_stated_transfer_outside_the_eea_names_the_countries() -> None:
    assert list(problems({**SIGNED, "transferOutsideEea": True})) == ["processingCountries"]
    assert list(problems({**SIGNED, "transferOutsideEea": True, "processingCountries": ["SE", "DE"], "transferSafeguard": "scc"})) == ["processingCountries"]
    assert problems({**SIGNED, "transferOutsideEea": True, "processingCountries": ["SE", "US"], "transferSafeguard": "dpf"}) == {}
    # a sub-processor's country says where too
    assert problems({**SIGNED, "transferOutsideEea": True, "transferSafeguard": "scc", "subProcessors": [{"name": "Big Cloud Inc", "country": "US"}]}) == {}


def test_a_transfer_without_a_safeguard_is_recorded_as_found_and_blocks_approval() -> None:
    """Stated or derived from the countries: the facts as the data-protection function found them, so an approval
    lapses on them (and a record read back and sent again, transferOutsideEea: true included, is accepted)."""
    for sent in ({**SIGNED, "processingCountries": ["US"]}, {**SIGNED, "processingCountries": ["US"], "transferOutsideEea": True}):
        dp = DataProtection.model_validate(sent)
        assert dp.transferOutsideEea and domain.data_protection_problems(dp, TODAY) == []
        assert [r.code for r in domain.approval_reasons(dp, TODAY)] == ["transfer_without_safeguard"]


def test_derived_is_not_stated() -> None:
    assert not DataProtection.model_validate({**SIGNED, "processingCountries": ["US"]}).transfer_stated
    assert DataProtection.model_validate({**SIGNED, "transferOutsideEea": True}).transfer_stated


# --- the answer's shape --------------------------------------------------------------------------

def test_a_search_for_a_school_answers_search_results_with_each_hit_marked() -> None:
    """The search writes its answer with orjson (no response model at run time): what routes/search.py builds for a
    school unit is what schemas.SearchResults promises, and a hit's availability is the rule GET /apps/{id} uses."""
    statuses = {"approved": StatusDefinition("approved", "Godkänd", "Approved", allows_use=True),
                "not_approved": StatusDefinition("not_approved", "Ej godkänd", "Not approved", allows_use=False)}
    school = uuid.uuid4()

    def hit(status: str, free_use: bool, licensed: bool) -> dict[str, object]:
        return {"id": str(uuid.uuid4()), "name": "Räknestigen", "supplier": "Nordlärande AB", "description": "x", "url": None, "kind": "open",
                "cost_model": "free", "free_use": free_use, "subjects": ["MA"], "grades": ["4"], "school_types": ["GR"], "platforms": ["web"],
                "languages": ["sv"], "headings": ["digitalt-innehall"], "status": status, "dpa_status": "not_required", "dpa_expires": None,
                "rank": 0.25, "usable": None, "licensed": licensed}

    rows = [hit("approved", True, False), hit("approved", False, True), hit("approved", False, False), hit("not_approved", True, False)]
    body = PageRequest(limit=10, offset=0).page(rows, total=4, item=lambda h: _hit(h, statuses, "sv", school, ["GR"]))
    body.update(query="matte", corrections={}, suggestion=None, schoolUnit=school_ref(school, "Sökskolan", None), usableTotal=2, facets=None)
    answer = schemas.SearchResults.model_validate_json(orjson.dumps(body))
    assert [i.usableHere for i in answer.items] == [True, True, False, False]
    assert [i.availability.reason for i in answer.items if i.availability] == ["free_use", "licence", "no_licence", "status_disallows_use"]
    assert answer.schoolUnit is not None and answer.schoolUnit.name == "Sökskolan"
    # for no school unit: nothing marked
    plain = _hit(rows[0], statuses, "sv", None, [])
    assert plain["usableHere"] is None and plain["availability"] is None
    assert schemas.SearchHit.model_validate(plain).usableHere is None
