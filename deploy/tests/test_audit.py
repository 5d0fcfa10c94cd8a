"""`cityloop-audit` over a site's log on the real broker: a log as the stages wrote it holds;
a forged, a missing and a swapped event are found and named by topic, partition, offset and
event id; one case's timeline is told in order, as a table, JSON or CSV."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer

from cityloop_deploy import audit
from cityloop_deploy.site_fixtures import UpstreamStage
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.topics import Stage, event_topic
from cityloop_shared.settings import ServiceSettings
from cityloop_shared.testing.stories import Story

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def story() -> Story:
    return (
        Story()
        .reported(T0, by="sv-370212-01")
        .accepted(T0 + timedelta(minutes=1), by="operator-1")
        .registered(T0 + timedelta(minutes=2), by="chief-1")
        .voided(T0 + timedelta(minutes=3), by="chief-1")
    )


def arguments(settings: ServiceSettings, *more: str) -> list[str]:
    assert settings.topic_namespace
    return [
        "--site",
        settings.site,
        "--namespace",
        settings.topic_namespace,
        "--bootstrap",
        settings.kafka.bootstrap_servers,
        *more,
    ]


async def write(settings: ServiceSettings, events: list[CaseEvent]) -> None:
    """As the stages' relays would, one partition per case; but in the order given."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            stage = next(iter(type(event).emitted_by))
            topic = event_topic(settings.site, stage, settings.topic_namespace)
            await producer.send_and_wait(
                topic, encode(event), key=str(event.case_id).encode(), partition=0
            )
    finally:
        await producer.stop()


async def test_a_log_as_written_holds_and_a_case_is_told_in_order(
    service_settings: ServiceSettings,
    upstream: Callable[[Stage], UpstreamStage],
    capsys: pytest.CaptureFixture[str],
) -> None:
    told = story()
    for event in told.events:
        await upstream(next(iter(type(event).emitted_by))).publish(event)
    assert audit.main(["verify", *arguments(service_settings)]) == 0
    assert "every chain holds" in capsys.readouterr().out

    case = str(told.case_id)
    assert (
        audit.main(["timeline", *arguments(service_settings, "--case", case, "--format", "json")])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["event_type"], r["actor"], r["role"]) for r in rows] == [
        ("case.reported", "sv-370212-01", "field_supervisor"),
        ("case.accepted", "operator-1", "acceptance_operator"),
        ("case.registered", "chief-1", "duty_chief"),
        ("case.voided", "chief-1", "duty_chief"),
    ]
    assert rows[-1]["why"] == "重复上报"
    assert rows[-1]["event_id"] == str(told.events[-1].event_id)
    assert rows[-1]["logged_at"].startswith(
        event_topic(service_settings.site, Stage.CASEFILE, service_settings.topic_namespace)
    )
    assert (
        audit.main(["timeline", *arguments(service_settings, "--case", case, "--format", "csv")])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0].startswith("occurred_at,event_type,actor,role")


async def test_a_forged_event_is_named_where_it_stands(
    service_settings: ServiceSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    told = story()
    forged = type(told.events[2]).create(
        case_id=told.case_id,
        site=service_settings.site,
        actor=told.events[2].actor,
        payload=told.events[2].payload,
        previous=None,  # not chained to what the stage logged before it
        occurred_at=T0 + timedelta(minutes=2),
    )
    await write(service_settings, [*told.events[:2], forged, *told.events[3:]])
    assert audit.main(["verify", *arguments(service_settings)]) == 1
    out = capsys.readouterr().out
    topic = event_topic(service_settings.site, Stage.CASEFILE, service_settings.topic_namespace)
    assert (
        f"{topic}/0/1: case {told.case_id}, event {forged.event_id}: sequence 1, expected 2" in out
    )


@pytest.mark.parametrize("how", ["missing", "swapped"])
async def test_a_missing_or_swapped_event_is_named(
    service_settings: ServiceSettings, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    told = story()
    reported, accepted, registered, voided = told.events
    written = (
        [reported, accepted, voided]
        if how == "missing"
        else [reported, registered, accepted, voided]
    )
    await write(service_settings, written)
    assert audit.main(["verify", *arguments(service_settings)]) == 1
    out = capsys.readouterr().out
    topic = event_topic(service_settings.site, Stage.CASEFILE, service_settings.topic_namespace)
    if how == "missing":
        assert (
            f"{topic}/0/1: case {told.case_id}, event {voided.event_id}: sequence 3, expected 2"
            in out
        )
        assert "1 event(s) of the case are missing" in out
    else:
        assert f"{topic}/0/0: case {told.case_id}, event {registered.event_id}: sequence 2" in out
