"""The framework files: complete against the seed documents, consistent, and carrying answers forward."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from services.assessment import domain
from services.assessment.domain import Answer
from services.assessment.framework import DIRECTORY, FrameworkError, load_all, published

HEADINGS = ["infrastruktur", "digital-kompetens", "digitalt-innehall", "samarbete-kommunikation", "uppfoljning"]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def action_plan_goals() -> list[str]:
    """Every bullet the 2013 action plan lists under 'Förvaltningen ska verka för att följande uppfylls'."""
    text = (DIRECTORY / "sources" / "stockholm-handlingsplan-2013.txt").read_text(encoding="utf-8")
    goals = []
    for block in text.split("Förvaltningen ska verka för att följande uppfylls:")[1:]:
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("- "):
                # the text after the goal's full stop is page furniture from the PDF
                goals.append(line[2:].split(". ")[0].rstrip(".") + ".")
            elif line and not line.startswith("-") and goals and line[0].isdigit():
                break
    return goals


def test_the_seed_lists_sixteen_goals_under_five_headings() -> None:
    goals = action_plan_goals()
    assert len(goals) == 16, goals
    assert goals[0] == "Trådlösa nät finns på samtliga skolor."
    assert goals[-1] == "Varje grund- och gymnasiechef följer upp strategiarbetet på skolan med respektive rektor."


@pytest.mark.parametrize("version", [1, 2])
def test_every_action_plan_goal_is_an_indicator(version: int) -> None:
    framework = published()[version]
    quotes = [i.source.quote for i in framework.indicators if i.source.document == "handlingsplan-2013"]
    for goal in action_plan_goals():
        assert quotes.count(goal) >= 1, f"version {version} lacks the goal {goal!r}"


@pytest.mark.parametrize("version", [1, 2])
def test_every_indicator_is_complete_in_both_languages(version: int) -> None:
    framework = published()[version]
    assert [h.id for h in sorted(framework.headings, key=lambda h: h.order)] == HEADINGS
    assert len(framework.indicators) >= 30
    all_level_texts: list[str] = []
    for i in framework.indicators:
        for text in (i.title, i.statement, i.help):
            assert text.sv.strip() and text.en.strip() and text.sv != text.en, i.id
        assert [lv.level for lv in i.levels] == [1, 2, 3, 4, 5], i.id
        for lv in i.levels:
            assert lv.sv.strip() and lv.en.strip() and lv.nextStep.sv.strip() and lv.nextStep.en.strip(), (i.id, lv.level)
            all_level_texts += [lv.sv, lv.en]
        assert len({lv.sv for lv in i.levels}) == 5, f"{i.id}: level statements repeat"
    assert len(set(all_level_texts)) == len(all_level_texts), "a level statement is reused across indicators"


@pytest.mark.parametrize("version", [1, 2])
def test_quotes_are_verbatim_from_their_source_documents(version: int) -> None:
    framework = published()[version]
    files = {s.id: squash((DIRECTORY / s.file).read_text(encoding="utf-8")) for s in framework.sources if s.file}
    for i in framework.indicators:
        if i.source.quote is None:
            assert i.source.document == "revision-2026", i.id
            continue
        assert squash(i.source.quote) in files[i.source.document], f"{i.id}: quote not found in {i.source.document}"


def test_the_strategy_and_trelleborg_add_their_concrete_expectations() -> None:
    v1 = published()[1]
    by_doc = {d: [i for i in v1.indicators if i.source.document == d] for d in ("it-strategi-2011", "trelleborg-ikt-2017")}
    assert len(by_doc["it-strategi-2011"]) >= 8 and len(by_doc["trelleborg-ikt-2017"]) >= 5
    preschool = [i for i in v1.indicators if [t.value for t in i.schoolTypes] == ["FS"]]
    assert [i.id for i in preschool] == ["INF-06"]  # the preschool's own use of IT
    quotes = " ".join(i.source.quote or "" for i in by_doc["trelleborg-ikt-2017"])
    for area in ("roller och ansvar", "mätning och uppföljning", "kommunicerar sina behov", "kollegialt lärande"):
        assert area in quotes.lower(), area


def test_headings_map_to_selfie_and_lika_areas() -> None:
    for h in published()[1].headings:
        assert h.selfie and h.lika, h.id
    covered_selfie = {a for h in published()[1].headings for a in h.selfie}
    assert len(covered_selfie) == 8  # every SELFIE area can be read from some heading


def test_a_preschool_is_not_asked_about_school_matters() -> None:
    v1 = published()[1]
    preschool = {i.id for i in v1.indicators_for(["FS"])}
    upper = {i.id for i in v1.indicators_for(["GY"])}
    assert "INF-06" in preschool and "INF-06" not in upper
    assert {"INF-04", "SAM-03", "KOM-04"}.isdisjoint(preschool)
    assert {"INF-04", "SAM-03", "KOM-04"} <= upper


def test_version_two_carries_every_unchanged_answer_and_asks_only_what_is_new() -> None:
    v1, v2 = published()[1], published()[2]
    types = ["GR", "FKLASS"]
    answers = {i.id: Answer(level=3) for i in v1.indicators_for(types)}
    chain = domain.version_chain(published(), 1, 2)
    assert chain == [v1, v2]
    carried = domain.carry_forward(chain, answers, source="previous")
    assert set(carried) == {i.id for i in v1.indicators_for(types)} - {"SAM-04"}
    assert all(a.carried_from == "previous" and a.level == 3 for a in carried.values())
    assert domain.missing_required(v2, types, carried) == ["INF-08", "KOM-09", "SAM-08"]


def _write(tmp_path: Path, name: str, content: dict) -> None:
    (tmp_path / name).write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")


def test_a_mapping_to_a_missing_indicator_is_refused(tmp_path: Path) -> None:
    v1 = json.loads((DIRECTORY / "v1.json").read_text(encoding="utf-8"))
    v2 = json.loads((DIRECTORY / "v2.json").read_text(encoding="utf-8"))
    v2["carryForward"]["INF-01"] = "INF-99"
    _write(tmp_path, "v1.json", v1)
    _write(tmp_path, "v2.json", v2)
    with pytest.raises(FrameworkError, match="INF-99"):
        load_all(tmp_path)


def test_an_indicator_without_five_levels_is_refused(tmp_path: Path) -> None:
    v1 = json.loads((DIRECTORY / "v1.json").read_text(encoding="utf-8"))
    v1["indicators"][0]["levels"] = v1["indicators"][0]["levels"][:4]
    _write(tmp_path, "v1.json", v1)
    with pytest.raises(FrameworkError, match="levels must be exactly 1-5"):
        load_all(tmp_path)


def test_repeated_indicator_ids_are_refused(tmp_path: Path) -> None:
    v1 = json.loads((DIRECTORY / "v1.json").read_text(encoding="utf-8"))
    v1["indicators"].append(v1["indicators"][0])
    _write(tmp_path, "v1.json", v1)
    with pytest.raises(FrameworkError, match="repeat"):
        load_all(tmp_path)
