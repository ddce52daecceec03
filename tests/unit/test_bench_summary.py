"""bench/summary.py: issue 24's verdicts, decided from the figures only, and how they reach the summary's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import summary


def test_ingest_needs_forty_percent_of_the_broker_and_twenty_times_naive() -> None:
    assert summary.ingest_met(0.40, 20.0) == {"share": True, "timesNaive": True}
    assert summary.ingest_met(0.39, 19.9) == {"share": False, "timesNaive": False}
    assert summary.ingest_met(None, None) == {"share": None, "timesNaive": None}


@pytest.mark.parametrize(("p99", "floor", "errors", "met"), [
    (20.0, 15.0, 0.0, True),  # 1.33× the floor, under 25 ms
    (22.5, 15.0, 0.0, True),  # exactly 1.5×
    (24.0, 10.0, 0.0, False),  # under 25 ms but 2.4× the floor
    (26.0, 20.0, 0.0, False),  # within 1.5× but not under 25 ms
    (20.0, 15.0, 0.001, False),  # errors
    (20.0, None, 0.0, None),  # no floor measured: no verdict
])
def test_a_read_against_its_floor(p99: float, floor: float | None, errors: float, met: bool | None) -> None:
    assert summary.floor_met(p99, floor, errors) is met


def test_floor_figures_pair_the_runs() -> None:
    skolit = [{"p50": 8.0, "p99": 20.0, "errorRate": 0.0}, {"p50": 9.0, "p99": 30.0, "errorRate": 0.0}]
    floor = [{"p50": 4.0, "p99": 10.0, "errorRate": 0.0, "ratePerSecond": 166.0}, {"p50": 5.0, "p99": 15.0, "errorRate": 0.0, "ratePerSecond": 160.0}]
    f = summary.floor_figures(skolit, floor)
    assert f["timesFloor"] == {"median": 2.0, "min": 2.0, "max": 2.0, "n": 2}
    assert f["floorP99"]["median"] == 12.5
    assert f["runsMeetingFloor"] == 0 and f["floorRuns"] == 2 and f["floorMet"] is False
    met = summary.floor_figures([{"p50": 5.0, "p99": 12.0, "errorRate": 0.0}], [floor[0]])
    assert met["floorMet"] is True and met["runsMeetingFloor"] == 1


def _run(seconds: float, mps: float, post: float = 0.4, peak: float = 150.0, storm: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"allAtSinksSeconds": seconds, "messagesPerSecond": mps, "postSeconds": post, "serviceMemoryAfter": {"peakRssMiB": peak}, "storm": storm}


def _storm(p99: float, errors: int = 0) -> dict[str, Any]:
    return {"rate": 1000.0, "seconds": 60.0, "p50": p99 / 4, "p99": p99, "requests": 60000, "errors": errors, "achievedRate": 1000.0,
            "clientCpuSeconds": 12.0, "clientCpuShare": 0.2}


def test_city_broadcast_figures_against_the_sinks_and_with_the_storm() -> None:
    plain = [_run(100.0, 3000.0), _run(110.0, 2700.0)]
    storms = [_run(125.0, 2400.0, peak=290.0, storm=_storm(40.0)), _run(127.0, 2350.0, storm=_storm(45.0))]
    baselines = [{"total": 300000, "callbacks": True, "allAtSinksSeconds": 50.0, "messagesPerSecond": 6000.0, "clientCpuSeconds": 20.0}]
    f = summary.city_broadcast_figures(plain, storms, baselines)
    assert f["ratioToBaseline"] == pytest.approx(2850 / 6000, abs=0.01)
    assert f["storm"]["slowdown"] == pytest.approx(126 / 105 - 1, abs=0.001)
    assert f["storm"]["runsUnderP99"] == 2 and f["storm"]["errors"] == 0
    assert f["peakRssMiB"] == 290.0  # the storm's run counts for the memory too
    assert summary.storm_verdicts(f["storm"]) == {"reads": True, "slowdown": True}


def test_storm_verdicts() -> None:
    st = {"runs": 2, "runsUnderP99": 2, "errors": 0, "slowdown": 0.25}
    assert summary.storm_verdicts(st) == {"reads": True, "slowdown": False}
    assert summary.storm_verdicts({**st, "errors": 1, "slowdown": 0.2}) == {"reads": False, "slowdown": True}
    assert summary.storm_verdicts({**st, "runsUnderP99": 1}) ["reads"] is False
    assert summary.storm_verdicts(None) == {"reads": None, "slowdown": None}


def test_broadcast_verdicts() -> None:
    s = {"runs": 3, "runsMeetingTarget": 3, "postSeconds": {"median": 0.5, "min": 0.4, "max": 0.9}, "ratioToBaseline": 0.5, "peakRssMiB": 280.0}
    assert summary.broadcast_verdicts(s) == {"delivered": True, "post": True, "baseline": True, "memory": True}
    bad = {**s, "runsMeetingTarget": 2, "postSeconds": {"median": 0.5, "min": 0.4, "max": 1.2}, "ratioToBaseline": 0.49, "peakRssMiB": 287.0}
    assert summary.broadcast_verdicts(bad) == {"delivered": False, "post": False, "baseline": False, "memory": False}


def _reads_part() -> dict[str, Any]:
    def read(p99: float, floor_p99: float) -> dict[str, Any]:
        return {"p50": summary.spread([p99 / 3]), "p99": summary.spread([p99]), "errorRate": 0.0, "ratePerSecond": summary.spread([160.0]),
                "baselineP50": 3.0, "baselineP99": 9.0, "runsMeetingTarget": int(p99 < 25), "runs": 1,
                **summary.floor_figures([{"p50": p99 / 3, "p99": p99, "errorRate": 0.0}], [{"p50": floor_p99 / 3, "p99": floor_p99, "errorRate": 0.0}])}

    return {"arguments": {"rate": 500, "seconds": 60, "rampSeconds": 5, "users": 90}, "achievedRate": summary.spread([480.0]),
            "runs": [{"run": 1, "loadAverageAtStart": [1.5, 1.0, 1.0]}],
            "perRead": {"school report": read(20.0, 16.0), "inbox": read(40.0, 10.0)}}


def _city_part() -> dict[str, Any]:
    plain = [_run(100.0, 3000.0)]
    storms = [_run(130.0, 2300.0, storm=_storm(70.0, errors=3))]
    baselines = [{"total": 300000, "callbacks": True, "allAtSinksSeconds": 40.0, "messagesPerSecond": 7500.0, "clientCpuSeconds": 20.0}]
    s = {"allAtSinksSeconds": {"median": 100.0, "min": 100.0, "max": 100.0}, "messagesPerSecond": {"median": 3000.0}, "runs": 1,
         "runsMeetingTarget": 1, "postSeconds": {"median": 0.4, "min": 0.4, "max": 0.4}, "servicePeakRssMiB": 150.0, "expectedTotal": 300000,
         **summary.city_broadcast_figures(plain, storms, baselines)}
    return {"arguments": {"guardians": 200000, "critical": True}, "summary": s,
            "runs": [{"run": 1, "loadAverageAtStart": [0.8, 1, 1], "storm": False}, {"run": 2, "loadAverageAtStart": [2.0, 1, 1], "storm": True}]}


def test_the_table_shows_issue_24s_targets_met_or_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_SUMMARY_DIR", str(tmp_path))
    data = {"parts": {"httpReads": _reads_part(), "cityBroadcast": _city_part()}}
    rows = {(r["area"], r["figure"].split(" ")[0] + " " + r["figure"].split(" ")[1]): r for r in summary.rows(data)}
    report, inbox = rows[("HTTP reads", "school report")], rows[("HTTP reads", "inbox p99")]
    assert report["met"] is True and report["ratio"] == "1.25× floor" and report["baseline"].startswith("floor p99 16.0 ms")
    assert inbox["met"] is False and inbox["ratio"] == "4.00× floor"
    city = [r for r in summary.rows(data) if r["area"] == "Whole-city message"]
    assert [r["met"] for r in city] == [False, True, True]  # 40% of the sinks' rate < 50%; POST 0.4 s; 150 MiB
    assert city[0]["ratio"] == "40% of the sinks' rate" and city[0]["baseline"] == "sinks alone 40.0 s (7 500 msg/s)"
    storm = [r for r in summary.rows(data) if r["area"] == "Read storm"]
    assert [r["met"] for r in storm] == [False, False]  # p99 70 ms with errors; +30% slower
    assert storm[1]["ratio"] == "+30%" and storm[0]["load"] == "2.00" and city[0]["load"] == "0.80"
    assert report["target"] == "p99 ≤ 1.5× floor and < 25 ms"
    text = summary.render({"parts": {"cityBroadcast": _city_part()}})
    assert "| Whole-city message | 200 000 guardians, critical broadcast" in text
    assert "## Whole-city message and the read storm" in text and "(+30%)" in text and "40% of that" in text


def test_saving_writes_both_files_from_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_SUMMARY_DIR", str(tmp_path))
    summary.save({"parts": {"cityBroadcast": _city_part()}})
    saved = summary.load()
    assert [r["area"] for r in saved["rows"]][:3] == ["Whole-city message"] * 3
    assert "Read storm" in (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
