"""Hostile input on the event side: whatever arrives on a topic, the consumer's decode step either
turns it into a registered event (to be applied) or into a dead letter with a reason — it never raises.

The function under test is ``shared.consumer.decode_record``: the first thing ``BatchProcessor.process``
does with every record. On top of it this test runs what the processor does with a decoded record
before and after its database work (the inbox columns, the dead letter's headers, the freshness
metrics), because an exception there stalls the consumer just as surely: the batch would be handed
back to Kafka and redelivered forever. No broker, no database.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.assessment.app import SPEC as ASSESSMENT
from services.catalog.app import SPEC as CATALOG
from services.notification.app import SPEC as NOTIFICATION
from services.reporting.app import SPEC as REPORTING
from shared.consumer import BatchProcessor, Decoded, Handlers, dead_letter, decode_record, record_bytes
from shared.events import REGISTRY, Event
from shared.events.assessment import (
    ActionPlanChanged, AssessmentReopened, AssessmentSubmitted, CampaignClosed, CampaignOpened, FrameworkHeading,
    FrameworkIndicator, FrameworkPublished, HeadingLevel, IndicatorLevel, LocalText, PulseGroupResult, PulseHeading,
)
from shared.events.catalog import (
    AppChanged, AppPublished, AppRequestDecided, AppRequestProgressed, AppRequestStalled, AppRequestSubmitted, AppRetired,
    AppStatusChanged, DpaExpired, LicenceExpiring,
)
from shared.events.city import (
    AppLaunchesCounted, DutyAssigned, DutyEnded, GuardianRelationAdded, GuardianRelationEnded, OrganisationEnded,
    OrganisationUpserted, PersonRemoved, PersonUpserted, SchoolFiguresReported,
)
from shared.events.envelope import encode, new_envelope
from shared.topics import MAX_EVENT_BYTES
from shared.events.notification import GuardianReachMeasured, MessageDelivered, MessageFailed
from shared.events.reporting import IndicatorBelowTarget, ReportPublished
from tests.support.records import FakeRecord
from tests.support.sealing import unknown_ref

EXAMPLES = 2000
#: the longest inbox id PostgreSQL's primary-key index on ``inbox.event_id`` takes comfortably (its hard
#: limit is about 2,700 bytes per entry)
MAX_INBOX_ID_BYTES = 1024


def _ids(n: int) -> list[uuid.UUID]:
    return [uuid.uuid4() for _ in range(n)]


def real_events() -> list[Event]:
    """One realistic event of every contract, as its producer would publish it."""
    school, district, app, person, other, licence, request, campaign, assessment = _ids(9)
    now = datetime.now(UTC)
    today = date.today()
    facts = dict(id=app, name="Matteappen", supplier="Läromedel AB", kind="app", headings=["digital-kompetens"], schoolTypes=["GR"],
                 subjects=["MA"], status="approved", allowsUse=True, dpaStatus="signed", dpaExpires=today + timedelta(days=300),
                 processesPersonalData=True, transferOutsideEea=False, privacy="meets", freeUse=False, version=3)
    sealed = unknown_ref()  # Skolit's own events carry persons sealed (docs/decisions/0009)
    req = dict(requestId=request, schoolUnitId=school, districtId=district, requester=sealed, appId=app, appName="Matteappen")
    return [
        OrganisationUpserted(id=district, displayName="Område Norr", organisationType="Verksamhetsområde"),
        OrganisationUpserted(id=school, displayName="Ekbackens skola", organisationType="Skolenhet", schoolUnitCode="12345678",
                             municipalityCode="0180", schoolTypes=["GR", "FKLASS"], parentOrganisation=district, startDate=today),
        OrganisationEnded(id=school, endDate=today),
        PersonUpserted(id=person, securityMarking="Skyddad folkbokföring"),
        PersonRemoved(id=person),
        DutyAssigned(id=uuid.uuid4(), person=person, dutyAt=school, dutyRole="Rektor", signature="ABC"),
        DutyEnded(id=uuid.uuid4(), person=person, dutyAt=school, endDate=today),
        GuardianRelationAdded(id=uuid.uuid4(), guardian=person, pupil=other, schoolUnit=school, schoolType="GR", schoolYear=4),
        GuardianRelationEnded(id=uuid.uuid4(), guardian=person, pupil=other, schoolUnit=school, endDate=today),
        AppLaunchesCounted(appId=app, schoolUnitId=school, periodStart=today - timedelta(days=7), periodEnd=today, launches=120, activeUsers=30),
        SchoolFiguresReported(schoolUnitId=school, year=today.year, figures={"wifiCoverage": 0.97, "pupils": 412}),
        CampaignOpened(id=campaign, name="Runda 2026", year=today.year, deadline=today, schoolUnitIds=[school], openedBy="admin", frameworkVersion=1),
        CampaignClosed(id=campaign, closedBy="admin", closedAt=now, submitted=1, schoolUnits=2),
        FrameworkPublished(version=2, title=LocalText(sv="Ramverk", en="Framework"), previousVersion=1, carryForward={"a1": "a1"},
                           headings=[FrameworkHeading(id="A", title=LocalText(sv="Ledning", en="Leadership"), selfie=["x"], lika=["y"])],
                           indicators=[FrameworkIndicator(id="a1", heading="A", title=LocalText(sv="Mål", en="Goals"), schoolTypes=["GR"], required=True)]),
        AssessmentSubmitted(assessmentId=assessment, campaignId=campaign, schoolUnitId=school, districtId=district, year=today.year,
                            frameworkVersion=1, submittedAt=now, submittedBy=sealed, submission=1,
                            indicators=[IndicatorLevel(indicatorId="a1", heading="A", level=3)],
                            headings=[HeadingLevel(heading="A", level=3, mean=3.0, answered=1, notRelevant=0, indicators=1)],
                            pulse=[PulseGroupResult(group="staff", respondents=7, headings=[PulseHeading(heading="A", mean=3.4)])]),
        AssessmentReopened(assessmentId=assessment, campaignId=campaign, schoolUnitId=school, reopenedBy="admin", reopenedAt=now, deadline=today),
        ActionPlanChanged(actionId=uuid.uuid4(), schoolUnitId=school, assessmentId=assessment, heading="A", indicatorId="a1",
                          status="in_progress", deadline=today, change="created", changedAt=now),
        AppPublished(**facts, publishedBy="editor"),
        AppChanged(**facts, changedFields=["name"], changedBy="editor"),
        AppStatusChanged(**facts, previousStatus="review", reason="klar", changedBy="editor"),
        AppRetired(**facts, retiredBy="editor", reason="ersatt"),
        DpaExpired(appId=app, appName="Matteappen", expiredOn=today, statusBefore="approved", statusAfter="review", schoolUnitIds=[school]),
        LicenceExpiring(licenceId=licence, appId=app, appName="Matteappen", schoolUnitId=school, licenceType="site", seats=30,
                        expiresOn=today, daysLeft=10),
        AppRequestSubmitted(**req, newApp=False, submittedAt=now),
        AppRequestProgressed(**req, step="info_requested", by="reviewer", note="Vilka klasser?", at=now),
        AppRequestDecided(**req, decision="approved", conditions="Bara åk 4–6", decidedBy="reviewer", decidedAt=now),
        AppRequestStalled(**req, state="review", waitingSince=now - timedelta(days=9), daysWaiting=9),
        MessageDelivered(messageId=uuid.uuid4(), deliveryId=7, recipient=sealed, channel="email", messageType="broadcast", schoolUnitId=school),
        MessageFailed(messageId=uuid.uuid4(), deliveryId=8, recipient=sealed, channel="sms", state="bounced", reason="http-400",
                      messageType="broadcast", schoolUnitId=school, fallbackChannel="email"),
        GuardianReachMeasured(schoolUnitId=school, year=today.year, guardians=100, reached=87, share=0.87),
        IndicatorBelowTarget(schoolUnitId=school, districtId=district, year=today.year, indicator="wifiCoverage", value=0.5, target=0.9,
                             direction="higher"),
        ReportPublished(districtId=district, year=today.year, schoolUnitIds=[school], publishedBy="admin", publishedAt=now,
                        path=f"/annual-report/{today.year}"),
    ] + access_export_events() + erasure_events()


def access_export_events() -> list[Event]:
    """The right-of-access export's events (docs/decisions/0010): the person sealed, the parts sealed boxes."""
    from shared.events.assessment import AssessmentDataExported
    from shared.events.catalog import CatalogDataExported
    from shared.events.notification import AccessRequested
    from shared.events.reporting import ReportingDataExported

    request, now = uuid.uuid4(), datetime.now(UTC)
    key = "pk1.0b7e2a4e-6f1d-5c1a-9a51-3c2d1e000002.c2VhbGVkLXBlcnNvbi1pZC1ibG9i"
    part = "AAAA" * 40
    return [AccessRequested(requestId=request, person=key, publicKey="A" * 43 + "=", requestedAt=now),
            AssessmentDataExported(requestId=request, part=part, rows=12), CatalogDataExported(requestId=request, part=part, rows=3),
            ReportingDataExported(requestId=request, part=part, rows=0)]


