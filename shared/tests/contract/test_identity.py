"""Ids, case numbers, sites, topics and the per-case hash chain."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cityloop_shared.contract import (
    CaseEvent,
    CaseKind,
    SiteLevel,
    Stage,
    case_number,
    city_of,
    dead_letter_topic,
    event_topic,
    new_id,
    site_level,
    verify_chain,
)
from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.ids import derived_id


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert [i.bytes[:6] for i in ids] == sorted(i.bytes[:6] for i in ids)
    assert {i.version for i in ids} == {7}


def test_a_derived_id_is_the_same_for_the_same_seed_and_moment() -> None:
    """What a reaction derives from its cause gets the same id when a replay derives it."""
    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    first = derived_id(at, "dispatch", "cause", 0)
    assert first == derived_id(at, "dispatch", "cause", 0)
    assert first.version == 7
    assert (
        len({first, derived_id(at, "dispatch", "cause", 1), derived_id(at, "x", "cause", 0)}) == 3
    )
    later = derived_id(at + timedelta(milliseconds=1), "dispatch", "cause", 0)
    assert first.bytes[:6] < later.bytes[:6]
    assert int.from_bytes(first.bytes[:6]) == int(at.timestamp() * 1000)


def test_case_numbers_of_two_sites_never_collide() -> None:
    day = date(2026, 11, 25)
    laoshan = {case_number("370212", CaseKind.EVENT, "06001", day, n) for n in range(1, 500)}
    shinan = {case_number("370202", CaseKind.EVENT, "06001", day, n) for n in range(1, 500)}
    assert not laoshan & shinan
    assert case_number("370212", CaseKind.COMPONENT, "01002", day, 7) == "370212C010022026112500007"
    with pytest.raises(ValueError, match="sequence"):
        case_number("370212", CaseKind.EVENT, "06001", day, 0)


def test_site_levels() -> None:
    assert site_level("370200") is SiteLevel.CITY
    assert site_level("370212") is SiteLevel.DISTRICT
    assert city_of("370212") == "370200"
    for bad in ("37021", "370000", "abcdef"):
        with pytest.raises(ValueError, match="site"):
            site_level(bad)


def test_each_stage_of_each_site_owns_its_topics() -> None:
    assert event_topic("370212", Stage.DISPATCH) == "cityloop.370212.dispatch.v1"
    assert dead_letter_topic("370212", Stage.DISPATCH) == "cityloop.370212.dispatch.dlq.v1"
    names = {event_topic(site, stage) for site in ("370212", "370202") for stage in Stage}
    assert len(names) == 2 * len(Stage)


def _stream() -> list[CaseEvent]:
    first, second = new_id(), new_id()
    a1 = example_event("case.reported", first)
    b1 = example_event("case.reported", second)
    a2 = example_event("case.accepted", first, a1.link())
    a3 = example_event("case.registered", first, a2.link())
    b2 = example_event("case.accepted", second, b1.link())
    return [a1, b1, a2, a3, b2]


def test_an_intact_stream_verifies() -> None:
    assert verify_chain(_stream()) == []


def test_altering_removing_or_reordering_an_event_is_detected() -> None:
    stream = _stream()
    altered = list(stream)
    altered[2] = stream[2].model_copy(
        update={"actor": stream[0].actor.model_copy(update={"id": "x"})}
    )
    assert [b.event_id for b in verify_chain(altered)] == [stream[3].event_id]

    removed = [e for e in stream if e is not stream[2]]
    assert [b.event_id for b in verify_chain(removed)] == [stream[3].event_id]

    reordered = [stream[0], stream[1], stream[3], stream[2], stream[4]]
    assert verify_chain(reordered)
