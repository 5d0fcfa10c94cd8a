"""Reading operators' files into records, with every failure turned into a problem line.

Records are numbered the way an operator finds them: a CSV row by its line in the file (the
header is row 1), a YAML entry by its position in the list and its line, a GeoJSON feature
by its position (from 1).
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cityloop_shared.reference.errors import ReferenceDataError, problem

Model = TypeVar("Model", bound=BaseModel)

Located = tuple[str, object]
"""A record still to validate and where it was found (``row 7``, ``entry 3 (line 12)``)."""


def read_text(path: Path) -> str:
    """The file's text; a byte-order mark, as spreadsheet programs write, is dropped."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReferenceDataError([problem(path.name, None, f"file not found ({path})")]) from None
    except UnicodeDecodeError as exc:
        text = f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
        raise ReferenceDataError([problem(path.name, None, text)]) from None
    except OSError as exc:
        raise ReferenceDataError([problem(path.name, None, f"cannot be read: {exc}")]) from None


def csv_rows(
    path: Path, *, required: Sequence[str], optional: Sequence[str] = ()
) -> list[tuple[str, dict[str, str]]]:
    """Rows as mappings of column to text; blank rows and rows starting with ``#`` are skipped.

    Empty cells are left out, so a required field left empty reads as missing.
    """
    source = path.name
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header: list[str] | None = None
    rows: list[tuple[str, dict[str, str]]] = []
    problems: list[str] = []
    for record in reader:
        if not any(cell.strip() for cell in record) or record[0].strip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip() for cell in record]
            where = f"row {reader.line_num}"
            problems.extend(_header_problems(source, where, header, required, optional))
            if problems:
                raise ReferenceDataError(problems)
            continue
        where = f"row {reader.line_num}"
        if len(record) != len(header):
            text = f"has {len(record)} cells but the header has {len(header)}"
            problems.append(problem(source, where, text))
            continue
        cells = {column: cell.strip() for column, cell in zip(header, record, strict=True)}
        rows.append((where, {column: cell for column, cell in cells.items() if cell}))
    if header is None:
        problems.append(problem(source, None, f"no header row (expected {', '.join(required)})"))
    if problems:
        raise ReferenceDataError(problems)
    return rows


def _header_problems(
    source: str, where: str, header: list[str], required: Sequence[str], optional: Sequence[str]
) -> list[str]:
    known = [*required, *optional]
    problems = [
        problem(source, where, f"missing column '{name}'")
        for name in required
        if name not in header
    ]
    problems += [
        problem(source, where, f"unknown column '{name}' (expected {', '.join(known)})")
        for name in header
        if name not in known
    ]
    problems += [
        problem(source, where, f"column '{name}' appears twice")
        for name in sorted(set(header))
        if header.count(name) > 1
    ]
    return problems


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: dates stay text for the models to parse, so an
    impossible date like 2026-02-30 is reported at its field instead of failing the file."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_document(path: Path) -> tuple[object, yaml.Node | None]:
    """The parsed document and its node tree (the tree tells each entry's line)."""
    loader = _Loader(read_text(path))
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else None
        reason = exc.problem or exc.context or "syntax error"
        raise ReferenceDataError([problem(path.name, where, f"not valid YAML: {reason}")]) from None
    except (yaml.YAMLError, ValueError) as exc:
        # PyYAML's constructors raise ValueError for values their tags cannot hold.
        raise ReferenceDataError([problem(path.name, None, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    return data, node


def yaml_mapping(path: Path, *, allowed: Sequence[str]) -> tuple[dict[str, Any], yaml.Node | None]:
    """A document that must be a mapping whose keys are among ``allowed``."""
    data, node = yaml_document(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        text = f"must be a mapping with the keys {', '.join(allowed)}"
        raise ReferenceDataError([problem(path.name, None, text)])
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        text = f"unknown key '{unknown[0]}' (expected {', '.join(allowed)})"
        raise ReferenceDataError([problem(path.name, None, text)])
    return data, node


def yaml_entries(path: Path, key: str) -> list[Located]:
    """The entries of the list under ``key`` in a document that holds only that list."""
    data, node = yaml_mapping(path, allowed=[key])
    entries = data.get(key)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ReferenceDataError([problem(path.name, None, f"'{key}' must be a list of entries")])
    lines = _item_lines(node, key)
    return [
        (f"entry {number} (line {lines[number - 1]})" if lines else f"entry {number}", entry)
        for number, entry in enumerate(entries, start=1)
    ]


def _item_lines(node: yaml.Node | None, key: str) -> list[int]:
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value_node.value]
    return []


def validate(
    model: type[Model],
    source: str,
    records: Iterable[Located],
    context: Mapping[str, object] | None = None,
) -> list[tuple[str, Model]]:
    """Validate every record, collecting the problems of all of them before refusing the file."""
    valid: list[tuple[str, Model]] = []
    problems: list[str] = []
    for where, data in records:
        try:
            valid.append((where, model.model_validate(data, context=context)))
        except ValidationError as exc:
            problems.extend(problem(source, where, describe(error)) for error in exc.errors())
    if problems:
        raise ReferenceDataError(problems)
    return valid


def describe(error: ErrorDetails) -> str:
    """One validation error as an operator reads it: field, offending value, what is wrong."""
    field = _field_path(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return f"{field} is required"
    if kind == "extra_forbidden":
        return f"{field} is not a known field"
    if kind in ("model_type", "dict_type") and not error["loc"]:
        return "must be a mapping of field: value"
    if kind in ("tuple_type", "list_type", "frozen_set_type", "set_type"):
        return f"{field} must be a list"
    if kind == "value_error":
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = error["msg"][:1].lower() + error["msg"][1:]
    value = error["input"]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        separator = " " if kind == "value_error" else ": "
        return f"{field} {value!r}{separator}{message}"
    return f"{field}: {message}"


def _field_path(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "record"
    return " ".join(f"#{part + 1}" if isinstance(part, int) else part for part in loc)
