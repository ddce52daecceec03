"""The demo city's own figures for the follow-up: per school unit and year, Wi-Fi coverage, devices,
own devices allowed, teachers trained, pupils, teachers and staff, as the city's systems would send them
(SchoolFiguresReported). Deterministic, ids too, so a restart sends the same events again (a no-op in every consumer)."""

from __future__ import annotations

import random
from datetime import date

from shared.events.city import SchoolFigures, SchoolFiguresReported
from shared.events.envelope import Envelope, event_uuid, new_envelope

SEED = 2026
SOURCE = "city.facts"


def demo_figures(today: date | None = None, years: int = 3) -> list[Envelope]:
    from devkit.demo.city import SCHOOL_UNITS, demo_ids

    today = today or date.today()
    rng = random.Random(SEED)
    units = demo_ids(SEED)["school_units"]
    out = []
    for name, _, kind in SCHOOL_UNITS:
        pupils = {"FS": rng.randint(40, 110), "F6": rng.randint(250, 450), "F9": rng.randint(400, 750), "79": rng.randint(300, 600),
                  "GRS": rng.randint(20, 60), "GY": rng.randint(600, 1300), "GYS": rng.randint(30, 80), "VUX": rng.randint(300, 900)}[kind]
        staff = max(6, pupils // 12)
        teachers = max(4, staff * 7 // 10)
        base = rng.uniform(0.5, 0.9)
        for back in range(years - 1, -1, -1):
            year = today.year - back
            progress = (years - back) * 0.05
            figures = SchoolFigures(
                wifiCoverage=round(min(1.0, base + 0.1 + progress), 2),
                devicesPerPupil=round(min(1.2, base + progress + (0.2 if kind in ("GY", "79", "F9") else 0.0)), 2),
                devicesPerTeacher=round(min(1.1, base + 0.25 + progress), 2),
                byodAllowed=kind in ("GY", "VUX"),
                teachersTrainedShare=round(min(1.0, base - 0.2 + 2 * progress), 2),
                pupils=pupils, teachers=teachers, staff=staff,
            )
            event = SchoolFiguresReported(schoolUnitId=units[name], year=year, figures=figures)  # type: ignore[index]
            # the same id for the same figures: loading the demo again is a no-op in every consumer
            out.append(new_envelope(event, SOURCE, event_id=event_uuid("demo-figures", units[name], year, figures.model_dump_json())))  # type: ignore[index]
    return out
