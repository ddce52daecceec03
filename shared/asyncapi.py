"""AsyncAPI 3.0 documents built from the event contracts: each service serves its own at
/asyncapi.json; ``python -m services asyncapi`` writes the combined one to docs/asyncapi.json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.events.base import Event
from shared.events.envelope import CONTENT_TYPE, STRUCTURED_CONTENT_TYPE
from shared.events.registry import REGISTRY
from shared.topics import BY_NAME, MAX_EVENT_BYTES, MAX_MESSAGE_BYTES

if TYPE_CHECKING:
    from shared.service import ServiceSpec

CE_HEADERS = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes, Kafka binary content mode (what Skolit publishes; inbound, structured mode "
    f"with content-type {STRUCTURED_CONTENT_TYPE} carries the same attributes in the body instead)",
    "required": ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "content-type"],
    "properties": {
        "ce_id": {"type": "string", "description": "Unique per source; consumers deduplicate on it"},
        "ce_type": {"type": "string", "description": "Versioned type, e.g. se.skolit.assessment.campaign-opened.v1"},
        "ce_source": {"type": "string", "description": "The producing service or city system"},
        "ce_specversion": {"const": "1.0"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "Id of the entity the event is about"},
        "content-type": {"const": CONTENT_TYPE},
    },
}


def _message_name(model: type[Event]) -> str:
    return model.__name__


def _channel_id(topic: str) -> str:
    return topic.replace(".", "-")


def document(specs: list[ServiceSpec], *, include_city: bool = False, title: str | None = None) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def add_message(model: type[Event]) -> str:
        name = _message_name(model)
        if name not in messages:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas[def_name] = definition
            schemas[name] = schema
            messages[name] = {
                "name": model.TYPE,
                "title": name,
                "summary": (model.__doc__ or "").strip().split("\n")[0],
                "contentType": CONTENT_TYPE,
                "headers": CE_HEADERS,
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": f"the event's {model.KEY_FIELD}"}}},
                "x-producer": model.PRODUCER,
            }
        channel = _channel_id(model.TOPIC)
        ch = channels.setdefault(
            channel,
            {
                "address": model.TOPIC,
                "description": BY_NAME[model.TOPIC].description,
                "messages": {},
                "bindings": {"kafka": {"partitions": BY_NAME[model.TOPIC].partitions}},
            },
        )
        ch["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        return channel

    def add_operation(actor: str, action: str, model: type[Event]) -> None:
        channel = add_message(model)
        op_id = f"{actor}.{'publish' if action == 'send' else 'consume'}.{_message_name(model)}"
        operations[op_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{_message_name(model)}"}],
            "summary": f"{actor} {'publishes' if action == 'send' else 'applies'} {model.TYPE}",
        }

    for spec in specs:
        for model in spec.produces:
            add_operation(spec.name, "send", model)
        for model in spec.consumes():
            add_operation(spec.name, "receive", model)
    if include_city:
        for model in REGISTRY.values():
            if model.PRODUCER == "city":
                add_operation("city", "send", model)

    names = ", ".join(s.name for s in specs)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": title or f"Skolit {names}",
            "version": "0.1.0",
            "description": "Events between Skolit's services and the city's systems. CloudEvents 1.0 over Kafka: Skolit "
            "publishes binary content mode (attributes as ce_* headers, the data as the JSON body) and accepts binary and "
            f"structured mode ({STRUCTURED_CONTENT_TYPE}: the whole event as one JSON object). "
            "Message key = the school unit's id (or the entity's id where no school unit applies). "
            f"An event is at most {MAX_EVENT_BYTES} bytes (key, value and headers); topics carry max.message.bytes {MAX_MESSAGE_BYTES}; "
            "a larger record is dead-lettered as a bounded letter. "
            "Events carry ids, never contact details or personnummer.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"embedded": {"host": "127.0.0.1:19092", "protocol": "kafka", "description": "the embedded default (make run)"}},
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items())), "schemas": dict(sorted(schemas.items()))},
    }