def erasure_events() -> list[Event]:
    """Erasure's events (docs/decisions/0009): the city's request, notification's, and each service's confirmation."""
    from shared.events.assessment import AssessmentDataErased
    from shared.events.catalog import CatalogDataErased
    from shared.events.city import PersonErasureRequested
    from shared.events.notification import ErasureRequested, NotificationDataErased
    from shared.events.reporting import ReportingDataErased

    request, now = uuid.uuid4(), datetime.now(UTC)
    return [PersonErasureRequested(person=uuid.uuid4(), reasonCode="objection"),
            ErasureRequested(requestId=request, person=unknown_ref(), reasonCode="objection", requestedAt=now, requestedBy="city.ist", source="city"),
            AssessmentDataErased(requestId=request, erasedAt=now, counts={"duty": 1, "audit_log": 3}),
            CatalogDataErased(requestId=request, erasedAt=now, counts={"app_request": 1}),
            ReportingDataErased(requestId=request, erasedAt=now, counts={}),
            NotificationDataErased(requestId=request, erasedAt=now, counts={"contact": 1, "delivery": 4})]


EVENTS = real_events()
WIRES = [encode(new_envelope(e, "tests")) for e in EVENTS]
#: how each service judges a record (a known type another service wants is skipped), and one that takes every type
HANDLERS: dict[str, Handlers] = {spec.name: spec.all_handlers() for spec in (ASSESSMENT, CATALOG, REPORTING, NOTIFICATION)}
HANDLERS["every-type"] = Handlers({model: (lambda conn, env: None) for model in REGISTRY.values()})  # type: ignore[misc]


