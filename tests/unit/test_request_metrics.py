"""The request-duration histogram, measured by a pure ASGI middleware: route template, method and status per request."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

import shared.metrics  # noqa: F401  (registers the histogram)
from shared.http.request_metrics import RequestMetrics

SERVICE = "metrics-test"


def _count(route: str, status: str, method: str = "GET") -> float:
    labels = {"service": SERVICE, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("skolit_http_request_duration_seconds_count", labels) or 0.0


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/schools/{school}")
    async def school(school: str) -> dict[str, str]:
        if school == "missing":
            raise HTTPException(404)
        if school == "broken":
            raise RuntimeError("a bug")
        return {"school": school}

    app.add_middleware(RequestMetrics, service=SERVICE)
    return app


async def test_each_request_is_counted_by_route_template_and_status() -> None:
    before_ok, before_404 = _count("/schools/{school}", "200"), _count("/schools/{school}", "404")
    before_unmatched = _count("unmatched", "404")
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/schools/a")).status_code == 200
        assert (await client.get("/schools/b")).status_code == 200
        assert (await client.get("/schools/missing")).status_code == 404
        assert (await client.get("/nowhere")).status_code == 404
    assert _count("/schools/{school}", "200") == before_ok + 2
    assert _count("/schools/{school}", "404") == before_404 + 1
    assert _count("unmatched", "404") == before_unmatched + 1


async def test_a_request_whose_handler_raises_is_counted_as_500() -> None:
    before = _count("/schools/{school}", "500")
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/schools/broken")).status_code == 500
    assert _count("/schools/{school}", "500") == before + 1
