"""Hostile input, against the running services.

1. Oversized requests are refused before they cost anything: a body over the limit gets 413 (declared
   by Content-Length or streamed in chunks), a header section over the limit gets 431, both as problem
   documents (shared/limits.py); the catalog's CSV import may be larger.
2. Poisoned CloudEvents headers on a topic do not stall the consumers (the decoder itself is fuzzed in
   tests/unit/test_decoder_fuzz.py).
3. Schemathesis generates requests from every service's own OpenAPI document — valid ones and ones
   that break the schema — as every role in turn and anonymously, with the ids of a small city
   published first mixed in so requests get past "not found". Whatever it sends, no answer is a 5xx
   and every 4xx is a problem document with ``status`` and ``detail``; and every answer conforms to the
   document (issue 19): its status is documented, its media type and headers are, and its body validates
   against the typed schema of that status. A few operations are left out
   for the roles that could change what other tests rely on (``EXCLUDED``, with the reasons).
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import select
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
import requests
import schemathesis
from aiokafka import AIOKafkaConsumer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.events.envelope import header_map
from shared.limits import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES, MIB
from shared.settings import SERVICES
from shared.topics import CITY_ORGANISATION
from tests.support.api_city import City, build_city
from tests.support.city import school_unit
from tests.support.kafka import eventually, send, wire
from tests.support.stack import Stack, auth

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


# ---- 1. oversized requests ----------------------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, Any]:
        assert self.headers.get("content-type") == PROBLEM, self
        return json.loads(self.body)


def raw_request(url: str, head: bytes, chunks: list[bytes] = (), timeout: float = 10, pause: float = 0) -> RawResponse:  # type: ignore[assignment]
    """Send a request head and then more pieces (body chunks, or the rest of the head) over a plain
    socket, ``pause`` seconds apart, stopping as soon as the server answers (as a real client that
    listens does); returns the parsed response."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in chunks:
            if select.select([sock], [], [], pause)[0]:
                break  # the server has answered: stop sending
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = sock.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data:
                head_end = data.index(b"\r\n\r\n")
                length = re.search(rb"(?im)^content-length:\s*(\d+)", data[:head_end])
                if length and len(data) >= head_end + 4 + int(length.group(1)):
                    break
    assert data, "the server answered nothing"
    head_text, _, body = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return RawResponse(int(lines[0].split()[1]), headers, body)


