"""What needs a new version of an event type: a removed field, a changed type, a newly
required field, a dropped enumeration value; not an added optional field or value."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cityloop_shared.contract.compatibility import breaking_changes
from cityloop_shared.contract.schemas import event_schema

pytestmark = pytest.mark.unit


def registered() -> dict[str, Any]:
    return event_schema("case.registered")


def payload(schema: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = schema["$defs"]["CaseRegisteredPayload"]
    return found


def test_the_same_schema_breaks_nothing() -> None:
    assert breaking_changes(registered(), registered()) == []


def test_an_added_optional_field_and_value_break_nothing() -> None:
    new = registered()
    payload(new)["properties"]["note"] = {"type": "string", "default": ""}
    new["$defs"]["ClockStep"]["enum"].append("patrol")
    assert breaking_changes(registered(), new) == []


@pytest.mark.parametrize(
    ("change", "reported"),
    [
        (lambda s: payload(s)["properties"].pop("grid_code"), "$.payload.grid_code: removed"),
        (
            lambda s: payload(s)["properties"].__setitem__("case_number", {"type": "integer"}),
            "$.payload.case_number: type ['string'] became ['integer']",
        ),
        (
            lambda s: s["$defs"]["ClockStep"]["enum"].remove("dispatch"),
            "values ['dispatch'] are no longer allowed",
        ),
        (
            lambda s: (
                payload(s)["properties"].__setitem__("officer", {"type": "string"}),
                payload(s)["required"].append("officer"),
            ),
            "$.payload.officer: now required",
        ),
    ],
)
def test_what_breaks_is_named(change: Any, reported: str) -> None:
    new = copy.deepcopy(registered())
    change(new)
    assert any(reported in found for found in breaking_changes(registered(), new)), (
        breaking_changes(registered(), new)
    )
