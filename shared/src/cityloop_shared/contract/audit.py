"""Proving a log was not altered, cut short or reordered, from the records as they were
written: each event names the previous event of its case on its stream by sequence and by
the hash of that event's JSON, so a changed byte, a missing event or two swapped events
break a link, and the first broken link says where.

The hash is taken of the record as written (its JSON, canonicalised), never of the event a
reader decodes it into: an old version lifted by an upcaster reads differently from what
was hashed when it was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from .envelope import canonical_json


@dataclass(frozen=True, slots=True)
class LoggedRecord:
    """A record as a log holds it: where, and its bytes."""

    topic: str
    partition: int
    offset: int
    value: bytes
    logged_at_ms: int | None = None
    """When the log took it (the record's timestamp), where known."""

    @property
    def place(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class BrokenLink:
    """Where a case's chain on a stream does not hold, and why."""

    case_id: UUID | None
    event_id: UUID | None
    topic: str
    partition: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.topic}/{self.partition}/{self.offset}: case {self.case_id}, "
            f"event {self.event_id}: {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class _Link:
    sequence: int
    event_hash: str
    event_id: str
    place: str


def record_hash(raw: dict[str, Any]) -> str:
    """The hash the next event of the case names: of the record's JSON as written."""
    return hashlib.sha256(canonical_json(raw)).hexdigest()


def verify_log(records: Iterable[LoggedRecord]) -> list[BrokenLink]:
    """Every broken link of the records' chains, in log order (records of one partition in
    offset order; partitions in any order, as a case lives in one partition of a topic)."""
    broken: list[BrokenLink] = []
    last: dict[tuple[str, str], _Link] = {}
    for record in records:
        try:
            raw = json.loads(record.value)
            case_id, event_id = str(raw["case_id"]), str(raw["event_id"])
            sequence, previous_hash = raw["sequence"], raw["previous_hash"]
        except (ValueError, KeyError, TypeError) as error:
            broken.append(_broken(record, None, None, f"not a case event: {error}"))
            continue
        key = (record.topic, case_id)
        before = last.get(key)
        expected = before.sequence + 1 if before else 1
        if sequence != expected:
            reason = f"sequence {sequence}, expected {expected}: " + (
                f"{sequence - expected} event(s) of the case are missing before it"
                if isinstance(sequence, int) and sequence > expected
                else "it stands before an event it should follow (reordered or repeated)"
            )
            broken.append(_broken(record, case_id, event_id, reason))
        elif previous_hash != (before.event_hash if before else None):
            altered = f"event {before.event_id} at {before.place}" if before else "nothing"
            reason = f"previous_hash does not match {altered}: that event was altered"
            broken.append(_broken(record, case_id, event_id, reason))
        last[key] = _Link(
            sequence if isinstance(sequence, int) else expected,
            record_hash(raw),
            event_id,
            record.place,
        )
    return broken


def _broken(
    record: LoggedRecord, case_id: str | None, event_id: str | None, reason: str
) -> BrokenLink:
    return BrokenLink(
        UUID(case_id) if case_id else None,
        UUID(event_id) if event_id else None,
        record.topic,
        record.partition,
        record.offset,
        reason,
    )


def heads(records: Iterable[LoggedRecord]) -> dict[tuple[str, UUID], tuple[int, str]]:
    """The last link of each case on each stream: (topic, case) → (sequence, hash). A
    service's stored chain heads are compared with these, so even the last event of a case
    (which no later event names) is proved unaltered."""
    found: dict[tuple[str, UUID], tuple[int, str]] = {}
    for record in records:
        try:
            raw = json.loads(record.value)
            found[(record.topic, UUID(str(raw["case_id"])))] = (
                int(raw["sequence"]),
                record_hash(raw),
            )
        except (ValueError, KeyError, TypeError):
            continue
    return found


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """What a service's journal says it decided: the case, the event's place in the case's
    chain on the service's stream, and the event's hash."""

    case_id: UUID
    event_id: UUID
    sequence: int
    event_hash: str


def compare_with_journal(
    records: Iterable[LoggedRecord], journal: Iterable[JournalEntry]
) -> list[str]:
    """What the log of a service's own topic lacks or holds otherwise than the service's
    journal: an event the service decided that the log no longer has (removed), or has with
    other content (altered, even the last of a case)."""
    logged: dict[str, tuple[str, str]] = {}
    for record in records:
        try:
            raw = json.loads(record.value)
            logged[str(raw["event_id"])] = (record_hash(raw), record.place)
        except (ValueError, KeyError, TypeError):
            continue
    problems = []
    for entry in sorted(journal, key=lambda e: (str(e.case_id), e.sequence)):
        found = logged.get(str(entry.event_id))
        if found is None:
            problems.append(
                f"case {entry.case_id}, event {entry.event_id} (sequence {entry.sequence}): "
                "in the journal, not in the log: removed"
            )
        elif found[0] != entry.event_hash:
            problems.append(
                f"case {entry.case_id}, event {entry.event_id} at {found[1]}: "
                "its content differs from what the service decided: altered"
            )
    return problems
