"""What analysts receive of a case event: the event with every field marked personal left out
(:data:`~cityloop_shared.contract.values.PERSONAL`) — a public reporter's name, phone and
email, the free text that may name or describe a person (descriptions, remarks, reasons,
instructions, messages), photos, an exact point or address, a channel's own id that leads
back to the reporter. The grid, category, channel, level, urgency, times, deadlines, steps,
departments and outcomes stay, so hotspots, time limits and results can be studied.
Operators with the right role read the full record from the case topics.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .envelope import CaseEvent
from .values import PERSONAL, PersonalData


def is_personal(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and all(extra.get(k) == v for k, v in PERSONAL.items())


def for_analysts(event: CaseEvent) -> dict[str, Any]:
    """The event as the analytics stream carries it (JSON values)."""
    return _kept(event, event.model_dump(mode="json"))


def _kept(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if is_personal(field) or isinstance(value, PersonalData):
            continue
        kept[name] = _value(value, dumped[name])
    return kept


def _value(value: Any, dumped: Any) -> Any:
    if isinstance(value, BaseModel):
        return _kept(value, dumped)
    if isinstance(value, tuple | list):
        return [_value(item, part) for item, part in zip(value, dumped, strict=True)]
    return dumped


def personal_paths(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every path to a field marked personal in ``model`` and the models it holds."""
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if is_personal(field):
            yield path
            continue
        for inner in _models_in(field.annotation):
            yield from personal_paths(inner, f"{path}.")


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in getattr(annotation, "__args__", ()):
        yield from _models_in(argument)
