"""What a consumer does with each record it reads, before anything is applied: types its
stage does not follow are dropped by their header without being decoded; a followed type on
a topic its emitter does not own, an unknown type and an undecodable record are refused."""

from __future__ import annotations

from dataclasses import dataclass

from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.examples import example_event
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.messaging import headers
from cityloop_shared.runtime.consumer import Delivery, Refusal, Sorter

from .stage import TOPOLOGY

SITE = "370212"


@dataclass
class Record:
    topic: str
    value: bytes
    headers: list[tuple[str, bytes]]
    key: bytes | None = b"case"
    partition: int = 0
    offset: int = 7


def record(stage: Stage, value: bytes, event_type: str | None) -> Record:
    found = [(headers.EVENT_TYPE, event_type.encode())] if event_type else []
    return Record(event_topic(SITE, stage, "ns"), value, found)


def sort(*records: Record) -> tuple[list[Delivery], list[Refusal]]:
    deliveries: list[Delivery] = []
    refusals: list[Refusal] = []
    Sorter(TOPOLOGY, SITE, "ns").sort(records, deliveries, refusals)
    return deliveries, refusals


def test_a_followed_event_from_its_emitters_topic_is_delivered() -> None:
    registered = example_event("case.registered")
    deliveries, refusals = sort(
        record(Stage.CASEFILE, encode(registered), "case.registered"),
        record(Stage.CASEFILE, encode(registered), None),
    )
    assert [d.event for d in deliveries] == [registered, registered]
    assert deliveries[0].source == "ns.cityloop.370212.casefile.v1/0/7"
    assert refusals == []


def test_a_type_the_stage_does_not_follow_is_dropped_unread() -> None:
    deliveries, refusals = sort(record(Stage.CASEFILE, b"not even JSON", "case.accepted"))
    assert (deliveries, refusals) == ([], [])


def test_an_unheaded_record_of_a_type_not_followed_is_dropped_once_read() -> None:
    accepted = example_event("case.accepted")
    assert sort(record(Stage.CASEFILE, encode(accepted), None)) == ([], [])


def test_an_unheaded_record_of_an_unknown_type_is_refused_once_read() -> None:
    deliveries, (refusal,) = sort(
        record(Stage.CASEFILE, b'{"event_type": "case.teleported"}', None)
    )
    assert deliveries == []
    assert refusal.reason == "unknown event_type 'case.teleported'"


def test_what_cannot_be_read_or_is_unknown_is_refused_with_the_reason() -> None:
    deliveries, refusals = sort(
        record(Stage.CASEFILE, b"not even JSON", "case.registered"),
        record(Stage.CASEFILE, b'{"event_type": "case.teleported"}', "case.teleported"),
    )
    assert deliveries == []
    assert [r.reason.split(":")[0] for r in refusals] == [
        "not JSON",
        "unknown event_type 'case.teleported'",
    ]
    assert refusals[0].body == b"not even JSON"


def test_a_followed_type_on_a_topic_its_emitter_does_not_own_is_refused() -> None:
    registered = example_event("case.registered")
    deliveries, (refusal,) = sort(record(Stage.INTAKE, encode(registered), "case.registered"))
    assert deliveries == []
    assert refusal.reason == (
        "case.registered may not arrive on ns.cityloop.370212.intake.v1: "
        "only the topics of casefile carry it"
    )
