"""What the public sees through Open311, over real Kafka and PostgreSQL: the public's own
reports and the cases the supervision centre shows, never its staff's words or exact points;
the centre shows and withholds a case by a command its event records; a reporter still reads
a withheld request of their own with its token, and nobody else learns it exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cityloop_deploy.site_fixtures import topic_records
from cityloop_shared.contract import Role, decode
from cityloop_shared.contract.events.intake import PublicityDecided
from cityloop_shared.runtime.service import ServiceRuntime

pytestmark = pytest.mark.integration

Served = tuple[httpx.AsyncClient, ServiceRuntime]
Auth = Callable[..., dict[str, str]]

V2 = "/open311/v2"
SUPERVISOR = "sv-370212-03"
POINT = {"lon": 120.456789, "lat": 36.123456}
GRID_NAME = "崂山区第三街道第一社区1号网格"
"""The unit grid holding POINT, by which a listed request is placed."""
PHOTO = {"uri": "https://media.cityloop.example/p/7.jpg", "media_type": "image/jpeg"}
INSIDE = ("摊主王某", "视频巡查", "领导交办", "松岭路 8 号", "120.456789", "36.123456", "p/7.jpg")
"""What the centre's own channels said: none of it is the public's to read."""


async def filed(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> str:
    """The case a report through the centre's own front door opens."""
    answer = await client.post("/reports", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["case_id"])


async def posted(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    """A public report through Open311 at FORM's point: its id and token."""
    form = {
        "api_key": key,
        "service_code": "06001",
        "lat": "36.130211",
        "long": "120.450112",
        "address_string": "松岭路 1 号",
        "description": "人行道上搭了棚子",
    }
    answer = await client.post(f"{V2}/requests.json", data=form)
    assert answer.status_code == 201, answer.text
    [request] = answer.json()
    return {"id": request["service_request_id"], "token": request["token"]}


async def listed(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    answer = await client.get(f"{V2}/requests.json")
    assert answer.status_code == 200, answer.text
    return {request["service_request_id"]: request for request in answer.json()}


async def decide(
    client: httpx.AsyncClient, headers: dict[str, str], case_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/reports/{case_id}/publicity", json=body, headers=headers)


async def one(client: httpx.AsyncClient, case_id: str, **params: str) -> httpx.Response:
    return await client.get(f"{V2}/requests/{case_id}.json", params=params)


async def intake_topic(runtime: ServiceRuntime, count: int) -> list[Any]:
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, count)
    return [decode(record.value) for record in records]


async def test_the_public_sees_its_own_reports_and_what_the_centre_shows(
    intake: Served, auth: Auth, open311_key: str
) -> None:
    client, runtime = intake
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisors = await filed(
        client,
        auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR),
        channel="supervisor",
        category_code="06001",
        description="人行道私搭乱建，摊主王某",
        location={**POINT, "address": "松岭路 8 号"},
        attachments=[PHOTO],
    )
    video = await filed(
        client,
        operator,
        channel="video",
        category_code="01002",
        description="视频巡查：污水井盖缺失",
        location={"grid_code": "370212001002001"},
    )
    leaders = await filed(
        client,
        auth(Role.LEADER, id="leader-7"),
        channel="leader",
        description="领导交办：海滨栈道护栏松动",
        location={"grid_code": "370212002003001"},
    )
    hotline = await filed(
        client,
        operator,
        channel="public",
        description="热线：小区门口有垃圾堆积",
        location={"lon": 120.47, "lat": 36.09},
    )
    app = await posted(client, open311_key)

    shown = await listed(client)
    assert set(shown) == {hotline, app["id"]}
    assert shown[hotline]["description"] == "热线：小区门口有垃圾堆积"
    for fmt in ("json", "xml"):
        text = (await client.get(f"{V2}/requests.{fmt}")).text
        assert not [said for said in INSIDE if said in text]
    for case_id in (supervisors, video, leaders):
        for fmt in ("json", "xml"):
            hidden = await client.get(f"{V2}/requests/{case_id}.{fmt}")
            assert hidden.status_code == 404
            assert f"service_request_id {case_id} not found" in hidden.text
        by_id = await client.get(f"{V2}/requests.json", params={"service_request_id": case_id})
        assert by_id.json() == []

    # The centre shows the supervisor's case: its category and place, not the staff's words.
    answer = await decide(client, operator, supervisors, public=True, reason="典型案例")
    assert answer.status_code == 200, answer.text
    assert (answer.json()["event_type"], answer.json()["public"]) == ("publicity.decided", True)
    [request] = (await one(client, supervisors)).json()
    assert (request["service_code"], request["service_name"]) == ("06001", "私搭乱建")
    assert (request["description"], request["media_url"]) == (None, None)
    assert (request["address"], request["lat"], request["long"]) == (GRID_NAME, 36.123, 120.457)
    assert (request["status"], request["agency_responsible"]) == ("open", None)
    assert set(await listed(client)) == {hotline, app["id"], supervisors}
    for fmt in ("json", "xml"):
        text = (await client.get(f"{V2}/requests.{fmt}")).text
        assert not [said for said in INSIDE if said in text]

    # The duty chief withholds it again: the public no longer finds it.
    withheld = await decide(client, auth(Role.DUTY_CHIEF), supervisors, public=False)
    assert withheld.status_code == 200, withheld.text
    assert (await one(client, supervisors)).status_code == 404
    assert set(await listed(client)) == {hotline, app["id"]}

    decided = [e for e in await intake_topic(runtime, 7) if isinstance(e, PublicityDecided)]
    assert [(str(e.case_id), e.payload.public, e.payload.reason) for e in decided] == [
        (supervisors, True, "典型案例"),
        (supervisors, False, None),
    ]
    assert [e.actor.role for e in decided] == [Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF]


async def test_only_the_centre_decides_and_only_what_changes(intake: Served, auth: Auth) -> None:
    client, runtime = intake
    case_id = await filed(
        client,
        auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR),
        channel="supervisor",
        category_code="06001",
        description="人行道私搭乱建",
        location=POINT,
    )
    for role, kwargs in [
        (Role.DISPATCHER, {}),
        (Role.FIELD_SUPERVISOR, {"id": SUPERVISOR}),
        (Role.LEADER, {"id": "leader-7"}),
    ]:
        refused = await decide(client, auth(role, **kwargs), case_id, public=True)
        assert refused.status_code == 403, (role, refused.text)
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    already = await decide(client, operator, case_id, public=False)
    assert already.status_code == 409
    assert "already withheld from the public" in already.text
    unsure = await decide(client, operator, case_id, public="perhaps")
    assert unsure.status_code == 422
    assert ["body", "public"] in [item["loc"] for item in unsure.json()["detail"]]
    elsewhere = await decide(client, operator, "00000000-0000-0000-0000-000000000007", public=True)
    assert elsewhere.status_code == 404

    assert await listed(client) == {}
    [only] = await intake_topic(runtime, 1)
    assert str(only.case_id) == case_id
    assert only.event_type == "case.reported"


