"""JSON on the wire: encoding, decoding with upcasting, and redaction for analysts."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .envelope import CaseEvent
from .events.deadlines import LIFTED_FROM_V1, lift_v1
from .registry import EVENT_TYPES, AnyCaseEvent
from .values import PersonalData

RawEvent = dict[str, Any]
Upcaster = Callable[[RawEvent], RawEvent]

M = TypeVar("M", bound=BaseModel)

_ADAPTER: TypeAdapter[CaseEvent] = TypeAdapter(AnyCaseEvent)


class UndecodableEvent(ValueError):
    """A record that is not a case event of this contract; it belongs in a dead-letter topic."""


class Upcasters:
    """Steps that lift an old schema version of an event type to the next one.

    A replay of a years-old log still folds: each record is lifted, one version at a time,
    to the version the current model describes before it is validated.
    """

    def __init__(self, current_versions: Mapping[str, int] | None = None) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}
        self._current = current_versions or {
            name: model.model_fields["schema_version"].default
            for name, model in EVENT_TYPES.items()
        }

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def add(step: Upcaster) -> Upcaster:
            self._steps[(event_type, from_version)] = step
            return step

        return add

    def is_current(self, event: CaseEvent) -> bool:
        """Whether the event is of its type's current version: nothing to lift."""
        return event.schema_version >= self._current.get(event.event_type, 1)

    def upcast(self, raw: RawEvent) -> RawEvent:
        event_type = raw.get("event_type")
        if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
            raise UndecodableEvent(f"unknown event_type {event_type!r}")
        current = self._current.get(event_type, 1)
        version = raw.get("schema_version", 1)
        while isinstance(version, int) and version < current:
            step = self._steps.get((event_type, version))
            if step is None:
                raise UndecodableEvent(f"no upcaster for {event_type} v{version}")
            raw = step(raw)
            version += 1
            raw["schema_version"] = version
        return raw


UPCASTERS = Upcasters()
"""The contract's own upcasters."""
for _event_type, _carried in LIFTED_FROM_V1.items():
    UPCASTERS.register(_event_type, 1)(lift_v1(_carried))


def encode(event: CaseEvent) -> bytes:
    return event.model_dump_json().encode()


def decode(data: bytes | str, upcasters: Upcasters = UPCASTERS) -> CaseEvent:
    """Parse a record into its event model, or raise :class:`UndecodableEvent` saying why."""
    # The parser validates straight from the JSON text. What it reads as an old version is
    # read again below to be lifted (the current model may also fit it, with the old meaning);
    # what fails is read again to be lifted, or to say why.
    with contextlib.suppress(ValidationError):
        event = _ADAPTER.validate_json(data)
        if upcasters.is_current(event):
            return event
    try:
        raw = json.loads(data)
    except ValueError as error:
        raise UndecodableEvent(f"not JSON: {error}") from error
    if not isinstance(raw, dict):
        raise UndecodableEvent("not a JSON object")
    try:
        return _ADAPTER.validate_python(upcasters.upcast(raw))
    except ValidationError as error:
        raise UndecodableEvent(str(error)) from error


def redact(model: M) -> M:
    """The same model with every :class:`PersonalData` part replaced by ``None``."""
    updates: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, PersonalData):
            updates[name] = None
        elif isinstance(value, BaseModel):
            redacted = redact(value)
            if redacted is not value:
                updates[name] = redacted
    return model.model_copy(update=updates) if updates else model
