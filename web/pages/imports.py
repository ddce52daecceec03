"""City admins import the city's figures: the school units' key figures or a login portal's launch log, as a CSV file,
through the city's connector (connectors/imports, POST /v1/imports/…). Choose what and the file → the connector checks
it (``dryRun=true``) → check your answers (the counts, or every bad cell by row and column) → confirm → the import.

Between the check and the confirm the file travels in the check page's own form (compressed, base64, in a hidden
field), with a digest sealed by the session key. Why not a server-side store: the web app keeps no state, so any
replica serves any request (decision 0017; two replicas in deploy/k8s) — a file kept in one replica's memory would be
lost when the confirm reaches the other, and a cookie holds about 4 KB, not a 10 MB file. Why not the URL: it ends up in
logs and history. The sealed digest makes the confirm import exactly the file that was checked, and the connector
checks it again anyway (all or nothing)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from web import i18n
from web.api import Api, ApiProblem, ServiceUnavailable, SignInAgain
from web.rendering import render
from web.security import posted_form
from web.session import sealer, set_cookie
from web.tasks import Task, provides

router = APIRouter()
CITY_ADMIN = "city_admin"
#: what can be imported: the form's value → the connector's path
KINDS = {"figures": "school-figures", "launches": "app-launches"}
#: the connector's own limit (connectors/imports/table.py MAX_BYTES): a larger file is refused here, before sending it
MAX_BYTES = 10 * 1024 * 1024
#: the confirm form's hidden field: the compressed file in base64 (CSV compresses well; a 10 MB file of random bytes
#: would not, and is refused with a message instead of the form parser's 400)
MAX_FIELD = 14 * 1024 * 1024
SEAL = "imports_file"
RESULT_COOKIE = "skolit_imports_result"
#: how long a checked file may wait for its confirm
CHECK_SECONDS = 1800


def _forbid_unless_city_admin(request: Request) -> None:
    """Only city admins import (the connector refuses anyone else too); others get the 403 page, not a form."""
    me = getattr(request.state, "me", None) or {}
    if CITY_ADMIN not in set(me.get("roles", [])):
        raise ApiProblem("web", 403, {"title": "Forbidden"})


async def _send(request: Request, kind: str, content: bytes, *, dry_run: bool) -> dict[str, Any]:
    """POST the CSV file to the connector with the person's token. Errors become what web/api.py makes of a service's:
    401 → sign in again, unreachable or 5xx → ServiceUnavailable, other 4xx → ApiProblem (the page shows 422/413/415)."""
    api = Api(request)
    # Api.call sends JSON only; the connector takes the CSV file as it is, so the request is made here with Api's
    # headers (the person's token, their language) and its client
    url = f"{request.app.state.settings.connector_url}/v1/imports/{KINDS[kind]}"
    headers = api._headers({"Content-Type": "text/csv; charset=utf-8"})
    try:
        r = await api.http.post(url, params={"dryRun": "true"} if dry_run else None, content=content, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable("connector", type(exc).__name__) from None
    if r.status_code == 401:
        raise SignInAgain()
    if r.status_code >= 500:
        raise ServiceUnavailable("connector", f"status {r.status_code}")
    if r.status_code >= 400:
        try:
            problem = r.json()
        except ValueError:
            problem = {"title": r.reason_phrase, "status": r.status_code}
        raise ApiProblem("connector", r.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
    answer: dict[str, Any] = r.json()
    return answer


def _cell_errors(exc: ApiProblem) -> tuple[list[dict[str, Any]], int]:
    """Every bad cell the connector listed ({row, column, message}; row 0 is the file as a whole), and how many there are."""
    listed = [e for e in exc.problem.get("errors") or [] if isinstance(e, dict)]
    cells = [{"row": int(e.get("row") or 0), "column": str(e.get("column") or ""), "message": str(e.get("message") or "")} for e in listed]
    if not cells:
        cells = [{"row": 0, "column": "", "message": exc.detail}]
    return cells, int(exc.problem.get("errorCount") or len(cells))


def _choose_page(request: Request, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200,
                 unavailable: bool = False) -> Response:
    return render(request, "imports/choose.html", status=status, values=values or {}, errors=errors or {}, unavailable=unavailable,
                  headers={"Retry-After": "30"} if unavailable else None)


def _t(request: Request, key: str) -> str:
    return i18n.translate(getattr(request.state, "lang", i18n.DEFAULT), key)


@router.get("/imports")
async def choose(request: Request) -> Response:
    _forbid_unless_city_admin(request)
    return _choose_page(request)


async def _read(upload: UploadFile) -> bytes | None:
    """The uploaded file, or None past MAX_BYTES (read no further than that)."""
    content = await upload.read(MAX_BYTES + 1)
    return None if len(content) > MAX_BYTES else content


@router.post("/imports")
async def check(request: Request, form: FormData = Depends(posted_form)) -> Response:
    _forbid_unless_city_admin(request)
    kind = form.get("kind")
    upload = form.get("file")
    values = {"kind": kind if isinstance(kind, str) else ""}
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = _t(request, "imports.choose.kind_missing")
    content: bytes | None = b""
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = _t(request, "imports.choose.file_missing")
    else:
        content = await _read(upload)
        if content is None:
            errors["file"] = _t(request, "imports.choose.file_too_large")
        elif not content.strip():
            errors["file"] = _t(request, "imports.choose.file_empty")
    if errors or content is None:
        return _choose_page(request, values, errors, status=422)
    assert isinstance(kind, str) and isinstance(upload, UploadFile)
    filename = (upload.filename or "")[-200:]
    return await _checked(request, kind, filename, content)


async def _sent(request: Request, kind: str, filename: str, content: bytes, *, dry_run: bool) -> dict[str, Any] | Response:
    """The connector's answer to the file (checked only, or imported), or the page to show instead: the choice again when the
    connector is away, the bad cells when it refused the file."""
    try:
        return await _send(request, kind, content, dry_run=dry_run)
    except ServiceUnavailable:
        return _choose_page(request, {"kind": kind}, status=503, unavailable=True)
    except ApiProblem as exc:
        if exc.status == 403:
            raise
        cells, count = _cell_errors(exc)
        return render(request, "imports/check.html", status=422, kind=kind, filename=filename, cells=cells, error_count=count, answer=None)


async def _checked(request: Request, kind: str, filename: str, content: bytes) -> Response:
    """The check-your-answers page: the connector's dry run of the file, or every bad cell it found."""
    answer = await _sent(request, kind, filename, content, dry_run=True)
    if isinstance(answer, Response):
        return answer
    packed = base64.b64encode(zlib.compress(content, 6)).decode("ascii")
    if len(packed) > MAX_FIELD:
        return _choose_page(request, {"kind": kind}, {"file": _t(request, "imports.choose.file_too_large")}, status=422)
    seal = sealer(request).seal(SEAL, {"kind": kind, "sha256": hashlib.sha256(content).hexdigest(), "filename": filename})
    return render(request, "imports/check.html", kind=kind, filename=filename, cells=[], error_count=0, answer=answer, packed=packed, seal=seal)


