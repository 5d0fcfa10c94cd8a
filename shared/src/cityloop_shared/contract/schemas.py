"""JSON Schema for every event type, as published to analysts under ``docs/schemas/``.

Run ``python -m cityloop_shared.contract.schemas docs/schemas`` to write them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .registry import EVENT_TYPES


def schema_file_name(event_type: str) -> str:
    version = EVENT_TYPES[event_type].model_fields["schema_version"].default
    return f"{event_type}.v{version}.schema.json"


def event_schema(event_type: str) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://cityloop.example/schemas/{schema_file_name(event_type)}"
    return schema


def render(event_type: str) -> str:
    return json.dumps(event_schema(event_type), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in sorted(EVENT_TYPES):
        path = directory / schema_file_name(event_type)
        path.write_text(render(event_type), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(path)
