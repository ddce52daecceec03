"""The connector's HTTP API for the SS 12000 sync: ask for a sync and see how it stands (city admins), and the
webhook the city's API calls when something changed (authenticated by the secret in its path, which only the
subscription the connector made knows)."""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from connectors.ss12000 import store
from connectors.ss12000.worker import SyncWorker
from shared.auth import Principal, Role, require
from shared.problems import Problem, documented

log = logging.getLogger(__name__)
router = APIRouter(tags=["SS 12000"])
WORKER = "ss12000"


def _worker(request: Request) -> SyncWorker:
    worker = request.app.state.runtime.workers.get(WORKER)
    assert isinstance(worker, SyncWorker)
    return worker


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "full"}]})

    mode: Literal["incremental", "full"] = Field(
        default="incremental",
        description="incremental: what changed since the last sync, and deletions; full: everything, and what the city's API "
                    "no longer lists is removed")


class SyncAccepted(BaseModel):
    mode: Literal["incremental", "full"]
    running: bool = Field(description="a sync was running when asked: this one starts when it is done")


class SyncRun(BaseModel):
    id: int
    mode: str
    trigger: str = Field(description="schedule, webhook, operator (POST /sync) or cli")
    startedAt: datetime
    finishedAt: datetime | None
    outcome: Literal["running", "ok", "failed"] = Field(description="running also for a run that stopped (a crash) and is resumed next")
    counts: dict[str, Any] = Field(description="events staged, and per resource: new, changed, removed, unchanged, skipped")
    error: str | None


class SyncCursor(BaseModel):
    resource: str
    highWaterMark: datetime | None = Field(description="the latest meta.modified synced (deletedEntities: when its last sync started)")
    lastSuccessAt: datetime | None
    inProgress: bool = Field(description="a run is paging through it (or stopped while it did)")


class SyncStatus(BaseModel):
    configured: bool = Field(description="false when SKOLIT_SS12000_URL is not set: the connector serves its imports only")
    running: bool
    webhook: bool = Field(description="a webhook subscription is made at the city's API")
    lastError: str | None = Field(description="why this replica's last sync failed (its class and message), null after a success")
    runs: list[SyncRun] = Field(description="the latest runs, newest first")
    cursors: list[SyncCursor]


def _not_configured() -> Problem:
    return Problem(503, "Service unavailable", "the SS 12000 sync is not configured: set SKOLIT_SS12000_URL, SKOLIT_SS12000_CLIENT_ID and "
                                               "SKOLIT_SS12000_CLIENT_SECRET")


@router.post("/sync", status_code=202, summary="Ask for a sync of the city's SS 12000 data now", responses=documented(401, 403, 422, 503))
async def request_sync(request: Request, body: SyncRequest, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> SyncAccepted:
    worker = _worker(request)
    if not worker.configured:
        raise _not_configured()
    log.info("SS 12000 %s sync asked for by %s", body.mode, caller.subject)
    running = worker.running
    worker.request(body.mode, "operator")
    return SyncAccepted(mode=body.mode, running=running)


@router.get("/sync", summary="How the SS 12000 sync stands: its latest runs and where each resource is", responses=documented(401, 403))
async def sync_status(request: Request, caller: Annotated[Principal, Depends(require(Role.CITY_ADMIN))]) -> SyncStatus:
    worker = _worker(request)
    async with request.app.state.pool.acquire() as conn:
        runs = await store.recent_runs(conn)
        cursors = await store.cursors(conn)
        subscription = await store.subscription(conn)
    return SyncStatus(
        configured=worker.configured, running=worker.running, webhook=subscription is not None, lastError=worker.last_error,
        runs=[SyncRun(id=r["id"], mode=r["mode"], trigger=r["trigger"], startedAt=r["started_at"], finishedAt=r["finished_at"],
                      outcome=r["outcome"], counts=r["counts"] or {}, error=r["error"]) for r in runs],
        cursors=[SyncCursor(resource=c.resource, highWaterMark=c.high_water_mark, lastSuccessAt=c.last_success_at,
                            inProgress=not c.done) for c in cursors],
    )


@router.post("/webhooks/ss12000/{secret}", status_code=202, summary="The city's SS 12000 API says something changed",
             description="Called by the city's API for the subscription the connector made; the path's secret is its only "
                         "credential. Starts an incremental sync shortly (calls in a burst make one).",
             responses=documented(404))
async def webhook(request: Request, secret: str) -> Response:
    worker = _worker(request)
    async with request.app.state.pool.acquire() as conn:
        subscription = await store.subscription(conn)
    if subscription is None or not hmac.compare_digest(secret.encode(), str(subscription["path_secret"]).encode()):
        raise Problem(404, "Not found", "no such webhook")
    worker.notified()
    return Response(status_code=202)
