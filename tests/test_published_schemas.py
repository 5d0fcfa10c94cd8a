"""No published event schema is broken without a new version: every revision of every schema
file ever committed under docs/schemas is compared with what the code publishes now for that
type and version; a change that would break a reader needs a new schema_version (and an
upcaster from the old one). Every version ever published stays published."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cityloop_shared.contract.compatibility import breaking_changes
from cityloop_shared.contract.registry import EVENT_TYPES
from cityloop_shared.contract.schemas import event_schema

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "docs" / "schemas"
NAME = re.compile(r"^(?P<type>.+)\.v(?P<version>\d+)\.schema\.json$")


def git(*arguments: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(
            f"this check reads the repository's history: git {arguments}: {done.stderr}"
        )
    return done.stdout


def published() -> list[tuple[str, int, str]]:
    """(event type, version, path) of every schema file the history holds."""
    found = set()
    for line in git("log", "--all", "--name-only", "--format=", "--", "docs/schemas").splitlines():
        match = NAME.match(Path(line).name)
        if match and line.startswith("docs/schemas/"):
            found.add((match["type"], int(match["version"]), line))
    return sorted(found)


def current_version(event_type: str) -> int:
    version: int = EVENT_TYPES[event_type].model_fields["schema_version"].default
    return version


def test_every_version_ever_published_is_still_published() -> None:
    history = published()
    assert history, "no schema in the history"
    for event_type, version, path in history:
        assert (ROOT / path).exists(), f"{path} was published: keep it"
        if event_type in EVENT_TYPES:
            assert version <= current_version(event_type), path


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_no_published_revision_of_the_current_version_is_broken(event_type: str) -> None:
    version = current_version(event_type)
    path = f"docs/schemas/{event_type}.v{version}.schema.json"
    now = event_schema(event_type)
    for revision in git("log", "--all", "--format=%H", "--", path).split():
        old = json.loads(git("show", f"{revision}:{path}"))
        broken = breaking_changes(old, now)
        assert broken == [], (
            f"{event_type} v{version} as published in {revision[:10]} is broken by {broken}: "
            f"raise its schema_version and register an upcaster from v{version}"
        )
