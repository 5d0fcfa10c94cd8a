"""Every event type round-trips through JSON and matches its published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cityloop_shared.contract import EVENT_TYPES, Stage, UndecodableEvent, decode, encode, redact
from cityloop_shared.contract.codec import Upcasters
from cityloop_shared.contract.events.casefile import CaseRegistered
from cityloop_shared.contract.events.deadlines import LIFTED_FROM_V1
from cityloop_shared.contract.events.dispatch import CaseDispatched
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.events.verification import CheckRequested
from cityloop_shared.contract.examples import PAYLOADS, example_event
from cityloop_shared.contract.schemas import event_schema, render, schema_file_name
from cityloop_shared.contract.values import ClockStep, Deadline

ALL_TYPES = sorted(EVENT_TYPES)
SCHEMA_DIR = Path(__file__).parents[3] / "docs" / "schemas"


def test_every_event_type_has_an_example_and_an_owner() -> None:
    assert set(PAYLOADS) == set(EVENT_TYPES)
    for model in EVENT_TYPES.values():
        assert model.emitted_by, model
        assert model.emitted_by <= set(Stage)


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_round_trips_through_json(event_type: str) -> None:
    event = example_event(event_type)
    decoded = decode(encode(event))
    assert type(decoded) is EVENT_TYPES[event_type]
    assert decoded == event
    assert encode(decoded) == encode(event)


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_validates_against_its_json_schema(event_type: str) -> None:
    schema = event_schema(event_type)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    instance = json.loads(encode(example_event(event_type)))
    validator.validate(instance)
    wrong_type = {**instance, "event_type": "case.nonsense"}
    assert not validator.is_valid(wrong_type)
    no_case = {k: v for k, v in instance.items() if k != "case_id"}
    assert not validator.is_valid(no_case)


@pytest.mark.parametrize("event_type", ALL_TYPES)
def test_published_schema_is_current(event_type: str) -> None:
    published = SCHEMA_DIR / schema_file_name(event_type)
    assert published.read_text(encoding="utf-8") == render(event_type), (
        "run: uv run python -m cityloop_shared.contract.schemas docs/schemas"
    )


def test_decode_names_what_is_wrong() -> None:
    with pytest.raises(UndecodableEvent, match="not JSON"):
        decode(b"{nope")
    with pytest.raises(UndecodableEvent, match="unknown event_type"):
        decode(b'{"event_type": "case.teleported"}')
    raw = json.loads(encode(example_event("case.reported")))
    raw["payload"]["location"]["grid_code"] = "123"
    with pytest.raises(UndecodableEvent, match="grid_code"):
        decode(json.dumps(raw))


def test_occurred_at_must_carry_a_timezone() -> None:
    raw = json.loads(encode(example_event("case.closed")))
    raw["occurred_at"] = "2026-11-25T10:00:00"
    with pytest.raises(UndecodableEvent, match="occurred_at"):
        decode(json.dumps(raw))


def test_upcasters_lift_an_old_version_before_validation() -> None:
    upcasters = Upcasters(current_versions={"case.reported": 3})

    @upcasters.register("case.reported", from_version=2)
    def rename_text(raw: dict[str, object]) -> dict[str, object]:
        payload = dict(raw["payload"])  # type: ignore[call-overload]
        payload["description"] = payload.pop("text")
        return {**raw, "payload": payload}

    old = json.loads(encode(example_event("case.reported")))
    old["payload"]["text"] = old["payload"].pop("description")
    event = decode(json.dumps(old), upcasters)
    assert isinstance(event, CaseReported)
    assert event.payload.description == PAYLOADS["case.reported"]["description"]
    assert event.schema_version == 3

    with pytest.raises(UndecodableEvent, match="no upcaster"):
        decode(json.dumps(old), Upcasters(current_versions={"case.reported": 3}))


def test_an_old_version_the_current_model_also_reads_is_lifted_all_the_same() -> None:
    """Version 2 still fits the model of version 3, but meant something else: it is lifted."""
    upcasters = Upcasters(current_versions={"case.reported": 3})

    @upcasters.register("case.reported", from_version=2)
    def quote_the_reporter(raw: dict[str, object]) -> dict[str, object]:
        payload = dict(raw["payload"])  # type: ignore[call-overload]
        payload["description"] = f"“{payload['description']}”"
        return {**raw, "payload": payload}

    event = decode(encode(example_event("case.reported")), upcasters)
    assert isinstance(event, CaseReported)
    assert event.payload.description == f"“{PAYLOADS['case.reported']['description']}”"
    assert event.schema_version == 3


class CountedUpcasters(Upcasters):
    """Upcasters that remember the type of every record they were asked to lift."""

    def __init__(self, current_versions: dict[str, int]) -> None:
        super().__init__(current_versions)
        self.asked: list[object] = []

    def upcast(self, raw: dict[str, object]) -> dict[str, object]:
        self.asked.append(raw.get("event_type"))
        return super().upcast(raw)


def test_a_type_with_nothing_to_lift_skips_the_upcasters_of_another() -> None:
    upcasters = CountedUpcasters(current_versions={"case.reported": 3})
    upcasters.register("case.reported", from_version=2)(lambda raw: raw)
    closed = example_event("case.closed")
    assert decode(encode(closed), upcasters) == closed
    assert upcasters.asked == []
    assert decode(encode(example_event("case.reported")), upcasters).schema_version == 3
    assert upcasters.asked == ["case.reported"]


def test_redaction_removes_personal_data_only() -> None:
    event = example_event("case.reported")
    assert isinstance(event, CaseReported)
    redacted = redact(event)
    assert redacted.payload.reporter is None
    assert redacted.payload.description == event.payload.description
    assert "13800000000" not in encode(redacted).decode()
    closed = example_event("case.closed")
    assert redact(closed) is closed


def v1(event_type: str, **payload_changes: object) -> dict[str, Any]:
    """The example of an event type as version 1 wrote it: no ``deadlines``."""
    raw = json.loads(encode(example_event(event_type)))
    raw["schema_version"] = 1
    del raw["payload"]["deadlines"]
    raw["payload"].update(payload_changes)
    return raw


def test_a_v1_dispatch_has_its_one_deadline_lifted_into_the_list() -> None:
    raw = v1("case.dispatched")
    event = decode(json.dumps(raw))
    assert isinstance(event, CaseDispatched)
    assert event.schema_version == 2
    assert event.payload.deadlines == (
        Deadline(step=ClockStep.DISPOSAL, due_at=event.payload.deadline),
    )


def test_a_v1_check_without_a_due_time_lifts_to_no_deadline() -> None:
    event = decode(json.dumps(v1("check.requested", due_at=None)))
    assert isinstance(event, CheckRequested)
    assert (event.schema_version, event.payload.deadlines) == (2, ())


def test_a_v1_registration_lifts_with_its_deadlines_unknown() -> None:
    event = decode(json.dumps(v1("case.registered")))
    assert isinstance(event, CaseRegistered)
    assert (event.schema_version, event.payload.deadlines) == (2, ())
    assert event.payload.due(ClockStep.DISPATCH) is None


@pytest.mark.parametrize("event_type", sorted(LIFTED_FROM_V1))
def test_every_timed_type_reads_its_v1_records(event_type: str) -> None:
    event = decode(json.dumps(v1(event_type)))
    assert event.event_type == event_type
    assert event.schema_version == 2