def test_the_samples_cover_every_contract() -> None:
    assert {type(e).TYPE for e in EVENTS} == set(REGISTRY), "add a sample for the new event type to real_events()"



# ---- strategies ---------------------------------------------------------------------------------

CE_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion", "content-type", "ce_time", "ce_subject",
              "dlq_original_topic", "dlq_original_partition", "dlq_original_offset", "dlq_reason")
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["", " ", "\x00", "a\x00b", "null", "1.0", "0.3", "1.0 ", "application/json", "application/json; charset=utf-8",
                     "application/cloudevents+json", "text/plain", "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00:00Z",
                     "2026-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59.999999-23:59", "yesterday",
                     "\ud7ff\ue000\U0010ffff", "Ω≈ç√∫˜µ≤≥÷", "𝕿𝖍𝖊", "‮RTL", *sorted(REGISTRY)[:5], "se.skolit.city.person.upserted.v2"]),
    st.integers(min_value=300, max_value=5000).map(lambda n: "x" * n),
    st.integers(min_value=3000, max_value=20000).map(lambda n: str(uuid.uuid4()) * (n // 36)),
)
header_value = st.one_of(nasty_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=60), st.none())
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63, max_value=2**70), st.floats(),
    nasty_text, st.just(""), st.just("x" * 100_000),
)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=8)


