"""The analysts' form of every event type leaves out every field marked personal and keeps
every other: checked over every event type and every field, each personal field filled in
so its absence means something."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from cityloop_shared.contract.analytics import for_analysts, is_personal, personal_paths
from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.registry import EVENT_TYPES, payload_model
from cityloop_shared.contract.values import Attachment, GeoPoint, PublicReporter

pytestmark = pytest.mark.unit

PHOTO = Attachment(uri="https://media.cityloop.example/p/2.jpg", media_type="image/jpeg")
SAMPLES: dict[str, Any] = {
    "remarks": "张三说他家就在对面，电话 13800000000",
    "reason": "住户李四不同意施工",
    "description": "王五家门口的井盖没了",
    "instructions": "联系报告人 13900000000",
    "message": "请尽快联系投诉人",
    "attachments": (PHOTO,),
    "evidence": (PHOTO,),
    "external_id": "open311-token-1",
    "reporter": PublicReporter(name="张三", phone="13800000000", email="z@example.com"),
    "address": "香港东路 1 号 2 单元",
    "point": GeoPoint(lon=120.471, lat=36.101),
}
"""A value for every field marked personal, by its name: a new one fails until it has one."""


def filled(model: BaseModel) -> BaseModel:
    """The model with every personal field, its own and its parts', holding a value."""
    changes: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if is_personal(field):
            assert name in SAMPLES, f"{type(model).__name__}.{name} is personal: add a sample"
            changes[name] = SAMPLES[name]
        elif isinstance(value, BaseModel):
            changes[name] = filled(value)
    return model.model_copy(update=changes)


def paths(data: Any, prefix: str = "") -> set[str]:
    if isinstance(data, dict):
        found = set()
        for key, value in data.items():
            found.add(f"{prefix}{key}")
            found |= paths(value, f"{prefix}{key}.")
        return found
    if isinstance(data, list):
        return set().union(*(paths(item, prefix) for item in data)) if data else set()
    return set()


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_no_personal_field_reaches_the_analysts(event_type: str) -> None:
    event = example_event(event_type)
    full = event.model_copy(update={"payload": filled(event.payload)})
    personal = set(personal_paths(type(full)))
    carried = for_analysts(full)
    everything = paths(full.model_dump(mode="json"))
    assert personal & paths(carried) == set()
    kept_should = {
        p for p in everything if not any(p == q or p.startswith(f"{q}.") for q in personal)
    }
    assert paths(carried) == kept_should, "only personal fields are left out"
    assert "payload" in carried  # the payload is always there, if empty
    assert (carried["case_id"], carried["event_type"]) == (str(full.case_id), event_type)


def test_what_is_personal_is_named_once_and_published_in_the_schemas() -> None:
    """Every personal field of every payload, as the JSON Schemas show it (``x-personal``)."""
    marked = {
        path for event_type in EVENT_TYPES for path in personal_paths(payload_model(event_type))
    }
    assert {path.rsplit(".", 1)[-1] for path in marked} == set(SAMPLES)
    assert "location.grid_code" not in marked
    assert "location.point" in marked
