"""The city and two districts, each site on a Kafka cluster of its own, every service its own
process, sync joining them: the source document's four flows (市区两级一体化业务流程) end to
end, and the city's projection against the district logs read by the test itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from cityloop_deploy.cluster_fixtures import SiteClusters
from cityloop_deploy.levels import Levels
from cityloop_deploy.probe import described_partitions
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.flows import (
    PUBLIC_CITY,
    PUBLIC_DISTRICT,
    SUPERVISOR_CITY,
    SUPERVISOR_DISTRICT,
)
from cityloop_shared.contract.topics import Stage, event_topic

from .conftest import CITY, DISTRICTS
from .loop import PHOTO, Loop

WATER = "370200-water"
"""The city department of 污水井盖 (01002) in every district (the demo's responsibility matrix)."""
CITY_FROM_FORWARDING = SUPERVISOR_CITY[SUPERVISOR_CITY.index("case.forwarded_to_city") :]
"""What the city's case file holds of a forwarded case: its history from the forwarding on."""


@pytest.fixture(scope="module")
def sites(levels: Levels) -> Iterator[dict[str, Loop]]:
    loops = {site: Loop(levels[site]) for site in DISTRICTS}
    loops[CITY] = Loop(levels[CITY], district=DISTRICTS[0])
    yield loops
    for loop in loops.values():
        loop.__exit__(None)


def city_case(city: Loop, case_id: UUID, status: str, within: float = 30) -> dict[str, Any]:
    """Until the city projection (sync) shows the case in ``status``."""

    def probe() -> dict[str, Any] | None:
        found = city.get("sync", f"/cases/{case_id}", city.auth(Role.DUTY_CHIEF))
        return found if found is not None and found["status"] == status else None

    return city.until(f"case {case_id} as {status} in the city projection", probe, within)


def run_city_case(district: Loop, city: Loop, channel: str) -> UUID:
    """转市级: registered at the district as a city department's, forwarded, passed on (批转),
    dispatched by the city, handled by the city's department, checked by the district's
    supervisor the city entrusts (委托核查), closed at the city."""
    case_id = district.report(channel, category="01002")
    district.accept(case_id)
    if channel == "public":
        district.verify(case_id)
    district.register(case_id, category="01002", level="city")
    district.forward(case_id)
    city.pass_on(case_id)
    assert city.dispatch(case_id) == WATER
    city.handle(case_id, WATER)
    city.check(case_id)
    city.close(case_id)
    return case_id


@pytest.mark.parametrize("channel", ["public", "supervisor", "video"])
def test_a_district_problem_closes_at_the_district_and_shows_at_the_city(
    sites: dict[str, Loop], channel: str
) -> None:
    """社会公众/监督员/视频 → 区级问题: the district's loop, its data flowing to the city."""
    for site in DISTRICTS:
        district = sites[site]
        case_id = district.run_to_close(channel)
        district.await_status(case_id, "closed")
        expected = PUBLIC_DISTRICT if channel == "public" else SUPERVISOR_DISTRICT
        assert district.timeline(case_id) == expected
        shown = city_case(sites[CITY], case_id, "closed")
        assert (shown["site"], shown["handled_by"]) == (site, site)
        assert [e["event_type"] for e in shown["timeline"]] == expected


@pytest.mark.parametrize("channel", ["public", "supervisor"])
def test_a_city_problem_is_handed_to_the_city_and_back_to_the_districts_supervisor(
    sites: dict[str, Loop], channel: str
) -> None:
    """社会公众/监督员 → 市级问题, the source's path, every hand-off an event on both sites."""
    district, city = sites[DISTRICTS[0]], sites[CITY]
    case_id = run_city_case(district, city, channel)

    expected = PUBLIC_CITY if channel == "public" else SUPERVISOR_CITY
    city.await_status(case_id, "closed")
    assert city.timeline(case_id) == CITY_FROM_FORWARDING
    # The district's case shows the city's progress: the city's events, mirrored back.
    district.await_status(case_id, "closed")
    assert district.timeline(case_id) == expected
    entrusted = district.await_event(case_id, "check.requested")
    assert entrusted["actor_site"] == CITY
    assert entrusted["payload"]["entrusted_to_site"] == district.site
    assert entrusted["payload"]["supervisor_id"] == district.supervisor
    shown = city_case(city, case_id, "closed")
    assert (shown["site"], shown["handled_by"], shown["level"]) == (district.site, CITY, "city")
    assert [e["event_type"] for e in shown["timeline"]] == expected
    # The public's request at the district ends when the city closes the case.
    if channel == "public":
        request = district.until(
            "the closed Open311 request",
            lambda: next(
                (
                    r
                    for r in district.get("intake", f"/open311/v2/requests/{case_id}.json", {})
                    or []
                    if r["status"] == "closed"
                ),
                None,
            ),
        )
        assert request["status_notes"].startswith("已结案")


def test_a_city_case_has_the_detours_and_the_clocks_of_a_districts(sites: dict[str, Loop]) -> None:
    """At the city, a department asks for more time, runs late (the district sees the red
    light), fails its first check and reworks the case, as at a district."""
    district, city = sites[DISTRICTS[1]], sites[CITY]
    with Loop(city.fleet, district=district.site) as entrusting:
        detours_at_the_city(district, city, entrusting)


def detours_at_the_city(district: Loop, city: Loop, entrusting: Loop) -> None:
    case_id = district.report("supervisor", category="01002")
    district.accept(case_id)
    district.register(case_id, category="01002", level="city")
    district.forward(case_id)
    city.pass_on(case_id)
    assert city.dispatch(case_id) == WATER
    staff = city.staff(WATER)
    city.task(case_id, WATER, "awaiting_acceptance")
    city.post("disposal", f"/cases/{case_id}/accept", {}, staff)
    deadline = datetime.fromisoformat(city.task(case_id, WATER, "in_hand")["deadline"])
    proposed = (deadline + timedelta(days=2)).isoformat()
    city.post(
        "disposal",
        f"/cases/{case_id}/extension-request",
        {"proposed_deadline": proposed, "reason": "需协调施工"},
        staff,
    )
    assert city.queued(case_id, "pending_decisions")["kind"] == "extension"
    dispatcher = city.auth(Role.DISPATCHER)
    city.post("dispatch", f"/cases/{case_id}/extension/decide", {"approved": True}, dispatcher)
    city.await_event(case_id, "extension.decided")
    city.disposal_time_passes(case_id)
    red = district.await_event(case_id, "time_limit.overdue")
    assert (red["actor_site"], red["payload"]["step"]) == (CITY, "disposal")
    assert district.await_status(case_id, "in_disposal")["overdue"] is True
    city.post(
        "disposal",
        f"/cases/{case_id}/complete",
        {"description": "已更换井盖", "evidence": [PHOTO]},
        staff,
    )
    entrusting.check(case_id, passed=False)
    rework = district.await_event(case_id, "case.reopened_for_rework")
    assert rework["payload"]["department_id"] == WATER
    city.handle(case_id, WATER)
    entrusting.check(case_id)
    city.close(case_id)
    district.await_status(case_id, "closed")
    events = district.timeline(case_id)
    assert events.count("check.failed") == 1
    assert events.count("disposal.completed") == 2
    assert "extension.decided" in events


def test_the_city_sends_a_forwarded_case_back_to_its_district(sites: dict[str, Loop]) -> None:
    """退回: the city duty chief returns it with the reason; the district's command centre
    dispatches it; neither site's clock of the forwarding keeps running."""
    district, city = sites[DISTRICTS[1]], sites[CITY]
    case_id = district.report("supervisor", category="01002")
    district.accept(case_id)
    district.register(case_id, category="01002", level="city")
    waiting = district.get(
        "casefile", "/cases", district.auth(Role.DUTY_CHIEF), level="city", status="registered"
    )
    assert str(case_id) in [c["case_id"] for c in waiting["cases"]]
    district.forward(case_id)
    city.await_status(case_id, "forwarded_to_city")
    refused = city.http["casefile"].post(
        f"/cases/{case_id}/forwarding/accept", json={}, headers=district.auth(Role.DUTY_CHIEF)
    )
    assert refused.status_code == 403, refused.text  # a district's chief answers nothing there
    city.post(
        "casefile",
        f"/cases/{case_id}/forwarding/return",
        {"reason": "属区级问题, 由区指挥中心派遣"},
        city.auth(Role.DUTY_CHIEF),
    )
    district.await_status(case_id, "registered")
    returned = district.await_event(case_id, "forwarding.returned")
    assert returned["payload"]["reason"] == "属区级问题, 由区指挥中心派遣"
    assert district.dispatch(case_id, f"{district.site}-urban") == f"{district.site}-urban"
    district.await_status(case_id, "dispatched")
    running = "SELECT step FROM clocks WHERE case_id = %s AND stopped_at IS NULL"
    assert district.sql("casefile", running, case_id) == []
    assert district.sql("dispatch", running, case_id) == [("disposal",)]
    assert city.sql("casefile", running, case_id) == []
    stopped = "SELECT step FROM clocks WHERE case_id = %s AND stopped_at IS NOT NULL"
    assert ("forwarding",) in district.sql("casefile", stopped, case_id)
    assert city.sql("casefile", stopped, case_id) == [("city_acceptance",)]


def test_the_city_projection_equals_the_district_logs(
    sites: dict[str, Loop], levels: Levels
) -> None:
    """Every event the districts and the city logged is in the projection exactly once, with
    its case; and each case stands where the district's own case file says."""
    district = sites[DISTRICTS[0]]
    extra = run_city_case(district, sites[CITY], "supervisor")
    city_case(sites[CITY], extra, "closed")
    for site in DISTRICTS:
        sites[site].settle()
    city = sites[CITY]
    city.settle()
    logged = asyncio.run(read_logs(levels))
    chief = city.auth(Role.DUTY_CHIEF)
    asyncio.run(mirrored_exactly(levels))
    listed = city.get("sync", "/cases", chief, limit=500)
    projected = {case["case_id"]: case for case in listed["cases"]}
    assert listed["total"] == len(logged) == len(projected)
    for case_id, events in logged.items():
        shown = city.get("sync", f"/cases/{case_id}", chief)
        assert sorted(e["event_id"] for e in shown["timeline"]) == sorted(events)
        own = sites[shown["site"]].case(UUID(case_id))
        assert own is not None
        assert shown["status"] == own["status"], case_id
        assert shown["case_number"] == own["case_number"]
        assert shown["department_id"] == own["department_id"]
    by_district = city.get("sync", "/statistics", chief, by="site")
    counts = {g["key"]: g["cases"] for g in by_district["groups"]}
    assert sum(counts.values()) == len(logged)
    assert set(counts) <= set(DISTRICTS)


def test_the_city_oversees_the_districts_cases_across_levels(sites: dict[str, Loop]) -> None:
    """The city's upper-level department (上级专业部门) urges a district department below it
    through the district's command centre, sees the case and its statistics at the city; the
    city's supervision centre sees every district's cases; a district's people see only
    theirs."""
    district, city = sites[DISTRICTS[0]], sites[CITY]
    case_id = district.report("supervisor")
    district.accept(case_id)
    district.register(case_id)
    department = district.dispatch(case_id, f"{district.site}-sanitation")
    district.await_status(case_id, "dispatched")
    upper = city.auth(Role.UPPER_DEPARTMENT, id="urban-bureau-1", department="370200-urban")
    other = city.auth(Role.UPPER_DEPARTMENT, id="water-bureau-1", department="370200-water")
    message = {"message": "请于今日内处置"}
    district.post("dispatch", f"/cases/{case_id}/reminders", message, upper)
    district.post("dispatch", f"/cases/{case_id}/supervision", message, other, expect=403)
    reminded = district.await_event(case_id, "reminder.sent")
    assert (reminded["actor_site"], reminded["payload"]["department_id"]) == (CITY, department)

    shown = city_case(city, case_id, "dispatched")
    city.until(
        "the reminder in the city projection",
        lambda: (
            "reminder.sent"
            in [e["event_type"] for e in city.get("sync", f"/cases/{case_id}", upper)["timeline"]]
            or None
        ),
    )
    assert shown["department_id"] == department
    not_below = city.http["sync"].get(f"/cases/{case_id}", headers=other)
    assert not_below.status_code == 403  # not below the water bureau
    stats = city.get("sync", "/statistics", upper, by="department_id")
    assert department in [g["key"] for g in stats["groups"]]
    # A district's own centre sees its district's cases, not another's.
    elsewhere = sites[DISTRICTS[1]].auth(Role.DUTY_CHIEF)
    assert city.http["sync"].get(f"/cases/{case_id}", headers=elsewhere).status_code == 403
    assert city.get("sync", f"/cases/{case_id}", district.auth(Role.DUTY_CHIEF)) is not None


async def read_logs(levels: Levels) -> dict[str, list[str]]:
    """Every event id of every case, read by the test from each site's own cluster: the
    districts' topics from the districts', the city's from the city's."""
    found: dict[str, list[str]] = defaultdict(list)
    for site, fleet in levels.fleets.items():
        logged = await read_partitions(fleet.config.kafka_bootstrap, topics_of(levels, site))
        for values in logged.values():
            for value in values:
                event = json.loads(value)
                found[event["case_id"]].append(event["event_id"])
    return found


def topics_of(levels: Levels, site: str) -> list[str]:
    namespace = levels.topic_namespace
    return [event_topic(site, stage, namespace) for stage in Stage if stage is not Stage.SYNC]


async def read_partitions(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], list[bytes]]:
    """Each partition's record values, in order, to its end as it is now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        partitions = await described_partitions(admin, topics)
    finally:
        await admin.close()
    assert partitions, f"no partitions of {topics} at {bootstrap}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[tuple[str, int], list[bytes]] = {
            (tp.topic, tp.partition): [] for tp in partitions
        }
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                found[(tp.topic, tp.partition)] += [r.value for r in records if r.offset < ends[tp]]
        return found
    finally:
        await consumer.stop()


async def mirrored_exactly(levels: Levels) -> None:
    """Each district's topics on the city's cluster hold exactly the district's records, in
    order; each district's copy of the city's topics exactly the city's records about the
    district's cases, in order."""
    city = levels.fleets[CITY].config.kafka_bootstrap
    city_records = await read_partitions(city, topics_of(levels, CITY))
    for district in DISTRICTS:
        own = levels.fleets[district].config.kafka_bootstrap
        logged = await read_partitions(own, topics_of(levels, district))
        assert await read_partitions(city, topics_of(levels, district)) == logged
        cases = {json.loads(v)["case_id"] for values in logged.values() for v in values}
        expected = {
            where: [v for v in values if json.loads(v)["case_id"] in cases]
            for where, values in city_records.items()
        }
        assert await read_partitions(own, topics_of(levels, CITY)) == expected


