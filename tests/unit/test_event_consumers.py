"""Every event has a consumer or is removed (issue 20): each event type in shared/events/ with the party that produces
it and the services that apply it (their handlers.py, their replicas of the city's data, their privacy part: what
``ServiceSpec.all_handlers`` runs). A type nobody applies fails, unless it is one of the written exceptions below,
each kept for a reason no consumer in Skolit stands for.

``python -m tests.unit.test_event_consumers`` prints the table."""

from __future__ import annotations

import pytest

from services.assessment.app import SPEC as ASSESSMENT
from services.catalog.app import SPEC as CATALOG
from services.notification.app import SPEC as NOTIFICATION
from services.reporting.app import SPEC as REPORTING
from shared.events.base import Event
from shared.events.registry import REGISTRY
from shared.service import ServiceSpec

SPECS: tuple[ServiceSpec, ...] = (ASSESSMENT, CATALOG, NOTIFICATION, REPORTING)

#: event types published with no consumer inside Skolit, on purpose: type → why it is kept
KEPT_WITHOUT_CONSUMER: dict[str, str] = {
    "se.skolit.assessment.framework-published.v1":
        "the announced record of each framework version (decision 0004): its headings, indicators and carry-forward map, for "
        "the city's own systems and for replay; Skolit's consumers get what they need in AssessmentSubmitted",
    "se.skolit.notification.message-delivered.v1":
        "the delivery record, ids only (decision 0007), for the city's systems and audit; Skolit's follow-up (reach, "
        "receipts, the unreached worklist) reads notification's own tables",
    "se.skolit.notification.message-failed.v1":
        "the failure record, ids and a reason code only (decision 0007), for the city's systems and audit; notification "
        "itself falls back and lists the unreached from its own tables",
}


def producers(model: type[Event]) -> list[str]:
    return [s.name for s in SPECS if model in s.produces]


def consumers(model: type[Event]) -> list[str]:
    return [s.name for s in SPECS if s.all_handlers().for_type(model.TYPE) is not None]


def table() -> list[tuple[str, str, list[str]]]:
    return [(model.TYPE, model.PRODUCER, consumers(model)) for _, model in sorted(REGISTRY.items())]


def render() -> str:
    rows = table()
    width = max(len(t) for t, _, _ in rows)
    return "\n".join(f"{t:<{width}}  {producer:<12}  {', '.join(by) or 'kept: ' + KEPT_WITHOUT_CONSUMER.get(t, 'NO CONSUMER')}"
                     for t, producer, by in rows)


def test_table_lists_every_event_type_with_its_producer_and_consumers() -> None:
    rows = table()
    assert len(rows) == len(REGISTRY) > 30
    by_type = {t: (producer, by) for t, producer, by in rows}
    assert by_type["se.skolit.catalog.app-request-submitted.v1"] == ("catalog", ["notification"])
    assert by_type["se.skolit.city.duty.assigned.v1"] == ("city", ["assessment", "catalog", "notification", "reporting"])
    assert "NO CONSUMER" not in render(), render()


@pytest.mark.parametrize("model", [m for _, m in sorted(REGISTRY.items())], ids=lambda m: m.__name__)
def test_every_event_has_a_consumer_or_a_written_reason(model: type[Event]) -> None:
    by = consumers(model)
    if model.TYPE in KEPT_WITHOUT_CONSUMER:
        assert not by, f"{model.__name__} is consumed by {', '.join(by)}: take it off KEPT_WITHOUT_CONSUMER"
        return
    assert by, (f"nobody consumes {model.__name__} ({model.TYPE}): give it a handler in the service it concerns, "
                "remove it, or write down in KEPT_WITHOUT_CONSUMER why it is kept")


@pytest.mark.parametrize("model", [m for _, m in sorted(REGISTRY.items())], ids=lambda m: m.__name__)
def test_every_skolit_event_has_its_declared_producer(model: type[Event]) -> None:
    """A Skolit event is published by the service its contract names (listed in that service's ``produces``) and by no
    other; the city's events come from the city's systems, which no service impersonates."""
    if model.PRODUCER == "city":
        assert producers(model) == []
    else:
        assert producers(model) == [model.PRODUCER]


def test_the_exceptions_are_real_event_types_with_reasons() -> None:
    for event_type, reason in KEPT_WITHOUT_CONSUMER.items():
        assert event_type in REGISTRY, f"{event_type} is no event type any more: take it off KEPT_WITHOUT_CONSUMER"
        assert len(reason) > 40


def test_the_workflow_events_of_issue_20_reach_notification() -> None:
    """The events that were published to nobody: requests submitted, progressed and stalled, a reopened self-assessment,
    an indicator below its target: notification turns each into messages."""
    expected = {"AppRequestSubmitted", "AppRequestProgressed", "AppRequestStalled", "AppRequestDecided", "AssessmentReopened",
                "IndicatorBelowTarget"}
    handled = {m.__name__ for m in REGISTRY.values() if NOTIFICATION.all_handlers().for_type(m.TYPE) is not None}
    assert expected <= handled


if __name__ == "__main__":
    print(render())
