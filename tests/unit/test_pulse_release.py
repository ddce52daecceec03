"""The pulse's release rule (docs/decisions/0016): published figures move only in steps of at least five new
answers per group and per heading, so the differencing attack (6·new − 5·old) never isolates one answer."""

from __future__ import annotations

import random
from collections.abc import Mapping

from services.assessment import domain
from services.assessment.domain import PULSE_MIN_GROUP, PULSE_RELEASE_STEP, Answer, PulseTally
from services.assessment.framework import published

V1 = published()[1]
GR = ("GR",)
PRINCIPAL = domain.heading_results(V1, GR, {"INF-01": Answer(4)})


class Pulse:
    """The live counts and the released ones, as record_pulse_answer keeps them (in memory)."""

    def __init__(self) -> None:
        self.live = PulseTally()
        self.released = PulseTally()

    def answer(self, group: str, answers: Mapping[str, int]) -> None:
        self.live.respondents[group] = self.live.respondents.get(group, 0) + 1
        for heading, level in answers.items():
            counts = self.live.levels.setdefault((group, heading), {})
            counts[level] = counts.get(level, 0) + 1
        self.released = domain.released_after(self.live, self.released, group)

    def published(self, heading: str = "infrastruktur", group: str = "staff") -> tuple[int | None, float | None]:
        summary = domain.pulse_summary(V1, self.released, PRINCIPAL, (group,))
        row = next(h for h in summary["groups"][0]["headings"] if h["heading"] == heading)
        return row["respondents"], row["mean"]


def test_the_step_is_at_least_the_minimum_group_size() -> None:
    assert PULSE_RELEASE_STEP >= PULSE_MIN_GROUP >= 5


def test_nothing_is_published_before_five_and_everything_at_five() -> None:
    p = Pulse()
    for level in (1, 2, 2, 1):
        p.answer("staff", {"infrastruktur": level})
        assert p.published() == (None, None)
    p.answer("staff", {"infrastruktur": 2})
    assert p.published() == (5, 1.6)
    assert p.released.respondents == {"staff": 5}


def test_a_sixth_answer_changes_nothing_published_and_the_attack_recovers_nothing() -> None:
    p = Pulse()
    for level in (1, 2, 2, 1, 2):
        p.answer("staff", {"infrastruktur": level})
    n_old, old = p.published()
    p.answer("staff", {"infrastruktur": 5})
    n_new, new = p.published()
    assert (n_new, new) == (n_old, old) == (5, 1.6)
    assert old is not None and new is not None
    assert round(6 * new - 5 * old, 2) != 5  # what the attacker computes is the old mean, not the answer


def test_the_figures_move_again_after_five_new_answers_and_then_only_by_a_group_of_five() -> None:
    p = Pulse()
    for n, level in enumerate([1, 2, 2, 1, 2, 5, 4, 4, 3], start=1):
        p.answer("staff", {"infrastruktur": level})
        assert p.published()[0] == (5 if n >= 5 else None)
    p.answer("staff", {"infrastruktur": 3})  # the tenth: five since the release at five
    n, mean = p.published()
    assert (n, mean) == (10, 2.7)
    # the most the difference tells is the mean of the five newest answers
    assert mean is not None and round((10 * mean - 5 * 1.6) / 5, 2) == round(sum([5, 4, 4, 3, 3]) / 5, 2)


def test_a_heading_left_out_cannot_be_isolated_by_a_group_step() -> None:
    """Five answer both headings; the next five answer infrastructure only, and one of them also follow-up:
    the group's step of five is reached, but follow-up has one new answer, so it stays as released."""
    p = Pulse()
    for _ in range(5):
        p.answer("staff", {"infrastruktur": 2, "uppfoljning": 2})
    assert p.published("uppfoljning") == (5, 2.0)
    p.answer("staff", {"infrastruktur": 3, "uppfoljning": 5})
    for _ in range(4):
        p.answer("staff", {"infrastruktur": 3})
    assert p.published("infrastruktur") == (10, 2.5) and p.released.respondents["staff"] == 10
    assert p.published("uppfoljning") == (5, 2.0)  # 6·x − 5·2.0 would be the one answer: not released
    assert domain.due_releases(p.live, p.released, "staff") == (False, [])


def test_the_groups_are_released_independently() -> None:
    p = Pulse()
    for _ in range(5):
        p.answer("staff", {"infrastruktur": 4})
    for _ in range(4):
        p.answer("pupils", {"infrastruktur": 1})
    assert p.released.respondents == {"staff": 5}
    assert ("pupils", "infrastruktur") not in p.released.levels
    p.answer("pupils", {"infrastruktur": 1})
    assert p.released.respondents == {"staff": 5, "pupils": 5} and p.released.levels[("pupils", "infrastruktur")] == {1: 5}


def test_every_pair_of_releases_differs_by_at_least_five_answers_per_heading() -> None:
    """Random answer streams, headings left out at random: between any two successive published states a
    heading's count grows by zero or by at least five, and the group's count likewise."""
    rng = random.Random(20)
    headings = [h.id for h in V1.headings]
    for _ in range(50):
        p = Pulse()
        for _ in range(rng.randint(1, 40)):
            before = p.released
            p.answer("staff", {h: rng.randint(1, 5) for h in headings if rng.random() < 0.6} or {headings[0]: 3})
            grown = p.released.respondents.get("staff", 0) - before.respondents.get("staff", 0)
            assert grown == 0 or (grown >= PULSE_RELEASE_STEP and p.released.respondents["staff"] >= PULSE_MIN_GROUP)
            for h in headings:
                now = sum(p.released.levels.get(("staff", h), {}).values())
                was = sum(before.levels.get(("staff", h), {}).values())
                assert now == was or (now - was >= PULSE_RELEASE_STEP and now >= PULSE_MIN_GROUP)