def caught_up(city: Loop, within: float = 120) -> dict[str, Any]:
    """Until sync says every district is fully visible in the projection, twice over its
    refresh interval (a mirror learns its source's end at most a second late)."""

    def done() -> dict[str, Any] | None:
        lag = city.get("sync", "/lag", {})
        districts = (lag or {}).get("districts", {})
        level = len(districts) == len(DISTRICTS) and all(
            d["behind"] == 0 and d["down"] == 0 and d["seconds"] == 0 for d in districts.values()
        )
        return lag if level else None

    def probe() -> dict[str, Any] | None:
        if done() is None:
            return None
        time.sleep(1.5)
        return done()

    return city.until("sync caught up with every district", probe, within)


def projected_exactly(city: Loop, levels: Levels) -> None:
    """Every event logged anywhere is in the projection once, with its case."""
    logged = asyncio.run(read_logs(levels))
    chief = city.auth(Role.DUTY_CHIEF)
    for case_id, events in logged.items():
        shown = city.get("sync", f"/cases/{case_id}", chief)
        assert shown is not None, case_id
        assert sorted(e["event_id"] for e in shown["timeline"]) == sorted(events)
        assert shown["events"] == len(events)


def test_sync_killed_mid_stream_loses_nothing_and_applies_nothing_twice(
    sites: dict[str, Loop], levels: Levels
) -> None:
    district, city = sites[DISTRICTS[0]], sites[CITY]
    sync = levels[CITY]["sync"]
    for index in range(30):
        case_id = district.report("supervisor")
        if index % 3 == 0:
            district.accept(case_id)
        if index == 10:
            sync.kill()
        if index == 20:
            sync.start()
            sync.wait_ready()
    caught_up(city)
    asyncio.run(mirrored_exactly(levels))
    projected_exactly(city, levels)


