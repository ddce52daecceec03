"""Pure rules of the assessment service (no I/O): campaigns, answers, levels, guidance, pulse.

Answers are validated as a whole before anything is written, so a request with one bad answer
saves none. Concurrent saves of one draft follow "last write per indicator wins": each answer is
its own row, so two people saving different indicators never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from statistics import mean
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from services.assessment.framework import Framework, Language
from shared.clock import city_today
from shared.events.assessment import HeadingLevel, IndicatorLevel, PulseGroupResult, PulseHeading

# SELFIE and Skolverket practice: no figure for a group smaller than this leaves the service.
PULSE_MIN_GROUP = 5
# The published pulse figures move only in steps of at least this many new answers (decision 0016), so
# comparing two releases never isolates one respondent's answer.
PULSE_RELEASE_STEP = 5
# Invitations one request may issue (a school's staff, or its pupils, fit in one request).
PULSE_MAX_INVITATIONS = 1000
# A heading where staff see the school this much differently from the principal is flagged.
PULSE_DIFFERENCE = 1.0
UPPER_SECONDARY = frozenset({"GY", "GYS"})
PULSE_GROUPS = ("staff", "pupils")


class Rejected(ValueError):
    """A request the rules refuse; ``field`` names what is wrong (for the problem document)."""

    def __init__(self, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


class CampaignRejected(Rejected):
    pass


@dataclass(frozen=True)
class KnownSchool:
    id: UUID
    district: UUID | None
    school_types: tuple[str, ...] = ()
    name: str | None = None
    code: str | None = None  # Skolverket's school unit code

    def ref(self) -> dict[str, Any]:
        """The school unit as a ``SchoolUnitRef``."""
        return {"id": self.id, "name": self.name, "schoolUnitCode": self.code}


# --- campaigns -----------------------------------------------------------------------------------

def check_new_campaign(*, year: int, deadline: date, today: date, requested: list[UUID], known: dict[UUID, KnownSchool]) -> list[UUID]:
    """The school units of a new round, in request order without repeats; raises CampaignRejected."""
    if deadline < today:
        raise CampaignRejected(f"the deadline {deadline.isoformat()} has already passed", "deadline")
    if not (today.year - 1 <= year <= today.year + 1):
        raise CampaignRejected(f"year {year} is not the current, previous or next year", "year")
    unique = list(dict.fromkeys(requested))
    unknown = [str(s) for s in unique if s not in known]
    if unknown:
        raise CampaignRejected("unknown school unit(s): " + ", ".join(unknown), "schoolUnitIds")
    return unique


def deadline_passed(deadline: date, now: datetime) -> bool:
    return city_today(now) > deadline


# --- answers -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    level: int | None = None
    not_relevant: bool = False
    comment: str | None = None
    evidence: tuple[str, ...] = ()
    carried_from: str | None = None

    @property
    def answered(self) -> bool:
        return self.level is not None or self.not_relevant


@dataclass(frozen=True)
class AnswerInput:
    """One answer as a client sends it; ``index`` is its place in the request, for error messages."""

    indicator_id: str
    level: int | None
    not_relevant: bool
    comment: str | None
    evidence: tuple[str, ...]
    index: int


def check_answers(framework: Framework, school_types: Iterable[str], inputs: list[AnswerInput]) -> dict[str, Answer]:
    """Every answer checked against the framework and the school; the first problem raises Rejected."""
    types = set(school_types)
    seen: set[str] = set()
    checked: dict[str, Answer] = {}
    for a in inputs:
        where = f"answers[{a.index}]"
        indicator = framework.by_id.get(a.indicator_id)
        if indicator is None:
            raise Rejected(f"unknown indicator {a.indicator_id!r} in framework version {framework.version}", f"{where}.indicatorId")
        if not indicator.applies_to(types):
            raise Rejected(
                f"indicator {a.indicator_id} does not apply to this school unit's school types ({', '.join(sorted(types)) or 'none'}); "
                f"it applies to {', '.join(t.value for t in indicator.schoolTypes)}",
                f"{where}.indicatorId",
            )
        if a.indicator_id in seen:
            raise Rejected(f"indicator {a.indicator_id} is answered twice in one request", f"{where}.indicatorId")
        seen.add(a.indicator_id)
        if a.level is not None and not 1 <= a.level <= 5:
            raise Rejected(f"level {a.level} is outside the scale 1-5", f"{where}.level")
        if a.not_relevant and not indicator.allowNotRelevant:
            raise Rejected(f"indicator {a.indicator_id} cannot be marked not relevant", f"{where}.notRelevant")
        if a.not_relevant and a.level is not None:
            raise Rejected("an answer is either a level or not relevant, not both", f"{where}.level")
        for j, link in enumerate(a.evidence):
            parsed = urlparse(link)
            if parsed.scheme not in ("https", "http") or not parsed.netloc:
                raise Rejected(f"evidence link {link!r} is not an http(s) URL", f"{where}.evidence[{j}]")
        checked[a.indicator_id] = Answer(level=a.level, not_relevant=a.not_relevant, comment=a.comment or None, evidence=a.evidence)
    return checked


def missing_required(framework: Framework, school_types: Iterable[str], answers: Mapping[str, Answer]) -> list[str]:
    return [i.id for i in framework.indicators_for(school_types) if i.required and not (i.id in answers and answers[i.id].answered)]


def carry_forward(chain: list[Framework], answers: Mapping[str, Answer], *, source: str) -> dict[str, Answer]:
    """Answers given under ``chain[0]`` carried to ``chain[-1]`` through each version's explicit mapping.

    ``chain`` is consecutive versions (one element: same version, every answer carries). An indicator
    a newer version does not map is new or changed in meaning: the school answers it afresh.
    """
    current = {k: v for k, v in answers.items() if v.answered}
    for newer in chain[1:]:
        current = {new: current[old] for new, old in newer.carryForward.items() if old in current}
    target = chain[-1]
    return {k: Answer(v.level, v.not_relevant, v.comment, v.evidence, carried_from=source) for k, v in current.items() if k in target.by_id}


def version_chain(frameworks: Mapping[int, Framework], start: int, end: int) -> list[Framework] | None:
    """Versions from ``start`` to ``end`` following ``previousVersion`` links, or None if they do not connect."""
    chain = [frameworks[end]]
    while chain[-1].version != start:
        previous = chain[-1].previousVersion
        if previous is None or previous not in frameworks:
            return None
        chain.append(frameworks[previous])
    return list(reversed(chain))


# --- levels and guidance -------------------------------------------------------------------------

@dataclass(frozen=True)
class HeadingResult:
    heading: str
    level: int | None
    mean: float | None
    answered: int
    not_relevant: int
    indicators: int


def heading_results(framework: Framework, school_types: Iterable[str], answers: Mapping[str, Answer]) -> list[HeadingResult]:
    """Per heading: the mean of the levels given, and the level reached (the mean rounded down:
    a heading is at level 3 when its indicators are at 3 on average, never higher than earned)."""
    applicable = framework.indicators_for(school_types)
    results = []
    for h in sorted(framework.headings, key=lambda h: h.order):
        own = [i for i in applicable if i.heading == h.id]
        levels = [lv for i in own if i.id in answers and (lv := answers[i.id].level) is not None]
        avg = round(mean(levels), 2) if levels else None
        results.append(HeadingResult(
            heading=h.id,
            level=int(avg) if avg is not None else None,
            mean=avg,
            answered=len(levels),
            not_relevant=sum(1 for i in own if i.id in answers and answers[i.id].not_relevant),
            indicators=len(own),
        ))
    return results


def guidance(framework: Framework, school_types: Iterable[str], answers: Mapping[str, Answer], lang: Language) -> list[dict[str, Any]]:
    """Per heading: where the school is, what the next level looks like, and what to do, in order.

    Recommended order: prerequisites first (the framework's priority), then the indicators lowest
    on the scale, then the framework's own order; indicators at level 5 need no step.
    """
    applicable = framework.indicators_for(school_types)
    out = []
    for result in heading_results(framework, school_types, answers):
        h = framework.heading(result.heading)
        rated = [(i, lv) for i in applicable if i.heading == h.id and i.id in answers and (lv := answers[i.id].level) is not None]
        steps = sorted(((i, lv) for i, lv in rated if lv < 5), key=lambda p: (p[0].priority, p[1], p[0].order))
        next_level = min(result.level + 1, 5) if result.level is not None else None
        out.append({
            "heading": {"code": h.id, "label": h.title(lang)},
            "level": result.level,
            "mean": result.mean,
            "label": _scale_label(framework, result.level, lang),
            "nextLevel": next_level,
            "nextLevelLabel": _scale_label(framework, next_level, lang) if result.level != 5 else None,
            "nextLevelLooksLike": [
                {"indicatorId": i.id, "title": i.title(lang), "description": i.level(next_level).text(lang)}
                for i, lv in rated if next_level is not None and lv < next_level
            ],
            "suggestedActions": [
                {"order": n, "indicatorId": i.id, "title": i.title(lang), "currentLevel": lv, "action": i.level(lv).nextStep(lang), "priority": i.priority}
                for n, (i, lv) in enumerate(steps, start=1)
            ],
        })
    return out


def _scale_label(framework: Framework, level: int | None, lang: Language) -> str | None:
    return framework.scale.levels[level - 1].label(lang) if level is not None else None


def indicator_changes(framework: Framework, before: Mapping[str, Answer], after: Mapping[str, Answer]) -> list[dict[str, Any]]:
    """Per indicator of ``framework``: the level before and now (``before`` already carried to this version)."""
    changes = []
    for i in framework.indicators:
        if i.id not in after and i.id not in before:
            continue
        old = before[i.id].level if i.id in before else None
        new = after[i.id].level if i.id in after else None
        changes.append({"indicatorId": i.id, "heading": i.heading, "previous": old, "current": new,
                        "change": new - old if old is not None and new is not None else None})
    return changes


# --- the staff and pupil pulse -------------------------------------------------------------------

def pulse_groups(school_types: Iterable[str]) -> tuple[str, ...]:
    """Staff everywhere; pupils only in upper secondary, where they are old enough to answer on their own."""
    return PULSE_GROUPS if not UPPER_SECONDARY.isdisjoint(school_types) else ("staff",)


def check_pulse(framework: Framework, group: str, allowed_groups: tuple[str, ...], answers: Mapping[str, int]) -> dict[str, int]:
    if group not in allowed_groups:
        raise Rejected(f"group {group!r} cannot answer at this school unit; allowed: {', '.join(allowed_groups)}", "group")
    if not answers:
        raise Rejected("answer at least one heading", "answers")
    headings = {h.id for h in framework.headings}
    for heading, level in answers.items():
        if heading not in headings:
            raise Rejected(f"unknown heading {heading!r}", f"answers.{heading}")
        if not 1 <= level <= 5:
            raise Rejected(f"level {level} is outside the scale 1-5", f"answers.{heading}")
    return dict(answers)


@dataclass
class PulseTally:
    """Counts only: how many respondents of a group gave each level to each heading."""

    respondents: dict[str, int] = field(default_factory=dict)  # group → respondents
    levels: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)  # (group, heading) → level → count

    def add(self, group: str, heading: str, level: int, count: int) -> None:
        self.levels.setdefault((group, heading), {})[level] = count


def due_releases(live: PulseTally, released: PulseTally, group: str) -> tuple[bool, list[str]]:
    """The release rule (decision 0016): whether the group's respondent count, and which of its headings'
    figures, are due to be published again now. A figure is released when the live count has reached
    PULSE_MIN_GROUP and at least PULSE_RELEASE_STEP answers arrived since its last release; otherwise the
    published figure stays as it was. Per heading, because a heading can be left out ("do not know"): a
    group step alone would let one respondent be the only new answer to a heading."""
    live_total = live.respondents.get(group, 0)
    group_due = live_total >= PULSE_MIN_GROUP and live_total - released.respondents.get(group, 0) >= PULSE_RELEASE_STEP
    headings = []
    for (g, heading), counts in sorted(live.levels.items()):
        if g != group:
            continue
        n = sum(counts.values())
        if n >= PULSE_MIN_GROUP and n - sum(released.levels.get((g, heading), {}).values()) >= PULSE_RELEASE_STEP:
            headings.append(heading)
    return group_due, headings


def released_after(live: PulseTally, released: PulseTally, group: str) -> PulseTally:
    """What is published after applying the release rule to ``group`` (the other groups as they were)."""
    group_due, headings = due_releases(live, released, group)
    out = PulseTally(dict(released.respondents), {k: dict(v) for k, v in released.levels.items()})
    if group_due:
        out.respondents[group] = live.respondents.get(group, 0)
    for heading in headings:
        out.levels[(group, heading)] = dict(live.levels[(group, heading)])
    return out


def pulse_summary(framework: Framework, tally: PulseTally, principal: list[HeadingResult], groups: tuple[str, ...]) -> dict[str, Any]:
    """Per heading and group: respondents and mean, suppressed below PULSE_MIN_GROUP respondents,
    and whether the group sees the heading differently from the principal. ``tally``: the released
    figures (``store.pulse_tally(..., released=True)``), never the live counts."""
    by_heading = {r.heading: r for r in principal}
    out_groups = []
    for group in groups:
        total = tally.respondents.get(group, 0)
        rows = []
        for h in sorted(framework.headings, key=lambda h: h.order):
            counts = tally.levels.get((group, h.id), {})
            n = sum(counts.values())
            suppressed = total < PULSE_MIN_GROUP or n < PULSE_MIN_GROUP
            avg = round(sum(lv * c for lv, c in counts.items()) / n, 2) if n and not suppressed else None
            own = by_heading[h.id].mean if h.id in by_heading else None
            difference = round(avg - own, 2) if avg is not None and own is not None else None
            rows.append({
                "heading": h.id,
                "respondents": None if suppressed else n,
                "mean": avg,
                "suppressed": suppressed,
                "principalMean": own,
                "difference": difference,
                "differs": difference is not None and abs(difference) >= PULSE_DIFFERENCE,
            })
        out_groups.append({"group": group, "respondents": total if total >= PULSE_MIN_GROUP else None,
                           "suppressed": total < PULSE_MIN_GROUP, "headings": rows})
    return {"minimumGroupSize": PULSE_MIN_GROUP, "releaseStep": PULSE_RELEASE_STEP, "groups": out_groups}


def pulse_counts(tally: PulseTally, groups: tuple[str, ...]) -> dict[str, int]:
    """Respondents per group, as the submitted event carries them (counts are not answers)."""
    return {g: tally.respondents.get(g, 0) for g in groups}


# --- what a submission tells the rest of the city ------------------------------------------------

def submission_results(framework: Framework, school_types: Iterable[str], answers: Mapping[str, Answer], tally: PulseTally,
                       groups: tuple[str, ...], results: list[HeadingResult] | None = None,
                       ) -> tuple[list[IndicatorLevel], list[HeadingLevel], list[PulseGroupResult]]:
    """The levels and pulse figures an AssessmentSubmitted carries; pulse means only for groups of
    PULSE_MIN_GROUP or more, so nothing that could identify a respondent leaves the service. ``tally``:
    the released figures, so a resubmission cannot be differenced against the first one either.
    ``results``: the heading results of these answers when the caller has them already."""
    types = list(school_types)
    indicators = [
        IndicatorLevel(indicatorId=i.id, heading=i.heading, level=answers[i.id].level if i.id in answers else None,
                       notRelevant=i.id in answers and answers[i.id].not_relevant,
                       carried=i.id in answers and answers[i.id].carried_from is not None)
        for i in framework.indicators_for(types)
    ]
    if results is None:
        results = heading_results(framework, types, answers)
    headings = [HeadingLevel(heading=r.heading, level=r.level, mean=r.mean, answered=r.answered, notRelevant=r.not_relevant, indicators=r.indicators)
                for r in results]
    summary = pulse_summary(framework, tally, results, groups)
    pulse = [
        PulseGroupResult(group=g["group"], respondents=tally.respondents.get(g["group"], 0),
                         headings=[PulseHeading(heading=h["heading"], mean=h["mean"]) for h in g["headings"]])
        for g in summary["groups"]
    ]
    return indicators, headings, pulse
