"""Information collection over real Kafka and PostgreSQL: each channel's reports open cases,
refusals open none, a resent report opens one, and likely duplicates are flagged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract import Actor, CaseEvent, Role, Stage, decode, verify_chain
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseCancelled,
    ReasonPayload,
)
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.service.runtime import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]

POINT = {"lon": 120.45, "lat": 36.13}
GRID = "370212003001001"
"""The grid of崂山区 that holds POINT."""
SHINAN_GRID = "370202001001001"
SUPERVISOR = "sv-370212-03"
PHOTO = {"uri": "https://media.cityloop.example/p/7.jpg", "media_type": "image/jpeg"}


async def intake_events(runtime: ServiceRuntime, count: int) -> list[CaseReported]:
    """Every event on the site's intake topic, once there are ``count``."""
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, count)
    events = [decode(record.value) for record in records]
    assert verify_chain(events) == []
    assert all(isinstance(event, CaseReported) for event in events)
    return [event for event in events if isinstance(event, CaseReported)]


async def post(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post("/reports", json=body, headers=headers)


async def test_each_channel_opens_a_case(intake: Client, auth: Auth) -> None:
    client, runtime = intake
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = await post(
        client,
        auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR),
        channel="supervisor",
        category_code="06001",
        description="人行道私搭乱建",
        location={**POINT, "address": "松岭路"},
        attachments=[PHOTO],
    )
    video = await post(
        client,
        operator,
        channel="video",
        category_code="01002",
        description="视频巡查：污水井盖缺失",
        location={"grid_code": "370212001002001", "address": "香港东路"},
    )
    public = await post(
        client,
        operator,
        channel="public",
        description="热线：小区门口有垃圾堆积",
        location={"lon": 120.47, "lat": 36.09},
        reporter={"name": "张三", "phone": "13800000000"},
        external_id="12319-20261125-0042",
    )
    leader = await post(
        client,
        auth(Role.LEADER, id="leader-7"),
        channel="leader",
        description="领导交办：海滨栈道护栏松动",
        location={"grid_code": "370212002003001"},
    )
    answers = [supervisor, video, public, leader]
    assert [answer.status_code for answer in answers] == [201] * 4, [a.text for a in answers]
    assert [answer.json()["grid_code"] for answer in answers] == [
        GRID,
        "370212001002001",
        "370212001002001",
        "370212002003001",
    ]
    assert public.json()["possible_duplicates"] == []

    events = {event.case_id: event for event in await intake_events(runtime, 4)}
    assert len(events) == 4
    by_channel = {event.payload.channel.value: event for event in events.values()}
    assert set(by_channel) == {"supervisor", "video", "public", "leader"}
    for answer in answers:
        event = events[UUID(answer.json()["case_id"])]
        assert event.payload.location.grid_code == answer.json()["grid_code"]
        assert str(event.event_id) == answer.json()["event_id"]
        assert event.sequence == 1
        assert event.causation_id is None

    reported = by_channel["supervisor"]
    assert reported.actor == Actor(id=SUPERVISOR, role=Role.FIELD_SUPERVISOR, site="370212")
    assert reported.payload.category is not None
    assert (reported.payload.category.kind.value, reported.payload.category.code) == (
        "event",
        "06001",
    )
    assert reported.payload.category.standard == "GB/T 47678.5-2026"
    assert reported.payload.location.point is not None
    assert reported.payload.location.address == "松岭路"
    assert str(reported.payload.attachments[0].uri) == PHOTO["uri"]
    video_category = by_channel["video"].payload.category
    assert video_category is not None
    assert video_category.kind.value == "component"
    assert by_channel["video"].payload.location.point is None
    assert by_channel["public"].payload.category is None
    assert by_channel["public"].payload.reporter is not None
    assert by_channel["public"].payload.reporter.phone == "13800000000"
    assert by_channel["public"].payload.external_id == "12319-20261125-0042"
    assert by_channel["leader"].actor.role is Role.LEADER
    assert [e.payload.reporter for c, e in by_channel.items() if c != "public"] == [None] * 3

    case_id = UUID(public.json()["case_id"])
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert (detail["status"], detail["channel"], detail["grid_code"]) == (
        "reported",
        "public",
        "370212001002001",
    )
    assert [entry["event_type"] for entry in detail["timeline"]] == ["case.reported"]