@st.composite
def valid_wire(draw: st.DrawFn) -> tuple[str, dict[str, bytes | None], bytes]:
    """A real event and, mostly, a service that consumes it (else one that skips it)."""
    wire = draw(st.sampled_from(WIRES))
    headers = dict(wire.headers)
    consumers = [name for name, h in HANDLERS.items() if h.for_type(headers["ce_type"].decode())]
    service = draw(st.sampled_from(consumers if draw(st.integers(0, 9)) else sorted(HANDLERS)))
    return service, headers, wire.value


@st.composite
def mutated_headers(draw: st.DrawFn, headers: dict[str, bytes | None]) -> list[tuple[str, bytes | None]]:
    headers = dict(headers)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.one_of(st.sampled_from(CE_HEADERS), st.text(max_size=12)))
        action = draw(st.sampled_from(["drop", "set", "retype"]))
        if action == "drop":
            headers.pop(name, None)
        elif action == "set":
            headers[name] = draw(header_value)
        else:  # the body of one contract under the name of another
            headers["ce_type"] = draw(st.sampled_from(sorted(REGISTRY))).encode()
    out = list(headers.items())
    if draw(st.booleans()) and out:
        out.append(draw(st.sampled_from(out)))  # the same header twice
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, prefix + (i,))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return doc


def _drop(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return doc
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return doc


@st.composite
def mutated_body(draw: st.DrawFn, value: bytes) -> bytes:
    doc = orjson.loads(value)
    raw_nesting: int | None = None
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        action = draw(st.sampled_from(["wrong-type", "wrong-type", "drop", "null", "extra", "huge", "unicode", "nest", "deep"]))
        if action == "wrong-type":
            doc = _set(doc, path, draw(json_value))
        elif action == "drop":
            doc = _drop(doc, path)
        elif action == "null":
            doc = _set(doc, path, None)
        elif action == "extra" and isinstance(doc, dict):
            doc[draw(st.text(max_size=10))] = draw(json_value)
        elif action == "huge":
            doc = _set(doc, path, "å" * draw(st.integers(10_000, 300_000)))
        elif action == "unicode":
            doc = _set(doc, path, draw(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=50)))
        elif action == "nest":
            depth = draw(st.integers(2, 200))
            nested: Any = draw(json_scalar)
            for _ in range(depth):
                nested = [nested] if draw(st.booleans()) else {"a": nested}
            doc = _set(doc, path, nested)
        elif action == "deep":
            raw_nesting = draw(st.integers(500, 5000))  # past orjson's depth limit of 1024, spelled out below
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")  # json: big integers, NaN
    if raw_nesting is not None:
        body = b'{"x":' + b"[" * raw_nesting + body + b"]" * raw_nesting + b"}"
    cut = draw(st.sampled_from(["none", "none", "none", "truncate", "flip", "bad-utf8"]))
    if cut == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif cut == "flip" and body:
        i = draw(st.integers(0, len(body) - 1))
        body = body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1:]
    elif cut == "bad-utf8":
        body = body.replace(b'"', b'"\xff\xfe', 1)
    return body


STRUCTURED = b"application/cloudevents+json"


def structured(headers: dict[str, bytes | None], value: bytes) -> bytes:
    """The same event in structured content mode: every attribute and the data in one JSON object."""
    doc: dict[str, Any] = {h.removeprefix("ce_"): (v or b"").decode() for h, v in headers.items() if h.startswith("ce_")}
    doc["datacontenttype"] = "application/json"
    doc["data"] = orjson.loads(value)
    return orjson.dumps(doc)