def _unpack(packed: str) -> bytes | None:
    """The file from the confirm form; None when it is not what the check page gave out (or inflates past MAX_BYTES)."""
    try:
        inflater = zlib.decompressobj()
        content = inflater.decompress(base64.b64decode(packed, validate=True), MAX_BYTES + 1)
    except (ValueError, zlib.error):
        return None
    return None if len(content) > MAX_BYTES or inflater.unconsumed_tail else content


@router.post("/imports/confirm")
async def confirm(request: Request) -> Response:
    # the form is read here first, with room for the file's hidden field; posted_form then checks its CSRF token
    # (Starlette keeps the parsed form, so it is read once)
    await request.form(max_part_size=MAX_FIELD + 1024)
    form = await posted_form(request)
    _forbid_unless_city_admin(request)
    packed, sealed = form.get("file"), form.get("seal")
    kept = sealer(request).open(SEAL, sealed if isinstance(sealed, str) else None, max_age=CHECK_SECONDS)
    content = _unpack(packed) if isinstance(packed, str) else None
    if kept is None or content is None or hashlib.sha256(content).hexdigest() != kept.get("sha256") or kept.get("kind") not in KINDS:
        # the check is too old (or the form was not the check page's): start again with the file
        return _choose_page(request, {}, {"file": _t(request, "imports.choose.check_expired")}, status=422)
    kind, filename = str(kept["kind"]), str(kept.get("filename") or "")
    answer = await _sent(request, kind, filename, content, dry_run=False)
    if isinstance(answer, Response):
        return answer
    result = {"kind": kind, "filename": filename, **{k: answer.get(k) for k in ("rows", "events", "published", "alreadyImported")}}
    response = RedirectResponse("/imports/done", status_code=303)
    set_cookie(request, response, RESULT_COOKIE, sealer(request).seal(RESULT_COOKIE, result), max_age=600)
    return response


@router.get("/imports/done")
async def done(request: Request) -> Response:
    _forbid_unless_city_admin(request)
    result = sealer(request).open(RESULT_COOKIE, request.cookies.get(RESULT_COOKIE), max_age=600)
    if result is None:
        return RedirectResponse("/imports", status_code=303)
    return render(request, "imports/done.html", result=result)


@provides(CITY_ADMIN)
async def tasks(request: Request, me: dict[str, Any]) -> list[Task]:
    return [Task("imports.task.title", "/imports", hint="imports.task.hint")]