async def test_refusals_open_no_case(intake: Client, auth: Auth) -> None:
    client, runtime = intake
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    valid = {
        "channel": "supervisor",
        "category_code": "06001",
        "description": "私搭乱建",
        "location": POINT,
    }

    refused = {
        "unknown category": ({**valid, "category_code": "99999"}, "category_code"),
        "no category": ({**valid, "category_code": None}, "category_code"),
        "outside every grid": (
            {**valid, "location": {"lon": 121.0, "lat": 37.0}},
            "location",
        ),
        "unknown grid": (
            {**valid, "location": {"grid_code": "370212009009009"}},
            "location.grid_code",
        ),
        "another district": (
            {**valid, "location": {"grid_code": SHINAN_GRID}},
            "location.grid_code",
        ),
        "another district's point": (
            {**valid, "location": {"lon": 120.33, "lat": 36.05}},
            "location",
        ),
        "grid and point disagree": (
            {**valid, "location": {**POINT, "grid_code": "370212001001001"}},
            "location.grid_code",
        ),
        "reporter not public": ({**valid, "reporter": {"name": "李四"}}, "reporter"),
        "malformed channel": ({**valid, "channel": "pigeon"}, "channel"),
        "no description": ({**valid, "description": ""}, "description"),
        "half a point": ({**valid, "location": {"lon": 120.45}}, "location"),
        "unknown field": ({**valid, "urgency": "urgent"}, "urgency"),
    }
    for case, (body, field) in refused.items():
        answer = await client.post("/reports", json=body, headers=supervisor)
        assert answer.status_code == 422, (case, answer.text)
        assert answer.json()["detail"][0]["loc"] == ["body", *field.split(".")], case

    assert (await client.post("/reports", json=valid)).status_code == 401
    wrong_role = await client.post("/reports", json=valid, headers=operator)
    assert wrong_role.status_code == 403
    leader_as_public = await post(client, auth(Role.LEADER), **{**valid, "channel": "public"})
    assert leader_as_public.status_code == 403
    other_district = auth(Role.FIELD_SUPERVISOR, site="370202", id="sv-370202-01")
    assert (await client.post("/reports", json=valid, headers=other_district)).status_code == 403

    accepted = await client.post("/reports", json=valid, headers=supervisor)
    assert accepted.status_code == 201
    events = await intake_events(runtime, 1)
    assert [str(event.case_id) for event in events] == [accepted.json()["case_id"]]
    listed = (await client.get("/cases", headers=operator)).json()
    assert listed["total"] == 1


async def test_a_resent_report_opens_one_case(intake: Client, auth: Auth) -> None:
    client, runtime = intake
    headers = {**auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR), "Idempotency-Key": "phone-42"}
    body = {
        "channel": "supervisor",
        "category_code": "06001",
        "description": "私搭乱建",
        "location": POINT,
    }
    first = await client.post("/reports", json=body, headers=headers)
    again = await client.post("/reports", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    reused = await client.post("/reports", json={**body, "description": "另一处"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    later = await client.post(
        "/reports",
        json={**body, "category_code": "01002"},
        headers={**headers, "Idempotency-Key": "phone-43"},
    )
    assert later.status_code == 201

    # Records of different cases may sit on different partitions: compare as sets.
    events = await intake_events(runtime, 2)
    assert {str(event.case_id) for event in events} == {
        first.json()["case_id"],
        later.json()["case_id"],
    }
    assert len(events) == 2
    listed = (await client.get("/cases", headers=auth(Role.ACCEPTANCE_OPERATOR))).json()
    assert listed["total"] == 2


async def test_a_likely_duplicate_is_flagged_not_dropped(
    intake: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = intake
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)

    async def report(category: str, lat: float, lon: float = POINT["lon"]) -> dict[str, Any]:
        answer = await post(
            client,
            supervisor,
            channel="supervisor",
            category_code=category,
            description="私搭乱建",
            location={"lon": lon, "lat": lat},
        )
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    first = await report("06001", POINT["lat"])
    near = await report("06001", POINT["lat"] + 0.0002)  # about 22 m north
    other_category = await report("06002", POINT["lat"])
    far = await report("06001", POINT["lat"], POINT["lon"] + 0.0007)  # about 63 m east
    assert near["possible_duplicates"] == [first["case_id"]]
    assert other_category["possible_duplicates"] == []
    assert far["possible_duplicates"] == []

    events = {str(event.case_id): event for event in await intake_events(runtime, 4)}
    assert [str(d) for d in events[near["case_id"]].payload.possible_duplicates] == [
        first["case_id"]
    ]
    assert events[far["case_id"]].payload.possible_duplicates == ()

    # Once the first case is cancelled, only the still open second one is a likely duplicate.
    casefile = upstream(Stage.CASEFILE)
    operator = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site="370212")
    chief = Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212")
    reported: CaseEvent = events[first["case_id"]]
    accepted = await casefile.emit(
        CaseAccepted,
        case_id=reported.case_id,
        actor=operator,
        payload=CaseAcceptedPayload(needs_verification=False),
        cause=reported,
    )
    await casefile.emit(
        CaseCancelled,
        case_id=reported.case_id,
        actor=chief,
        payload=ReasonPayload(reason="不属于城管范围"),
        cause=accepted,
    )

    async def status() -> str:
        answer = await client.get(f"/cases/{reported.case_id}", headers=auth(Role.DUTY_CHIEF))
        return str(answer.json()["status"])

    await eventually(status, lambda value: value == "cancelled")
    again = await report("06001", POINT["lat"] + 0.0001)
    assert again["possible_duplicates"] == [near["case_id"]]
