"""Draw the Grafana dashboard (deploy/grafana/skolit-dashboard.json) from a real Prometheus, without Grafana:
each panel's queries go to /api/v1/query_range and become one matplotlib subplot, titled as the panel.

    .venv/bin/python deploy/grafana/render.py --prometheus http://127.0.0.1:9090 --minutes 30 --out docs/pictures/dashboard.png

docs/pictures/dashboard.png is made by the real-Prometheus integration test against the test stack:

    SKOLIT_RENDER_DASHBOARD=docs/pictures/dashboard.png .venv/bin/python -m pytest tests/integration/test_prometheus.py

Needs matplotlib: `.venv/bin/pip install -e '.[ops]'`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

DASHBOARD = Path(__file__).with_name("skolit-dashboard.json")
# Most lines a subplot's legend lists; a panel with more series still draws them all.
LEGEND_LINES = 8
# Grafana units -> the y-axis label matplotlib shows.
UNIT_LABELS = {"s": "seconds", "ops": "per second", "reqps": "requests/s", "short": "", "percentunit": "share"}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """The panels that query something, rows unfolded, in the dashboard's reading order."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            out += [p for p in panel.get("panels", []) if p.get("targets")]
        elif panel.get("targets"):
            out.append(panel)
    return sorted(out, key=lambda p: (p.get("gridPos", {}).get("y", 0), p.get("gridPos", {}).get("x", 0)))


def substitute(expr: str, *, rate_interval: str, service: str = ".*") -> str:
    """Grafana's variables as Grafana would fill them in for "All" services."""
    expr = re.sub(r"\$\{?__rate_interval\}?", rate_interval, expr)
    return re.sub(r"\$\{?service(?::[a-z]+)?\}?", service, expr)


def legend(fmt: str, labels: dict[str, str]) -> str:
    if not fmt:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__") or "value"
    return re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt).strip()


def query_range(prometheus: str, expr: str, start: float, end: float, step: float) -> list[tuple[dict[str, str], list[float], list[float]]]:
    r = httpx.get(f"{prometheus}/api/v1/query_range", params={"query": expr, "start": start, "end": end, "step": step}, timeout=30)
    body = r.json()
    if r.status_code != 200 or body.get("status") != "success":
        raise RuntimeError(f"query_range {expr!r}: {r.status_code} {body.get('error', body)}")
    series = []
    for s in body["data"]["result"]:
        times = [float(t) for t, _ in s["values"]]
        values = [float(v) for _, v in s["values"]]  # "NaN" and "+Inf" parse as floats; matplotlib leaves gaps
        series.append((s["metric"], times, values))
    return series


def render(prometheus: str, out: Path, *, start: float, end: float, step: float, rate_interval: str, columns: int = 3) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    chosen = panels(dashboard)
    rows = math.ceil(len(chosen) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.9 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, chosen, strict=False):  # the grid may have a spare cell
        drawn = 0
        for target in panel["targets"]:
            expr = substitute(target["expr"], rate_interval=rate_interval)
            for labels, times, values in query_range(prometheus, expr, start, end, step):
                when = [datetime.fromtimestamp(t, UTC) for t in times]
                ax.plot(when, values, linewidth=1.2, label=legend(target.get("legendFormat", ""), labels) if drawn < LEGEND_LINES else None)
                drawn += 1
        ax.set_title(panel["title"], fontsize=11, loc="left")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit", "")
        ax.set_ylabel(UNIT_LABELS.get(unit, unit), fontsize=8)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S", tz=UTC))
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.set_xlim(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        if drawn:
            ax.set_ylim(bottom=0)
            ax.legend(fontsize=6.5, loc="upper left", ncol=1 if drawn <= 4 else 2, framealpha=0.7)
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="grey")
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_visible(False)
    span = f"{datetime.fromtimestamp(start, UTC):%Y-%m-%d %H:%M:%S} – {datetime.fromtimestamp(end, UTC):%H:%M:%S} UTC"
    fig.suptitle(f"{dashboard['title']} dashboard, drawn from Prometheus ({span}; rate window {rate_interval})", fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    parser.add_argument("--out", type=Path, default=Path("docs/pictures/dashboard.png"))
    parser.add_argument("--minutes", type=float, default=30.0, help="how far back from now")
    parser.add_argument("--step", type=float, default=0.0, help="seconds between points (default: about 300 points)")
    parser.add_argument("--rate-interval", default="1m", help="what $__rate_interval becomes (Grafana uses four scrape intervals)")
    args = parser.parse_args(argv)
    end = time.time()
    start = end - args.minutes * 60
    step = args.step or max((end - start) / 300, 1.0)
    print(render(args.prometheus.rstrip("/"), args.out, start=start, end=end, step=step, rate_interval=args.rate_interval))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
