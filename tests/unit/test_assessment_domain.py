"""Pure rules of the assessment service: answers, levels, guidance, pulse suppression, deadlines, new campaigns."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.assessment import domain
from services.assessment.domain import Answer, AnswerInput, CampaignRejected, KnownSchool, PulseTally, Rejected, check_new_campaign
from services.assessment.framework import published

V1 = published()[1]
GR = ("FKLASS", "GR", "FTH")


def inp(indicator: str, level: int | None = 3, *, not_relevant: bool = False, evidence: tuple[str, ...] = (), index: int = 0) -> AnswerInput:
    return AnswerInput(indicator, level, not_relevant, None, evidence, index)


@pytest.mark.parametrize(
    ("answers", "types", "field", "words"),
    [
        ([inp("XYZ-01")], GR, "answers[0].indicatorId", "unknown indicator"),
        ([inp("INF-06")], GR, "answers[0].indicatorId", "does not apply"),  # preschool indicator at a compulsory school
        ([inp("INF-04")], ("FS",), "answers[0].indicatorId", "does not apply"),  # BYOD at a preschool
        ([inp("INF-01"), inp("INF-01", index=1)], GR, "answers[1].indicatorId", "twice"),
        ([inp("INF-01", None, not_relevant=True)], GR, "answers[0].notRelevant", "cannot be marked not relevant"),
        ([inp("INF-04", 2, not_relevant=True)], GR, "answers[0].level", "not both"),
        ([inp("INF-01", 6)], GR, "answers[0].level", "outside the scale"),
        ([inp("INF-01", evidence=("ftp://x/y",))], GR, "answers[0].evidence[0]", "not an http"),
    ],
)
def test_bad_answers_name_the_field(answers: list[AnswerInput], types: tuple[str, ...], field: str, words: str) -> None:
    with pytest.raises(Rejected) as caught:
        domain.check_answers(V1, types, answers)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_good_answers_pass_and_not_relevant_is_allowed_where_the_framework_says() -> None:
    checked = domain.check_answers(V1, GR, [inp("INF-01", 4), inp("INF-04", None, not_relevant=True, index=1)])
    assert checked["INF-01"].level == 4 and checked["INF-04"].not_relevant


def test_heading_level_is_the_mean_rounded_down() -> None:
    answers = {"INF-01": Answer(2), "INF-02": Answer(3), "INF-03": Answer(3), "INF-04": Answer(not_relevant=True)}
    infra = domain.heading_results(V1, GR, answers)[0]
    assert infra.heading == "infrastruktur"
    assert (infra.level, infra.mean, infra.answered, infra.not_relevant) == (2, 2.67, 3, 1)


def test_missing_required_ignores_optional_and_counts_not_relevant_as_answered() -> None:
    required = [i.id for i in V1.indicators_for(GR) if i.required]
    answers = {k: Answer(3) for k in required if k != "INF-04"} | {"INF-04": Answer(not_relevant=True)}
    assert domain.missing_required(V1, GR, answers) == []
    del answers["KOM-01"]
    assert domain.missing_required(V1, GR, answers) == ["KOM-01"]


def test_guidance_puts_prerequisites_first_then_the_lowest_levels() -> None:
    # INF-01 and INF-02 are priority 1, INF-05 priority 2: a low INF-05 still comes after them
    answers = {"INF-01": Answer(3), "INF-02": Answer(4), "INF-05": Answer(1), "INF-07": Answer(5)}
    infra = domain.guidance(V1, GR, answers, "en")[0]
    order = [s["indicatorId"] for s in infra["suggestedActions"]]
    assert order == ["INF-01", "INF-02", "INF-05"]  # INF-07 is at 5: nothing to do
    assert infra["suggestedActions"][0]["action"] == V1.by_id["INF-01"].level(3).nextStep.en
    assert infra["level"] == 3 and infra["nextLevel"] == 4 and infra["label"] == "Partly established"
    looks_like = {x["indicatorId"]: x["description"] for x in infra["nextLevelLooksLike"]}
    assert looks_like == {"INF-01": V1.by_id["INF-01"].level(4).en, "INF-05": V1.by_id["INF-05"].level(4).en}


def test_guidance_is_in_the_chosen_language() -> None:
    sv = domain.guidance(V1, GR, {"INF-01": Answer(1)}, "sv")[0]
    assert sv["heading"] == {"code": "infrastruktur", "label": "Infrastruktur för ökad tillgänglighet"}
    assert sv["suggestedActions"][0]["action"] == V1.by_id["INF-01"].level(1).nextStep.sv


def tally(group: str, levels: list[int], heading: str = "infrastruktur") -> PulseTally:
    t = PulseTally(respondents={group: len(levels)})
    for lv in set(levels):
        t.add(group, heading, lv, levels.count(lv))
    return t


def test_pulse_groups_under_five_are_suppressed() -> None:
    principal = domain.heading_results(V1, GR, {"INF-01": Answer(4), "INF-02": Answer(4)})
    four = domain.pulse_summary(V1, tally("staff", [1, 2, 2, 1]), principal, ("staff",))
    staff = four["groups"][0]
    assert staff["suppressed"] and staff["respondents"] is None
    assert all(h["mean"] is None and h["respondents"] is None for h in staff["headings"])
    five = domain.pulse_summary(V1, tally("staff", [1, 2, 2, 1, 2]), principal, ("staff",))["groups"][0]
    infra = five["headings"][0]
    assert (infra["respondents"], infra["mean"], infra["principalMean"], infra["difference"], infra["differs"]) == (5, 1.6, 4.0, -2.4, True)
    # a heading nobody answered stays hidden
    assert five["headings"][1]["suppressed"]


def test_pupils_answer_only_in_upper_secondary() -> None:
    assert domain.pulse_groups(GR) == ("staff",)
    assert domain.pulse_groups(("GY",)) == ("staff", "pupils")
    with pytest.raises(Rejected) as caught:
        domain.check_pulse(V1, "pupils", ("staff",), {"infrastruktur": 3})
    assert caught.value.field == "group"
    with pytest.raises(Rejected) as caught:
        domain.check_pulse(V1, "staff", ("staff",), {"skolgården": 3})
    assert caught.value.field == "answers.skolgården"


def test_submission_carries_pulse_means_only_for_groups_of_five() -> None:
    answers = {i.id: Answer(3) for i in V1.indicators_for(GR)}
    _, headings, pulse = domain.submission_results(V1, GR, answers, tally("staff", [2, 2, 2, 2]), ("staff",))
    assert pulse[0].respondents == 4 and all(h.mean is None for h in pulse[0].headings)
    assert {h.heading: h.level for h in headings}["infrastruktur"] == 3
    _, _, pulse = domain.submission_results(V1, GR, answers, tally("staff", [2, 2, 2, 2, 3]), ("staff",))
    assert pulse[0].headings[0].mean == 2.2


def test_a_deadline_holds_until_midnight_in_stockholm() -> None:
    deadline = date(2027, 3, 31)
    assert not domain.deadline_passed(deadline, datetime(2027, 3, 31, 21, 59, tzinfo=UTC))  # 23:59 in Stockholm (CEST)
    assert domain.deadline_passed(deadline, datetime(2027, 3, 31, 22, 1, tzinfo=UTC))  # 00:01 on 1 April


def test_carry_forward_within_one_version_keeps_every_answer_and_drops_empty_ones() -> None:
    carried = domain.carry_forward([V1], {"INF-01": Answer(2, comment="c"), "INF-02": Answer()}, source="a1")
    assert set(carried) == {"INF-01"} and carried["INF-01"].comment == "c" and carried["INF-01"].carried_from == "a1"


def test_versions_that_do_not_connect_carry_nothing() -> None:
    assert domain.version_chain(published(), 2, 1) is None


# --- new campaigns -------------------------------------------------------------------------------

def test_campaign_rules() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    known = {a: KnownSchool(a, None), b: KnownSchool(b, None)}
    today = date(2026, 9, 1)
    assert check_new_campaign(year=2026, deadline=date(2026, 12, 1), today=today, requested=[a, b, a], known=known) == [a, b]
    with pytest.raises(CampaignRejected, match="already passed"):
        check_new_campaign(year=2026, deadline=date(2026, 8, 1), today=today, requested=[a], known=known)
    with pytest.raises(CampaignRejected, match="year 2030"):
        check_new_campaign(year=2030, deadline=date(2026, 12, 1), today=today, requested=[a], known=known)
    unknown = uuid.uuid4()
    with pytest.raises(CampaignRejected, match=str(unknown)):
        check_new_campaign(year=2026, deadline=date(2026, 12, 1), today=today, requested=[a, unknown], known=known)
