"""The FastAPI application every service runs: lifespan, health, metrics, problems, auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared import asyncapi, problems
from shared.auth import Verifier
from shared.http import openapi
from shared.http.hot_reads import HotReads
from shared.http.cors import ALLOWED_HEADERS, ALLOWED_METHODS, EXPOSED_HEADERS, MAX_AGE_SECONDS, Cors
from shared.http.idempotency import IdempotentCreates
from shared.http.request_metrics import RequestMetrics
from shared.http.versioning import VersionPrefix
from shared.http.models import AsyncApiDocument, Health, Readiness
from shared.city.markings import HideProtectedIdentities
from shared.city.replica import DUTIES, MARKINGS, ORGANISATIONS
from shared.city.routes import router as city_router
from shared.jobs import jobs_router
from shared.limits import Limits, RequestLimits
from shared.operator_routes import router as operator_router
from shared.runtime import WORK, Runtime
from shared.service import ServiceSpec
from shared.settings import Settings


def _lifespan(runtime: Runtime) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        app.state.pool = runtime.pool
        try:
            yield
        finally:
            await runtime.stop()

    return lifespan


def _operations(app: FastAPI, runtime: Runtime) -> None:
    """What operators and the orchestrator ask every process: alive, ready, its metrics."""

    @app.get("/healthz", tags=["operations"], summary="Alive", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.spec.name}

    @app.get("/readyz", tags=["operations"], summary="Database and broker reachable; degraded parts named", response_model=Readiness,
             responses={503: {"description": "Not ready: a part named in checks is down", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}})
    async def readyz() -> JSONResponse:
        checks = await runtime.readiness()
        ready = all(v == "ok" or v.startswith("degraded") for v in checks.values())
        status = "not ready" if not ready else "degraded" if any(v != "ok" for v in checks.values()) else "ready"
        return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def create_work_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    """A `work` process (shared/runtime.py WORK): the service's workers, its relay, and only the operations routes."""
    settings = settings or Settings.from_env(spec.name)
    runtime = Runtime(spec, settings, role=WORK)
    app = FastAPI(title=f"{spec.title} (workers)", version="0.1.0", lifespan=_lifespan(runtime), openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.settings = settings
    _operations(app, runtime)
    return app


def create_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env(spec.name)
    runtime = Runtime(spec, settings)
    lifespan = _lifespan(runtime)

    # Operation ids are the routes' function names (list_campaigns, submit_request): what a generated client calls its methods.
    app = FastAPI(title=spec.title, description=spec.description, version="0.1.0", lifespan=lifespan,
                  generate_unique_id_function=lambda route: route.name)
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.verifier = Verifier.from_settings(settings)
    # provider tokens get their roles from the city's duties and relations where the service keeps them (shared/auth/authority.py);
    # the connector keeps none: its callers' roles come from their IdP groups
    app.state.city_data = DUTIES in spec.replicas
    problems.install(app)
    openapi.install(app)
    if spec.hot_reads:  # innermost: in front of the router only, so every middleware below sees a hot read as any other
        app.add_middleware(HotReads, reads=spec.hot_reads, service=spec.name)
    if MARKINGS in spec.replicas:  # next: every answer of the service's routes, before anything measures or sends it
        app.add_middleware(HideProtectedIdentities)
    # Oversized requests are refused (413/431) before routing; installed first so the metrics see them.
    # Inside the limits (the body is bounded before it is read here), outside the protected-identity filter (what is kept is what was sent).
    app.add_middleware(IdempotentCreates)
    app.add_middleware(RequestLimits, limits=Limits.from_env(spec.name))
    app.add_middleware(RequestMetrics, service=spec.name)
    # Outermost: a preflight is answered before anything else runs; /v1/... is routed as /... (shared/http/versioning.py).
    app.add_middleware(Cors, allow_origins=settings.cors_origins, allow_methods=ALLOWED_METHODS, allow_headers=ALLOWED_HEADERS,
                       expose_headers=EXPOSED_HEADERS, max_age=MAX_AGE_SECONDS)
    app.add_middleware(VersionPrefix)

    _operations(app, runtime)

    @app.get("/asyncapi.json", tags=["operations"], summary="This service's AsyncAPI document", response_model=AsyncApiDocument)
    async def asyncapi_document() -> dict[str, Any]:
        return asyncapi.document([spec])

    if ORGANISATIONS in spec.replicas:  # the city data it keeps (school units, who the caller is); the connector keeps none
        app.include_router(city_router)
    jobs = spec.all_jobs()
    if jobs:
        app.include_router(jobs_router(jobs))
    app.include_router(operator_router)  # dead letters and parked outbox rows, for city admins
    app.include_router(spec.router)
    return app

