"""The published contract of a service as an AsyncAPI 3 document, from its declared topology:
the topic it publishes and the messages on it, the topics it reads and the messages it takes
from each (its own site's, and the other level's mirrored under the same names), each
message with its headers and its payload's JSON Schema. Served at ``/asyncapi.json`` and
kept under ``docs/asyncapi/``; ``topic_catalogue`` is the site's topics in one table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.schemas import event_schema, schema_file_name
from cityloop_shared.contract.topics import Stage, dead_letter_topic, event_topic
from cityloop_shared.contract.topology import Topology
from cityloop_shared.messaging import headers
from cityloop_shared.messaging.topics import EVENT_TOPIC_CONFIG

SITE_PARAMETER = {
    "description": "The site's 6-digit division code: a district (370212), or a city (370200)",
    "examples": ["370212", "370200"],
}


EXAMPLE_IDENTITY = {
    "event_id": UUID("01932f6e-8a40-7c4e-9a51-3f1d2c7b9e01"),
    "case_id": UUID("01932f6e-8a40-7c4e-9a51-3f1d2c7b9e02"),
    "correlation_id": UUID("01932f6e-8a40-7c4e-9a51-3f1d2c7b9e03"),
    "occurred_at": datetime(2026, 3, 10, 1, 0, tzinfo=UTC),
}
"""One example's ids and moment, so the published catalogue is the same at every run."""


def _channel_id(stage: Stage) -> str:
    return f"{stage.value}Events"


def _message_id(event_type: str) -> str:
    return event_type.replace(".", "_")


def asyncapi(topology: Topology) -> dict[str, Any]:
    """The AsyncAPI document of the stage ``topology`` declares."""
    stage = topology.stage
    taken: dict[Stage, set[str]] = {}
    for model in topology.follows:
        for emitter in model.emitted_by:
            if emitter is not stage and emitter is not Stage.SYNC:
                taken.setdefault(emitter, set()).add(model.type_name())
    for model in topology.follows_from_city | topology.follows_from_districts:
        for emitter in model.emitted_by:
            if emitter is not Stage.SYNC:
                taken.setdefault(emitter, set()).add(model.type_name())
    published = {model.type_name() for model in topology.emits}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for owner in Stage:
        types = set(taken.get(owner, set())) | (published if owner is stage else set())
        if not types:
            continue
        channels[_channel_id(owner)] = {
            "address": event_topic("{site}", owner),
            "title": f"{owner.value}'s case events",
            "parameters": {"site": SITE_PARAMETER},
            "messages": {
                _message_id(t): {"$ref": f"#/components/messages/{_message_id(t)}"}
                for t in sorted(types)
            },
        }
    if published:
        operations[f"publish{stage.value.capitalize()}Events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{_channel_id(stage)}"},
            "messages": [
                {"$ref": f"#/channels/{_channel_id(stage)}/messages/{_message_id(t)}"}
                for t in sorted(published)
            ],
        }
    for owner, types in sorted(taken.items()):
        operations[f"receive{owner.value.capitalize()}Events"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{_channel_id(owner)}"},
            "messages": [
                {"$ref": f"#/channels/{_channel_id(owner)}/messages/{_message_id(t)}"}
                for t in sorted(types)
            ],
        }
    used = sorted(published | {t for types in taken.values() for t in types})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"CityLoop {stage.value}",
            "version": "1",
            "description": (
                f"What the {stage.value} service publishes and reads. Topics are keyed by "
                "case id and keep every event (the log of record); a deployment may prefix "
                "them with a namespace. Payloads are the events' JSON Schemas "
                "(docs/schemas/)."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": {_message_id(t): _message(t) for t in used}},
    }