def _head(url: str, method: str, path: str, headers: dict[str, str]) -> bytes:
    host = urlsplit(url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize("service", SERVICES)
def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(stack: Stack, service: str) -> None:
    url = stack.services[service].url
    # The head alone: the server must answer without waiting for a single body byte.
    head = _head(url, "POST", "/school-units", {"Content-Type": "application/json", "Content-Length": str(DEFAULT_MAX_BODY_BYTES + 1),
                                               **auth("city_admin")})
    r = raw_request(url, head)
    assert r.status == 413 and r.headers.get("connection") == "close"
    p = r.problem()
    assert p["status"] == 413 and p["title"] == "Content too large" and "1 MiB" in p["detail"] and p["maxBytes"] == DEFAULT_MAX_BODY_BYTES


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(stack: Stack) -> None:
    url = stack.services["catalog"].url
    head = _head(url, "POST", "/apps", {"Content-Type": "application/json", "Transfer-Encoding": "chunked", **auth("city_admin")})
    piece = b'"' + b"x" * (16 * 1024) + b'"'
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (2 * DEFAULT_MAX_BODY_BYTES // len(piece))  # no Content-Length, 2 MiB
    r = raw_request(url, head, chunks, pause=0.002)
    assert r.status == 413
    p = r.problem()
    assert p["status"] == 413 and "more were sent" in p["detail"]


async def test_a_body_under_the_limit_still_reaches_the_route(stack: Stack) -> None:
    url = stack.services["catalog"].url
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(f"{url}/apps", headers=auth("city_admin"), json={"name": "x" * (DEFAULT_MAX_BODY_BYTES - 1000)})
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM  # judged by the route, not by the size

        async def chunked() -> Any:
            yield b'{"name": "'
            for _ in range(20):
                yield b"y" * 10_000
            yield b'"}'

        r = await http.post(f"{url}/apps", headers={**auth("city_admin"), "Content-Type": "application/json"}, content=chunked())
        assert r.status_code == 422, r.text


async def test_the_csv_import_takes_more_than_the_default_but_not_without_end(stack: Stack) -> None:
    url = stack.services["catalog"].url
    editor = {**auth("city_admin"), "Content-Type": "text/csv"}
    # 3 MiB in one cell: past the default limit, within the import's own; the route reads and judges it.
    big = b"name,supplier\r\n" + b'"' + b"a" * (3 * MIB) + b'",X\r\n'
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{url}/apps/import", params={"dryRun": "true"}, headers=editor, content=big)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text[:300]
        assert "CSV" in r.json()["detail"], r.json()  # the route read it (csv refuses a 3 MiB field)
    limit = 20 * MIB
    r = raw_request(url, _head(url, "POST", "/apps/import", {**editor, "Content-Length": str(limit + 1)}))
    assert r.status == 413 and r.problem()["maxBytes"] == limit


@pytest.mark.parametrize("service", SERVICES)
def test_header_fields_over_the_limit_get_431(stack: Stack, service: str) -> None:
    url = stack.services[service].url
    with httpx.Client(timeout=10) as http:
        ok = http.get(f"{url}/healthz", headers={"X-Padding": "p" * (DEFAULT_MAX_HEADER_BYTES // 2)})
        assert ok.status_code == 200
        for size in (DEFAULT_MAX_HEADER_BYTES + 1, 40 * 1024):
            r = http.get(f"{url}/healthz", headers={"X-Padding": "p" * size})
            assert r.status_code == 431 and r.headers["content-type"] == PROBLEM, (size, r.status_code, r.text[:200])
            assert r.json()["status"] == 431 and "header" in r.json()["detail"]
        many = {f"X-Field-{i}": "v" * 200 for i in range(100)}  # many ordinary fields add up too
        r = http.get(f"{url}/healthz", headers=many)
        assert r.status_code == 431 and r.json()["maxBytes"] == DEFAULT_MAX_HEADER_BYTES
    # A 40 KiB head arriving in pieces: with h11's default buffer (16 KiB) uvicorn itself would answer a
    # plain-text 400 here; the services give h11 a 64 KiB buffer, so the middleware's 431 answers.
    head = _head(url, "GET", "/healthz", {"X-Padding": "p" * (40 * 1024)})
    r = raw_request(url, head[:8 * 1024], [head[i:i + 8 * 1024] for i in range(8 * 1024, len(head), 8 * 1024)], pause=0.05)
    assert r.status == 431 and r.problem()["status"] == 431


# ---- 2. poison on a topic ------------------------------------------------------------------------

async def test_poison_in_the_cloudevents_headers_does_not_stall_the_consumers(stack: Stack) -> None:
    """A NUL in ce_id (PostgreSQL text cannot hold it), a 20 kB ce_id (too big for the inbox's index) and a
    ce_time without a UTC offset (the age metric cannot subtract it) each used to fail the whole batch
    after decoding, so Kafka redelivered it forever. Now: the first two are applied, the third is
    dead-lettered with its reason, and the events behind them flow."""
    district = uuid.uuid4()
    nul, huge, naive, after = (uuid.uuid4() for _ in range(4))
    messages = []
    for school, event_id, time_header in ((nul, f"id-with-\x00-{uuid.uuid4()}", None),
                                          (huge, uuid.uuid4().hex + secrets.token_hex(10_000), None),
                                          (naive, str(uuid.uuid4()), b"2026-08-15T06:00:00"),
                                          (after, str(uuid.uuid4()), None)):
        m = wire(school_unit(school, district), event_id=event_id)
        if time_header:
            m.headers[:] = [(k, time_header if k == "ce_time" else v) for k, v in m.headers]
        messages.append(m)
    naive_id = dict(messages[2].headers)["ce_id"].decode()
    await send(stack.bootstrap, messages)
    admin = auth("city_admin")
    async with httpx.AsyncClient(timeout=10) as http:
        for name in SERVICES:
            url = stack.services[name].url

            async def arrived(url: str = url) -> bool:
                return all([(await http.get(f"{url}/school-units/{s}", headers=admin)).status_code == 200 for s in (nul, huge, after)])

            await eventually(arrived, what=f"the schools behind the poison in {name}")
            assert (await http.get(f"{url}/school-units/{naive}", headers=admin)).status_code == 404
    letters = await _dead_letters(stack.bootstrap, CITY_ORGANISATION.dlq, naive_id, expect=len(SERVICES))
    assert {h["dlq_service"] for h in letters} == set(SERVICES)
    assert all("UTC offset" in h["dlq_reason"] for h in letters), letters[0]["dlq_reason"]


async def _dead_letters(bootstrap: str, topic: str, ce_id: str, *, expect: int, timeout: float = 30) -> list[dict[str, str]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4()}", auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    found: list[dict[str, str]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [h for h in (header_map(r.headers) for r in records) if h.get("ce_id") == ce_id]
    finally:
        await consumer.stop()
    return found


# ---- 3. schemathesis against every service's OpenAPI -------------------------------------------

ROLES = ("city_admin", "district_admin", "principal", "teacher", "it_admin", "data_protection", "guardian", "anonymous")
#: requests per service, over all roles (each role gets an equal share); SKOLIT_FUZZ_CASES=20000 for a longer hunt
CASES_PER_SERVICE = int(os.environ.get("SKOLIT_FUZZ_CASES") or 1100)
#: at most this many seconds for the four services together (a quarter each), so a slow machine ends the hunt early, not the suite late
FUZZ_SECONDS = float(os.environ.get("SKOLIT_FUZZ_SECONDS") or 240)
#: operations not fuzzed, and for which roles (None: for everyone), with why
EXCLUDED: dict[tuple[str, str, str], tuple[tuple[str, ...] | None, str]] = {
    ("catalog", "POST", "/jobs/{name}/run"): (("city_admin",), "runs a scheduled job with a random asOf date (licence notices, DPA "
                                              "lapses, reminders) over every app: other tests' data would change under them"),
    ("notification", "POST", "/jobs/{name}/run"): (("city_admin",), "same for deadline reminders, digests and guardian reach, over everyone"),
    ("assessment", "POST", "/jobs/{name}/run"): (("city_admin",), "the retention job with a random asOf date would remove other tests' "
                                                 "rounds' pulse counts, audit trails and messaging rows"),
    ("reporting", "POST", "/jobs/{name}/run"): (("city_admin",), "the retention job with a random asOf date would empty the inbox and "
                                                "outbox other tests look at"),
    ("notification", "POST", "/deliveries/send"): (("city_admin",), "sends everything due at a random asOf time on every channel, "
                                                   "deliveries other tests expect later (quiet hours, retries) included"),
    ("reporting", "POST", "/annual-report/{year}/publish"): (("city_admin",), "announces a random year's report to every district with "
                                                            "submissions that year (messages to their principals), once for good"),
    ("reporting", "POST", "/indicators"): (("city_admin",), "adds a city-wide indicator every later school's figures are judged against "
                                          "(below-target alerts to principals in other tests)"),
}
#: not in the OpenAPI documents at all, so nothing to exclude: the dead-letter reprocessing and the read-model rebuild are
#: command-line operations (python -m services.<name> dlq-reprocess|rebuild), /metrics is include_in_schema=False


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)  # per role
    statuses: Counter[int] = field(default_factory=Counter)
    unsendable: int = 0  # the client library refused the generated request (e.g. a header value with a newline)
    failures: dict[tuple[str, str, int, str], str] = field(default_factory=dict)  # (method, path, status, what) → an example

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@pytest_asyncio.fixture(scope="module")
async def city(stack: Stack) -> City:
    return await build_city(stack)


def _problem_failure(response: Any) -> str | None:
    """Why a response breaks the rules (None if it does not): no 5xx, and every 4xx a problem document."""
    status = response.status_code
    if status >= 500:
        return "server error"
    if status < 400:
        return None
    ctype = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if ctype != PROBLEM:
        return f"4xx with content-type {ctype!r}"
    try:
        body = response.json()
    except Exception:
        return "4xx problem that is not JSON"
    if not isinstance(body, dict) or body.get("status") != status:
        return "problem without the response's status"
    if not isinstance(body.get("detail"), str) or not body["detail"].strip():
        return "problem without a detail"
    return None


CONFORMANCE = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


def _nonconformance(case: Any, response: Any) -> str | None:
    """Why the answer disagrees with the service's own OpenAPI document (status, media type, headers, body schema), or None."""
    try:
        case.validate_response(response, checks=CONFORMANCE)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group of the checks that failed (a BaseExceptionGroup)
        return f"does not conform to the OpenAPI document: {exc}"
    return None


def fuzz_service(name: str, url: str, city: City, seconds: float) -> Tally:
    """Generated requests against one service, role after role, until CASES_PER_SERVICE were sent (or time is up)."""
    deadline = time.monotonic() + seconds
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tokens, known = city.tokens(), city.known_ids()
    tally = Tally()
    strategies: dict[str, Any] = {}
    session = requests.Session()
    rng = random.Random()

    def strategy(op: Any) -> Any:
        if op.label not in strategies:
            strategies[op.label] = st.one_of(op.as_strategy(generation_mode=GenerationMode.POSITIVE),
                                             op.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        return strategies[op.label]

    def run(op: Any, role: str, examples: int) -> None:
        @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False)
        @given(case=strategy(op))
        def one(case: Any) -> None:
            for location in (case.path_parameters, case.query):
                if location:
                    for param in list(location):
                        if param in known and rng.random() < 0.5:
                            location[param] = rng.choice(known[param])
            try:
                response = case.call(base_url=url, session=session, headers=tokens[role], timeout=15)
            except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
                tally.unsendable += 1
                return
            except requests.exceptions.ConnectionError as exc:
                tally.failures.setdefault((op.method.upper(), op.path, 0, f"connection error: {type(exc).__name__}"), case.as_curl_command(headers=tokens[role]))
                return
            tally.sent[role] += 1
            tally.statuses[response.status_code] += 1
            why = _problem_failure(response) or _nonconformance(case, response)
            if why:
                key = (op.method.upper(), op.path, response.status_code, why.splitlines()[0][:200])
                tally.failures.setdefault(key, f"{case.as_curl_command(headers=tokens[role])}\n  → {response.content[:300]!r}\n  {why[:600]}")

        one()

    runnable = []
    for op in operations:
        excluded = EXCLUDED.get((name, op.method.upper(), op.path))
        roles = [r for r in ROLES if excluded is None or (excluded[0] is not None and r not in excluded[0])]
        if roles:
            runnable.append((op, roles))
    slots = sum(len(roles) for _, roles in runnable)
    while tally.total < CASES_PER_SERVICE and time.monotonic() < deadline:  # hypothesis stops early on small input spaces: go round again
        per_slot = max(2, -(-(CASES_PER_SERVICE - tally.total) // slots))
        for role in ROLES:
            for op, roles in runnable:
                if role in roles and time.monotonic() < deadline:
                    run(op, role, per_slot)
    session.close()
    return tally


def test_no_generated_request_gets_a_server_error_a_bare_4xx_or_an_answer_its_document_does_not_describe(stack: Stack, city: City) -> None:
    started = time.monotonic()
    # One service after the other: hypothesis describes strategies with ast.parse, which is not thread-safe.
    tallies = {name: fuzz_service(name, stack.services[name].url, city, FUZZ_SECONDS / len(SERVICES)) for name in SERVICES}
    lines = [f"schemathesis, {time.monotonic() - started:.0f} s (positive and negative cases, {CASES_PER_SERVICE} per service wanted):"]
    for name in SERVICES:
        t = tallies[name]
        lines.append(f"  {name}: {t.total} requests ({', '.join(f'{r} {t.sent[r]}' for r in ROLES)}); "
                     f"statuses {dict(sorted(t.statuses.items()))}; not sendable {t.unsendable}")
    summary = "\n".join(lines)
    print("\n" + summary)
    failures = [f"{name} {m} {p} → {s}: {why}\n  {example}" for name in SERVICES for (m, p, s, why), example in tallies[name].failures.items()]
    assert not failures, summary + "\n\n" + "\n\n".join(failures)
    for name in SERVICES:
        assert tallies[name].total >= 1000, summary
        assert all(tallies[name].sent[r] > 0 for r in ROLES), summary
