"""Whether a new JSON Schema of an event type still reads what the published one described,
and still tells its readers the same: what a new version of the type is needed for.

A change breaks the published schema when it removes a field, changes a field's type,
makes a field required that was not, or drops a value of an enumeration. Adding an optional
field or an enumeration value does not: old records still validate, and readers that ignore
what they do not know read new ones.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(published: Schema, current: Schema) -> list[str]:
    """What ``current`` breaks of ``published``, as ``path: what``; empty if nothing."""
    found: list[str] = []
    _compare(published, current, published, current, "$", found, set())
    return found


def _resolve(node: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in node and seen < 32:
        reference: str = node["$ref"]
        target: Any = root
        for part in reference.removeprefix("#/").split("/"):
            target = target[part]
        node, seen = target, seen + 1
    return node


def _types(node: Schema, root: Schema) -> set[str]:
    node = _resolve(node, root)
    options: list[Schema] = node.get("anyOf") or node.get("oneOf") or []
    if options:
        return {kind for option in options for kind in _types(option, root)}
    kind = node.get("type")
    if isinstance(kind, list):
        return set(kind)
    if kind is not None:
        return {kind}
    if "const" in node:
        return {type(node["const"]).__name__}
    if "enum" in node:
        return {"enum"}
    return {"any"}


def _enum(node: Schema, root: Schema) -> set[Any] | None:
    node = _resolve(node, root)
    if "enum" in node:
        return set(node["enum"])
    if "const" in node:
        return {node["const"]}
    return None


def _compare(
    old: Schema,
    new: Schema,
    old_root: Schema,
    new_root: Schema,
    path: str,
    found: list[str],
    seen: set[tuple[int, int]],
) -> None:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    if (id(old), id(new)) in seen:
        return
    seen.add((id(old), id(new)))
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if "any" not in new_types and not old_types <= new_types | {"enum"}:
        found.append(f"{path}: type {sorted(old_types)} became {sorted(new_types)}")
        return
    old_values, new_values = _enum(old, old_root), _enum(new, new_root)
    if old_values is not None and new_values is not None and old_values - new_values:
        lost = sorted(map(str, old_values - new_values))
        found.append(f"{path}: values {lost} are no longer allowed")
    for option in ("anyOf", "oneOf"):
        if option in old and option in new:
            for old_option in old[option]:
                # An option kept (by type) is compared with its new self.
                kept = [
                    o for o in new[option] if _types(o, new_root) == _types(old_option, old_root)
                ]
                if kept:
                    _compare(old_option, kept[0], old_root, new_root, path, found, seen)
    old_properties: Schema = old.get("properties", {})
    new_properties: Schema = new.get("properties", {})
    for name, old_property in old_properties.items():
        if name not in new_properties:
            found.append(f"{path}.{name}: removed")
            continue
        _compare(
            old_property, new_properties[name], old_root, new_root, f"{path}.{name}", found, seen
        )
    newly_required = set(new.get("required", [])) - set(old.get("required", []))
    for name in sorted(newly_required):
        if (
            name in old_properties
            or name not in new_properties
            or "default" not in new_properties[name]
        ):
            found.append(f"{path}.{name}: now required")
    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], old_root, new_root, f"{path}[]", found, seen)
