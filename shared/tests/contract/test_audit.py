"""A log's chains, verified from the records as written: an altered, a missing and a swapped
event are each found, and named by where they stand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cityloop_shared.contract.audit import (
    JournalEntry,
    LoggedRecord,
    compare_with_journal,
    heads,
    verify_log,
)
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.testing.stories import Story

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def casefile_log() -> tuple[list[CaseEvent], list[LoggedRecord]]:
    """One case's casefile events (accepted, registered, voided) in one partition."""
    story = (
        Story()
        .reported(T0, by="sv-1")
        .accepted(T0 + timedelta(minutes=1), by="op-1")
        .registered(T0 + timedelta(minutes=2), by="chief-1")
        .voided(T0 + timedelta(minutes=3), by="chief-1")
    )
    ours = [e for e in story.events if e.event_type != "case.reported"]
    records = [
        LoggedRecord("cityloop.370212.casefile.v1", 0, 10 + i, encode(e))
        for i, e in enumerate(ours)
    ]
    return ours, records


def test_an_untouched_log_holds() -> None:
    events, records = casefile_log()
    assert verify_log(records) == []
    (head,) = heads(records).values()
    assert head == (events[-1].sequence, events[-1].link().event_hash)


def test_an_altered_event_is_named_by_the_link_that_breaks() -> None:
    events, records = casefile_log()
    raw = json.loads(records[1].value)
    raw["payload"]["grid_code"] = "370212003003001"
    records[1] = LoggedRecord(records[1].topic, 0, records[1].offset, json.dumps(raw).encode())
    (broken,) = verify_log(records)
    assert (broken.event_id, broken.offset) == (events[2].event_id, 12)
    assert f"event {events[1].event_id} at cityloop.370212.casefile.v1/0/11" in broken.reason
    assert "altered" in broken.reason


def test_a_missing_event_and_a_swap_are_found_where_they_are() -> None:
    events, records = casefile_log()
    (gap,) = verify_log([records[0], records[2]])
    assert (gap.event_id, gap.offset) == (events[2].event_id, 12)
    assert "1 event(s) of the case are missing" in gap.reason
    swapped = verify_log([records[1], records[0], records[2]])
    assert swapped[0].event_id == events[1].event_id
    assert "sequence 2, expected 1" in swapped[0].reason


def test_the_last_event_altered_shows_against_the_stored_head() -> None:
    events, records = casefile_log()
    raw = json.loads(records[-1].value)
    raw["payload"]["reason"] = "另有原因"
    records[-1] = LoggedRecord(records[-1].topic, 0, 12, json.dumps(raw).encode())
    assert verify_log(records) == []  # nothing after it names it ...
    (head,) = heads(records).values()
    assert head != (events[-1].sequence, events[-1].link().event_hash)  # ... its head does


def test_a_record_that_is_no_case_event_is_named() -> None:
    (broken,) = verify_log([LoggedRecord("t", 1, 7, b"{nope")])
    assert (broken.partition, broken.offset, broken.case_id) == (1, 7, None)


def test_the_journal_names_what_the_log_lost_or_changed() -> None:
    events, records = casefile_log()
    journal = [JournalEntry(e.case_id, e.event_id, e.sequence, e.link().event_hash) for e in events]
    assert compare_with_journal(records, journal) == []
    raw = json.loads(records[-1].value)
    raw["payload"]["reason"] = "另有原因"
    altered = [*records[:1], LoggedRecord(records[-1].topic, 0, 12, json.dumps(raw).encode())]
    problems = compare_with_journal(altered, journal)
    assert problems == [
        f"case {events[1].case_id}, event {events[1].event_id} (sequence 2): "
        "in the journal, not in the log: removed",
        f"case {events[2].case_id}, event {events[2].event_id} at "
        "cityloop.370212.casefile.v1/0/12: its content differs from what the service decided: "
        "altered",
    ]