@st.composite
def mutated_structured(draw: st.DrawFn, headers: dict[str, bytes | None], value: bytes) -> bytes:
    doc = orjson.loads(structured(headers, value))
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["drop", "wrong-type", "data", "base64", "both", "not-object", "batch"]))
        name = draw(st.sampled_from(["id", "type", "source", "specversion", "time", "subject", "datacontenttype", "data"]))
        if action == "drop":
            doc.pop(name, None)
        elif action == "wrong-type":
            doc[name] = draw(json_value)
        elif action == "data" and isinstance(doc.get("data"), dict):
            doc["data"] = draw(json_value) if draw(st.booleans()) else _set(doc["data"], draw(st.sampled_from(_paths(doc["data"])))[:1] or ("x",), draw(json_value))
        elif action == "base64" and "data" in doc:
            import base64

            doc["data_base64"] = base64.b64encode(json.dumps(doc.pop("data"), ensure_ascii=False).encode("utf-8", "surrogatepass")).decode() if draw(st.booleans()) else draw(nasty_text)
        elif action == "both":
            doc["data_base64"] = "e30="
        elif action == "not-object":
            return json.dumps(draw(json_value), ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def hostile_record(draw: st.DrawFn) -> tuple[str, str, FakeRecord]:
    kind = draw(st.sampled_from(["random-bytes", "headers", "body", "headers+body", "valid", "structured", "structured-broken", "oversized"]))
    service, headers, value = draw(valid_wire())
    if kind in ("structured", "structured-broken"):
        body_s = structured(headers, value) if kind == "structured" else draw(mutated_structured(headers, value))
        extra = draw(st.lists(st.tuples(st.text(max_size=12), header_value), max_size=3))
        ctype = draw(st.sampled_from([STRUCTURED, STRUCTURED + b"; charset=UTF-8"] + ([b"application/cloudevents-batch+json"] if kind != "structured" else [])))
        header_list = [("content-type", ctype), *extra]
        record = FakeRecord(topic=draw(st.sampled_from(["skolit.city.organisation", "skolit.catalog"])), partition=draw(st.integers(0, 5)),
                            offset=draw(st.integers(0, 2**40)), key=draw(st.one_of(st.none(), st.binary(max_size=20))), value=body_s, headers=header_list)
        return kind, service, record
    if kind == "oversized":  # a valid event made too large by its body, a header or its key
        where = draw(st.sampled_from(["body", "header", "key"]))
        pad = b"x" * draw(st.integers(1_000_001, 1_200_000))
        header_list = list(headers.items()) + ([("padding", pad)] if where == "header" else [])
        body = value[:-1] + b',"padding":"' + pad + b'"}' if where == "body" else value
        record = FakeRecord(topic="skolit.city.organisation", partition=0, offset=draw(st.integers(0, 2**40)),
                            key=pad if where == "key" else None, value=body, headers=header_list)
        return kind, service, record
    if kind == "random-bytes":
        header_list = draw(st.lists(st.tuples(st.one_of(st.sampled_from(CE_HEADERS), st.text(max_size=12)), header_value), max_size=8))
        body: bytes | None = draw(st.one_of(st.binary(max_size=300), st.none()))
    else:
        header_list = draw(mutated_headers(headers)) if kind in ("headers", "headers+body") else list(headers.items())
        body = draw(mutated_body(value)) if kind in ("body", "headers+body") else value
    record = FakeRecord(topic=draw(st.sampled_from(["skolit.city.organisation", "skolit.catalog", "skolit.catalog.dlq"])),
                        partition=draw(st.integers(0, 5)), offset=draw(st.integers(0, 2**40)), key=draw(st.one_of(st.none(), st.binary(max_size=20))),
                        value=body, headers=header_list)
    return kind, service, record


# ---- the property -------------------------------------------------------------------------------

OUTCOMES: Counter[str] = Counter()
KINDS: Counter[str] = Counter()
PROCESSOR = {name: BatchProcessor(None, handlers, service=name, group=f"skolit-{name}") for name, handlers in HANDLERS.items()}  # type: ignore[arg-type]


def _storable(text: str, what: str) -> None:
    # PostgreSQL text cannot hold NUL: a NUL in the inbox row or a dead letter's headers fails the whole batch's transaction
    assert "\x00" not in text, f"{what} carries a NUL character: {text[:80]!r}"


def judge(service: str, record: FakeRecord) -> str:
    handlers = HANDLERS[service]
    item = decode_record(record, handlers)  # must never raise
    if item is None:
        ce_type = dict(record.headers).get("ce_type")
        if dict(record.headers).get("content-type", b"").startswith(STRUCTURED):
            ce_type = str(orjson.loads(record.value or b"{}").get("type")).encode()
        assert ce_type is not None and ce_type.decode("utf-8", "replace") in REGISTRY, "only a known type of another service is skipped"
        assert handlers.for_type(ce_type.decode()) is None
        return "skipped (another service's type)"
    assert isinstance(item, Decoded) and isinstance(item.inbox_id, str) and item.inbox_id
    _storable(item.inbox_id, "the inbox id")
    assert len(item.inbox_id.encode()) <= MAX_INBOX_ID_BYTES, f"an inbox id of {len(item.inbox_id.encode())} bytes does not fit the inbox's index"
    processor = PROCESSOR[service]
    if item.error is None:
        env = item.envelope
        assert env is not None and isinstance(env.data, Event)
        assert type(env.data) is REGISTRY[env.type] and handlers.for_type(env.type) is not None
        _storable(env.type, "the event type")
        processor._count(item, "applied")
        processor._observe_freshness([item])  # after the commit: must not fail either
        return "decoded"
    assert item.envelope is None
    assert isinstance(item.error, str) and item.error.strip(), "a dead letter needs a reason"
    assert item.error_class
    if record_bytes(record) > MAX_EVENT_BYTES:
        assert item.error_class == "RecordTooLarge" and item.inbox_id.startswith("kafka:"), "an oversized record is known by its coordinates"
    letter = dead_letter(item, service, processor.group)
    assert letter.size <= MAX_EVENT_BYTES, f"a dead letter of {letter.size} bytes does not fit the dead-letter topic"
    for name, value in letter.headers:
        _storable(name, "a dead letter's header name")
        _storable(value, f"the dead letter's header {name!r}")
    processor._count(item, "dead-lettered")
    return "dead-lettered"


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=hostile_record())
def test_every_record_is_decoded_or_dead_lettered_with_a_reason(case: tuple[str, str, FakeRecord]) -> None:
    kind, service, record = case
    outcome = judge(service, record)
    OUTCOMES[outcome] += 1
    KINDS[f"{kind} → {outcome}"] += 1