def _message(event_type: str) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    return {
        "name": event_type,
        "title": (model.__doc__ or event_type).strip().splitlines()[0],
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                headers.EVENT_TYPE: {"type": "string", "const": event_type},
                headers.EVENT_ID: {"type": "string", "format": "uuid"},
                headers.CASE_ID: {"type": "string", "format": "uuid"},
            },
        },
        "payload": event_schema(event_type),
        "x-schema-file": f"docs/schemas/{schema_file_name(event_type)}",
    }


def render(topology: Topology) -> str:
    return rendered(asyncapi(topology))


def rendered(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def topic_catalogue(topologies: Iterable[Topology]) -> str:
    """``docs/topics.md``: every topic of a site, who owns it, its key, the event types on it,
    its retention, who reads it, and an example record."""
    topologies = list(topologies)
    retention = (
        "forever (`retention.ms=-1`, never compacted)"
        if EVENT_TOPIC_CONFIG.get("retention.ms") == "-1"
        else f"`retention.ms={EVENT_TOPIC_CONFIG.get('retention.ms')}`"
    )
    lines = [
        "# Topic catalogue",
        "",
        "Generated from each service's `topology.py` by `uv run cityloop-topology`; a test fails",
        "when this page and the declarations disagree. Each service's AsyncAPI document is under",
        "`docs/asyncapi/` and served at `/asyncapi.json`. `{site}` is the site's division code;",
        "a deployment may prefix every topic with a namespace (`CITYLOOP_TOPIC_NAMESPACE`).",
        "",
    ]
    for topology in topologies:
        if not topology.emits:
            continue
        stage = topology.stage
        readers = sorted(
            t.stage.value for t in topologies if t.stage is not stage and stage in _read_from(t)
        )
        example = example_event(sorted(m.type_name() for m in topology.emits)[0]).model_copy(
            update=EXAMPLE_IDENTITY
        )
        lines += [
            f"## `{event_topic('{site}', stage)}`",
            "",
            f"- **Owner**: {stage.value} (the only writer); dead letters: "
            f"`{dead_letter_topic('{site}', stage)}`",
            "- **Key**: the case id; a case's events on this topic are in one partition, in order",
            f"- **Retention**: {retention}",
            f"- **Read by**: {', '.join(readers) or '—'}",
            "- **Event types**: "
            + ", ".join(
                f"`{m.type_name()}`" for m in sorted(topology.emits, key=lambda m: m.type_name())
            ),
            "",
            "Example record (value):",
            "",
            "```json",
            json.dumps(json.loads(example.model_dump_json()), indent=2, ensure_ascii=False),
            "```",
            "",
        ]
    return "\n".join(lines)


def _read_from(topology: Topology) -> set[Stage]:
    models = topology.follows | topology.follows_from_city | topology.follows_from_districts
    return {emitter for model in models for emitter in model.emitted_by}


def mirror_asyncapi() -> dict[str, Any]:
    """The sync service's document: it reads every case topic of each district (and the
    city's, on the city's cluster) and writes each record unchanged to the topic of the same
    name on the other level's cluster (a district's up, the city's events about the
    district's cases down), besides keeping the city-level projection."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for owner in Stage:
        types = sorted(m.type_name() for m in EVENT_TYPES.values() if owner in m.emitted_by)
        if not types:
            continue
        channel = _channel_id(owner)
        channels[channel] = {
            "address": event_topic("{site}", owner),
            "title": f"{owner.value}'s case events, on either level's cluster",
            "parameters": {"site": SITE_PARAMETER},
            "messages": {
                _message_id(t): {"$ref": f"#/components/messages/{_message_id(t)}"} for t in types
            },
        }
        refs = [{"$ref": f"#/channels/{channel}/messages/{_message_id(t)}"} for t in types]
        operations[f"read{owner.value.capitalize()}Events"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": refs,
        }
        operations[f"mirror{owner.value.capitalize()}Events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": refs,
            "description": "The same record, on the other level's cluster",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CityLoop sync",
            "version": "1",
            "description": mirror_asyncapi.__doc__ or "",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": {_message_id(t): _message(t) for t in sorted(EVENT_TYPES)}},
    }
