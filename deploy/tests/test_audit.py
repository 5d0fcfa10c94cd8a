"""`cityloop-audit` over a site's log on the real broker: a log as the stages wrote it holds;
a forged, a missing and a swapped event are found and named by topic, partition, offset and
event id; one case's timeline is told in order, as a table, JSON or CSV."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
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


async def test_the_archive_is_read_as_the_log_and_proves_it_the_same_way(
    service_settings: ServiceSettings,
    upstream: Callable[[Stage], UpstreamStage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    told = story()
    for event in told.events:
        await upstream(next(iter(type(event).emitted_by))).publish(event)
    folder = tmp_path / "archive"
    assert audit.main(["archive", *arguments(service_settings, "--out", str(folder))]) == 0
    (day,) = sorted(folder.glob("*.parquet"))  # written today, one file
    table = pq.read_table(day)
    assert table.num_rows == len(told.events)
    assert set(table.column("event_id").to_pylist()) == {str(e.event_id) for e in told.events}
    capsys.readouterr()

    from_archive = arguments(service_settings, "--archive", str(folder))
    assert audit.main(["verify", *from_archive]) == 0
    assert "every chain holds" in capsys.readouterr().out
    case = ["--case", str(told.case_id), "--format", "json"]
    assert audit.main(["timeline", *from_archive, *case]) == 0
    assert [r["event_type"] for r in json.loads(capsys.readouterr().out)] == [
        e.event_type for e in told.events
    ]

    # Altered in the archive: named where it stands there.
    rows = table.to_pylist()
    registered = next(r for r in rows if r["event_type"] == "case.registered")
    raw = json.loads(registered["value"])
    raw["payload"]["grid_code"] = "370212003003001"
    registered["value"] = json.dumps(raw)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), day)
    assert audit.main(["verify", *from_archive]) == 1
    voided = told.events[-1]
    out = capsys.readouterr().out
    assert f"case {told.case_id}, event {voided.event_id}: previous_hash does not match" in out
    assert f"event {told.events[2].event_id} at {registered['topic']}/" in out


@pytest.mark.parametrize("how", ["deleted", "reordered"])
async def test_an_archive_with_an_event_deleted_or_reordered_is_named(
    service_settings: ServiceSettings,
    upstream: Callable[[Stage], UpstreamStage],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    how: str,
) -> None:
    told = story()
    for event in told.events:
        await upstream(next(iter(type(event).emitted_by))).publish(event)
    folder = tmp_path / "archive"
    assert audit.main(["archive", *arguments(service_settings, "--out", str(folder))]) == 0
    (day,) = sorted(folder.glob("*.parquet"))
    table = pq.read_table(day)
    rows = table.to_pylist()
    ours = {str(e.event_id): n for n, e in enumerate(told.events)}
    accepted, registered = (next(r for r in rows if ours.get(r["event_id"]) == n) for n in (1, 2))
    if how == "deleted":
        rows.remove(registered)
    else:  # the two events' places swapped
        accepted["value"], registered["value"] = registered["value"], accepted["value"]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), day)
    capsys.readouterr()
    assert audit.main(["verify", *arguments(service_settings, "--archive", str(folder))]) == 1
    out = capsys.readouterr().out
    if how == "deleted":
        voided = told.events[3]
        assert f"event {voided.event_id}: sequence 3, expected 2" in out
        assert "1 event(s) of the case are missing" in out
    else:
        assert f"{accepted['topic']}/{accepted['partition']}/{accepted['offset']}: " in out
        assert f"event {told.events[2].event_id}: sequence 2, expected 1" in out
