"""A real Prometheus (Debian's package, deploy/prometheus/install.sh) scrapes the four running services with the
repository's scrape configuration and evaluates the repository's alert rules.

With SKOLIT_RENDER_DASHBOARD=<path.png> the test also drives some traffic (SKOLIT_RENDER_SECONDS, default 150)
and draws the Grafana dashboard's panels from this Prometheus into that file (deploy/grafana/render.py). That
traffic includes a poison message, so run it alone, not in the full suite:

    SKOLIT_RENDER_DASHBOARD=docs/pictures/dashboard.png .venv/bin/python -m pytest tests/integration/test_prometheus.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.events.catalog import AppRequestDecided
from shared.events.city import PersonUpserted
from shared.events.envelope import WireMessage
from devkit.embedded import free_port
from devkit.process import ServiceProcess
from shared.db import provision
from shared.settings import CONNECTOR, SERVICES
from tests.support.city import District
from tests.support.kafka import eventually, send, wire
from tests.support.prometheus import ROOT, Prometheus, scrape_config
from tests.support.sealing import sealed
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration

DASHBOARD = ROOT / "deploy" / "grafana" / "skolit-dashboard.json"
RENDER_SCRIPT = ROOT / "deploy" / "grafana" / "render.py"
# Alerts that must not be pending or firing on the healthy test stack once Prometheus has data. (Others may be:
# earlier tests in the session dead-letter poison on purpose.)
MUST_BE_QUIET = ("SkolitServiceDown", "SkolitDpaExpiryNotProcessed")
#: what prometheus.yml scrapes: the four services and the city's connector
SCRAPED = (*SERVICES, CONNECTOR)


async def start_connector(stack: Stack, workdir: Path) -> ServiceProcess:
    """The connector as `make run` starts it without an SS 12000 API: imports only, but scraped like the services."""
    await provision(stack.admin_url, (CONNECTOR,))
    port = free_port()
    connector = ServiceProcess(CONNECTOR, port, stack.env_for(CONNECTOR) | {"SKOLIT_CONNECTOR_PORT": str(port)},
                               workdir / "connector.log", argv=[sys.executable, "-m", "connectors.ss12000"])
    connector.start()
    # ready: the database and the broker reached, and its outbox gauges set (the outbox series below)
    await asyncio.to_thread(connector.wait_until, lambda c: c.get("/readyz").status_code == 200, "ready", 60)
    return connector


def by_service(prom: Prometheus, expr: str) -> dict[str, float]:
    return prom.values_by(expr, "service")


async def test_prometheus_scrapes_every_service_evaluates_the_rules_and_sees_events_flow(stack: Stack, tmp_path: Path) -> None:
    connector = await start_connector(stack, tmp_path)
    started = time.monotonic()
    targets = {name: f"127.0.0.1:{svc.port}" for name, svc in stack.services.items()} | {CONNECTOR: f"127.0.0.1:{connector.port}"}
    prom = Prometheus(tmp_path / "prometheus", scrape_config(targets, interval="1s"))
    prom.start()
    try:
        # Every service and the connector is a target and answers its scrape.
        async def all_up() -> dict[str, float] | None:
            up = by_service(prom, 'up{job="skolit"}')
            return up if up == {name: 1.0 for name in SCRAPED} else None

        up = await eventually(all_up, timeout=20, interval=0.5, what=f"up == 1 for {sorted(SCRAPED)}")
        print(f"up: {up}")

        # The rules file is loaded, and every rule has been evaluated without an error.
        async def rules_evaluated() -> list[dict[str, Any]] | None:
            groups = prom.api("rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return groups if rules and all(r.get("health") == "ok" for r in rules) else None

        groups = await eventually(rules_evaluated, timeout=20, interval=0.5, what="every rule evaluated with health ok")
        rules = [r for g in groups for r in g["rules"]]
        assert [g["name"] for g in groups] == ["skolit", "skolit-connector"]
        assert all(not r.get("lastError") for r in rules), [(r["name"], r["lastError"]) for r in rules if r.get("lastError")]
        print(f"rules: {len(rules)} in group(s) {[g['name'] for g in groups]}, all health ok")

        # Events flow: city events reach every service and Prometheus sees each service's counter go up. A
        # counter that appears with its first event is not an increase yet, so publish until one shows.
        consumed_expr = 'sum by (service) (increase(skolit_events_consumed_total{topic="skolit.city.organisation", outcome="applied"}[1m]))'

        async def consumed_everywhere() -> dict[str, float] | None:
            await send(stack.bootstrap, [wire(e) for e in District().events(n_schools=1)])
            got = by_service(prom, consumed_expr)
            return got if all(got.get(name, 0) > 0 for name in SERVICES) else None

        consumed = await eventually(consumed_everywhere, timeout=40, interval=1.0, what="increase of consumed events in every service")
        print(f"increase(skolit_events_consumed_total) over 1m: {consumed}")

        # The series the dashboard and the alerts read exist for every service (the connector consumes nothing: no lag).
        for name, expr, expected in (
            ("outbox age", "count by (service) (skolit_outbox_oldest_unpublished_age_seconds)", SCRAPED),
            ("outbox backlog", "count by (service) (skolit_outbox_backlog)", SCRAPED),
            ("http", "count by (service) (skolit_http_request_duration_seconds_count)", SCRAPED),
            ("consumer lag", "count by (service) (skolit_consumer_lag)", SERVICES),
        ):
            present = by_service(prom, expr)
            assert set(present) == set(expected), f"{name}: {expr} has series for {sorted(present)}"
        # The scheduled jobs' own `job` label is stored as exported_job: the label the job alerts select on.
        dpa = prom.query('skolit_job_last_success_timestamp_seconds{service="catalog", exported_job="dpa-expiry"}')
        assert len(dpa) == 1, f"catalog's dpa-expiry job, as the alert selects it: {dpa}"

        # With data in, the alerts that watch for a missing service or a missing job are quiet.
        async def quiet() -> bool:
            active = [a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] in MUST_BE_QUIET]
            return not active

        await eventually(quiet, timeout=15, interval=0.5, what=f"none of {MUST_BE_QUIET} pending or firing")

        # Every expression of the Grafana dashboard parses and evaluates on this Prometheus.
        checked = 0
        for panel in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", "1m").replace("$service", ".*")
                prom.query(expr)  # raises on a parse or evaluation error
                checked += 1
        print(f"dashboard: {checked} expressions evaluated")

        render_to = os.environ.get("SKOLIT_RENDER_DASHBOARD")
        if render_to:
            await render_dashboard(stack, prom, Path(render_to), seconds=float(os.environ.get("SKOLIT_RENDER_SECONDS", "150")))
        else:
            assert time.monotonic() - started < 60, f"took {time.monotonic() - started:.0f}s; keep this test under a minute"
    finally:
        prom.stop()
        connector.stop()


# ---------------------------------------------------------------------------------------------- rendering


async def render_dashboard(stack: Stack, prom: Prometheus, out: Path, *, seconds: float) -> None:
    """Traffic that moves every panel, then the picture. Only with SKOLIT_RENDER_DASHBOARD."""
    began = time.time()
    teacher = await _reachable_teacher(stack)
    catalog, reporting = stack.services["catalog"].url, stack.services["reporting"].url
    it_admin, city_admin, teacher_token = auth("it_admin"), auth("city_admin"), auth("teacher")
    tick = 0
    async with httpx.AsyncClient(timeout=10) as http:
        while time.time() - began < seconds:
            tick += 1
            await send(stack.bootstrap, [wire(e) for e in District().events(n_schools=2 + tick % 4)])
            for _ in range(3 + tick % 5):
                await http.get(f"{catalog}/apps", params={"q": "matematik"}, headers=teacher_token)
                await http.get(f"{reporting}/overview", headers=city_admin)
            await http.get(f"{catalog}/apps/{uuid.uuid4()}", headers=teacher_token)  # a 404
            if tick % 4 == 0:
                body = _app(f"Ritprogram {uuid.uuid4().hex[:8]}")
                created = await http.post(f"{catalog}/apps", json=body, headers=it_admin)  # AppPublished: catalog's outbox
                assert created.status_code == 201, created.text
            if tick % 3 == 0:
                decided = AppRequestDecided(requestId=uuid.uuid4(), schoolUnitId=uuid.uuid4(), requester=await sealed(stack.admin_url, teacher),
                                            appName="Räknestigen",
                                            decision="approved", decidedBy="dpo", decidedAt=datetime.now(UTC))
                await send(stack.bootstrap, [wire(decided)])  # a message to the teacher: an e-mail delivery
            if tick % 20 == 10:
                await send(stack.bootstrap, [_poison()])  # dead-lettered by every service
            if tick % 30 == 15:
                await http.post(f"{catalog}/jobs/licence-notices/run", json={}, headers=city_admin)
            await asyncio.sleep(1.0)  # pacing the traffic, not waiting for a result
    end = time.time() + 2
    step = max((end - began) / 300, 1.0)
    result = subprocess.run([sys.executable, str(RENDER_SCRIPT), "--prometheus", prom.url, "--out", str(out),
                             "--minutes", str((end - began) / 60 + 0.5), "--step", str(step), "--rate-interval", "15s"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"dashboard drawn: {out}")


async def _reachable_teacher(stack: Stack) -> uuid.UUID:
    """A teacher notification can e-mail at any hour (no quiet hours)."""
    url = stack.services["notification"].url
    teacher = uuid.uuid4()
    await send(stack.bootstrap, [wire(PersonUpserted(id=teacher))])
    async with httpx.AsyncClient(timeout=10) as http:
        async def stored() -> bool:
            r = await http.put(f"{url}/persons/{teacher}/contacts", json={"email": "larare@example.se"}, headers=auth("city_admin"))
            return r.status_code == 200

        await eventually(stored, what="the teacher known to notification")
        await http.put(f"{url}/persons/{teacher}/preferences", json={"quietHours": None},
                       headers=auth("teacher", subject=str(teacher)))
    return teacher


def _app(name: str) -> dict[str, Any]:
    return {
        "name": name, "supplier": "Ritverkstaden AB", "description": "Eleverna ritar och delar bilder i klassrummet.",
        "url": "https://example.se/rit", "kind": "commercial", "costModel": "per_pupil", "freeUse": False,
        "subjects": ["BL"], "grades": ["4", "5"], "schoolTypes": ["GR"], "platforms": ["web"], "languages": ["sv"],
        "headings": ["digitalt-innehall"], "keywords": [],
        "dataProtection": {"dataCategories": [], "dpaStatus": "not_required", "processingCountries": ["SE"]},
    }


def _poison() -> WireMessage:
    good = wire(District().events(n_schools=0)[0])
    headers = [(k, str(uuid.uuid4()).encode() if k == "ce_id" else v) for k, v in good.headers]
    return WireMessage(good.topic, good.key, headers, b"{this is not json")