def test_the_districts_work_on_while_the_city_is_down_and_it_catches_up(
    sites: dict[str, Loop], levels: Levels, site_clusters: SiteClusters
) -> None:
    """The city's broker stopped for a minute under load: the districts go on with their
    loops and forward what is the city's; when it is back, everything flows, once."""
    district, other, city = sites[DISTRICTS[0]], sites[DISTRICTS[1]], sites[CITY]
    forwarded = district.report("supervisor", category="01002")
    district.accept(forwarded)
    district.register(forwarded, category="01002", level="city")
    site_clusters.stop(CITY)
    try:
        district.forward(forwarded)
        began, closed = time.monotonic(), 0
        while time.monotonic() - began < 60:
            for loop in (district, other):
                case_id = loop.run_to_close("supervisor")
                loop.await_status(case_id, "closed")
                closed += 1
        assert closed >= 4
    finally:
        site_clusters.start(CITY)
    city.pass_on(forwarded)
    city.await_status(forwarded, "with_city_command", within=60)
    district.await_status(forwarded, "with_city_command", within=60)
    caught_up(city, within=180)
    asyncio.run(mirrored_exactly(levels))
    projected_exactly(city, levels)


def test_the_city_and_the_other_district_work_on_while_a_district_is_down(
    sites: dict[str, Loop], levels: Levels, site_clusters: SiteClusters
) -> None:
    """A district's broker stopped: the city goes on with the other district's city-level
    case; the stopped district's links wait, and flow when it is back."""
    up, down, city = sites[DISTRICTS[0]], sites[DISTRICTS[1]], sites[CITY]
    site_clusters.stop(down.site)
    try:
        case_id = run_city_case(up, city, "supervisor")
        up.await_status(case_id, "closed")
        city_case(city, case_id, "closed")

        def only_the_stopped_district_waits() -> dict[str, Any] | None:
            lag = (city.get("sync", "/lag", {}) or {}).get("districts", {})
            running = lag.get(up.site, {})
            return lag if running.get("behind") == 0 and running.get("seconds") == 0 else None

        city.until("the running district caught up", only_the_stopped_district_waits)
    finally:
        site_clusters.start(down.site)
    case_id = down.run_to_close("supervisor")
    down.await_status(case_id, "closed")
    city_case(city, case_id, "closed", within=60)
    caught_up(city)
    asyncio.run(mirrored_exactly(levels))
    projected_exactly(city, levels)
