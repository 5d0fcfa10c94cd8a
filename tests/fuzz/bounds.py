"""Whether every number a client may send is bounded to what the database takes.

A number past a signed 64-bit integer (PostgreSQL's bigint, SQLite's integer) fails the
query it reaches; declared bounds make FastAPI refuse it with 422 naming the field instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

LARGEST = 2**63 - 1
SMALLEST = -(2**63)
_OPERATIONS = frozenset({"get", "put", "post", "delete", "patch"})


def unbounded_numbers(document: dict[str, Any]) -> list[str]:
    """Where an OpenAPI document's parameters and request bodies take an integer or a number
    without a minimum and a maximum within a signed 64-bit integer."""
    components = document.get("components", {}).get("schemas", {})
    found: list[str] = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _OPERATIONS:
                continue
            inputs = [
                (f"{parameter['in']} {parameter['name']}", parameter.get("schema", {}))
                for parameter in operation.get("parameters", [])
            ]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                inputs.append(("body", media.get("schema", {})))
            for where, schema in inputs:
                label = f"{method.upper()} {path} {where}"
                found.extend(_unbounded(schema, components, label, set()))
    return sorted(set(found))


def _unbounded(
    schema: Any, components: dict[str, Any], where: str, seen: set[str]
) -> Iterator[str]:
    if isinstance(schema, list):
        for item in schema:
            yield from _unbounded(item, components, where, seen)
        return
    if not isinstance(schema, dict):
        return
    reference = schema.get("$ref")
    if isinstance(reference, str):
        name = reference.rpartition("/")[2]
        if name not in seen:
            yield from _unbounded(components.get(name, {}), components, where, seen | {name})
        return
    if schema.get("type") in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None or high is None or low < SMALLEST or high > LARGEST:
            yield where
    for name, value in (schema.get("properties") or {}).items():
        yield from _unbounded(value, components, f"{where}.{name}", seen)
    for key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
        yield from _unbounded(schema.get(key), components, where, seen)