def test_made_up_types_do_not_grow_the_metrics() -> None:
    """Metrics are process-wide (other tests register and count types of their own), so this looks only for
    the made-up types it feeds in itself."""
    from shared import metrics
    from shared.events.envelope import encode, new_envelope
    from shared.events.city import OrganisationUpserted

    made_up = [f"se.skolit.fuzz.made-up-{uuid.uuid4().hex[:8]}.v1" for _ in range(3)]
    real = encode(new_envelope(OrganisationUpserted(id=uuid.uuid4(), displayName="S", organisationType="Skolenhet"), "tests"))
    for i, typ in enumerate(made_up):
        headers = [(k, typ.encode() if k == "ce_type" else v) for k, v in real.headers]
        assert judge("reporting", FakeRecord(real.topic, 0, i, real.key, real.value, headers)) == "dead-lettered"
    types = {s.labels["type"] for m in metrics.EVENTS_CONSUMED.collect() for s in m.samples if s.labels.get("service") == "reporting"}
    assert "unknown" in types and not types & set(made_up)


def _report() -> Any:
    yield
    if OUTCOMES:
        print(f"\ndecoder fuzz: {sum(OUTCOMES.values())} records: " + ", ".join(f"{k} {v}" for k, v in sorted(OUTCOMES.items())))
        print("  by input: " + ", ".join(f"{k} {v}" for k, v in sorted(KINDS.items())))