async def test_a_reporter_still_reads_a_withheld_request_with_its_token(
    intake: Served, auth: Auth, open311_key: str
) -> None:
    """A public report withheld (it carried somebody's phone number, say) leaves the list;
    its reporter still reads it, with the address and point they gave, by its token."""
    client, runtime = intake
    app = await posted(client, open311_key)
    [before] = (await one(client, app["id"])).json()
    assert (before["address"], before["lat"], before["long"]) == (
        GRID_NAME,
        36.13,
        120.45,
    )
    withheld = await decide(client, auth(Role.ACCEPTANCE_OPERATOR), app["id"], public=False)
    assert withheld.status_code == 200, withheld.text
    assert await listed(client) == {}
    assert (await one(client, app["id"])).status_code == 404
    assert (await one(client, app["id"], token="not-the-token")).status_code == 404

    [own] = (await one(client, app["id"], token=app["token"])).json()
    assert (own["address"], own["lat"], own["long"]) == ("松岭路 1 号", 36.130211, 120.450112)
    assert (own["description"], own["status"], own["service_code"]) == (
        "人行道上搭了棚子",
        "open",
        "06001",
    )
    xml = await client.get(f"{V2}/requests/{app['id']}.xml", params={"token": app["token"]})
    assert xml.status_code == 200
    assert "<address>松岭路 1 号</address>" in xml.text
    found = await client.get(f"{V2}/tokens/{app['token']}.json")
    assert found.json() == [{"service_request_id": app["id"], "token": app["token"]}]

    # Feedback on it: a stranger learns nothing; the reporter is heard once it is closed.
    key = {"api_key": open311_key}
    stranger = await client.post(
        f"{V2}/requests/{app['id']}/feedback.json", data={**key, "token": "x", "score": "1"}
    )
    assert stranger.status_code == 404
    reporter = await client.post(
        f"{V2}/requests/{app['id']}/feedback.json",
        data={**key, "token": app["token"], "score": "5"},
    )
    assert reporter.status_code == 409
    assert "closed" in reporter.text
    assert [event.event_type for event in await intake_topic(runtime, 2)] == [
        "case.reported",
        "publicity.decided",
    ]
