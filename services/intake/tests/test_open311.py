"""Open311 GeoReport v2 over real Kafka and PostgreSQL: discovery, services, posting a
request in JSON and XML, tokens, queries, the open→closed status, and errors in both formats."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_intake.open311.models import w3c
from cityloop_shared.contract import Actor, CaseEvent, CaseKind, Role, Stage, decode
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    VerificationReported,
    VerificationReportedPayload,
    VerificationRequested,
    VerificationRequestedPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
)
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
    CheckResultPayload,
)
from cityloop_shared.contract.values import CaseLevel, Category, TimeLimit, TimeUnit
from cityloop_shared.service.runtime import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]

V2 = "/open311/v2"
FORM = {
    "service_code": "06001",
    "lat": "36.13",
    "long": "120.45",
    "address_string": "松岭路 1 号",
    "description": "人行道上搭了棚子",
    "first_name": "三",
    "last_name": "张",
    "phone": "13800000000",
    "email": "zhang@example.com",
    "device_id": "device-1",
    "media_url": "https://media.cityloop.example/p/9.jpg",
}
PERSONAL = ("13800000000", "zhang@example.com", "张", "device-1")


def xml_items(answer: httpx.Response, root: str) -> list[dict[str, str | None]]:
    """The child elements of each item of an XML list answer, as text."""
    assert answer.headers["content-type"] == "text/xml; charset=utf-8"
    assert answer.content.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    document = ET.fromstring(answer.content)
    assert document.tag == root
    return [{child.tag: child.text for child in item} for item in document]


def assert_errors(answer: httpx.Response, status: int, fmt: str, mentioning: str) -> None:
    assert answer.status_code == status, answer.text
    if fmt == "json":
        errors = answer.json()
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
    else:
        errors = xml_items(answer, "errors")
    assert [str(error["code"]) for error in errors] == [str(status)] * len(errors)
    assert any(mentioning in str(error["description"]) for error in errors), errors


async def post_request(
    client: httpx.AsyncClient, fmt: str, api_key: str | None, **changes: str | None
) -> httpx.Response:
    """POST requests.{fmt} with FORM as changed; a field changed to None is left out."""
    fields = {**FORM, "api_key": api_key, **changes}
    form = {name: value for name, value in fields.items() if value is not None}
    return await client.post(f"{V2}/requests.{fmt}", data=form)


async def test_discovery_and_services(intake: Client) -> None:
    client, _ = intake
    discovery = await client.get(f"{V2}/discovery.json")
    assert discovery.status_code == 200
    [endpoint] = discovery.json()["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://intake/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert {"changeset", "contact", "key_service"} <= set(discovery.json())
    discovery_xml = ET.fromstring((await client.get(f"{V2}/discovery.xml")).content)
    formats = discovery_xml.findall("endpoints/endpoint/formats/format")
    assert [element.text for element in formats] == ["text/xml", "application/json"]

    services = (await client.get(f"{V2}/services.json")).json()
    by_code = {entry["service_code"]: entry for entry in services}
    assert len(services) == 254  # 250 national categories and 4 local ones
    assert by_code["06001"] == {
        "service_code": "06001",
        "service_name": "私搭乱建",
        "description": "私搭乱建（事件，市容环境类，GB/T 47678.5-2026 06001）",
        "metadata": False,
        "type": "realtime",
        "keywords": "事件, 市容环境类, 私搭乱建",
        "group": "市容环境类",
    }
    assert by_code["90001"]["group"] == "地方管理部件"
    services_xml = xml_items(
        await client.get(f"{V2}/services.xml", params={"jurisdiction_id": "370212"}), "services"
    )
    assert {item["service_code"]: item for item in services_xml}["01002"] == {
        "service_code": "01002",
        "service_name": "污水井盖",
        "description": "污水井盖（部件，市政公用设施，GB/T 47678.5-2026 01002）",
        "metadata": "false",
        "type": "realtime",
        "keywords": "部件, 市政公用设施, 污水井盖",
        "group": "市政公用设施",
    }

    definition = await client.get(f"{V2}/services/06001.json")
    assert definition.json() == {"service_code": "06001", "attributes": []}
    definition_xml = ET.fromstring((await client.get(f"{V2}/services/06001.xml")).content)
    assert [(e.tag, e.text) for e in definition_xml] == [
        ("service_code", "06001"),
        ("attributes", None),
    ]
    for fmt in ("json", "xml"):
        unknown = await client.get(f"{V2}/services/99999.{fmt}")
        assert_errors(unknown, 404, fmt, "service_code 99999")
        elsewhere = await client.get(f"{V2}/services.{fmt}", params={"jurisdiction_id": "x.gov"})
        assert_errors(elsewhere, 404, fmt, "jurisdiction_id x.gov")


async def test_posting_a_request_opens_a_public_case(intake: Client, open311_key: str) -> None:
    key = open311_key
    client, runtime = intake
    posted = await post_request(client, "json", key)
    assert posted.status_code == 201, posted.text
    [answer] = posted.json()
    assert set(answer) == {"service_request_id", "token", "service_notice"}
    assert "225工作分钟内受理" in answer["service_notice"]
    posted_xml = await post_request(client, "xml", key, lat="36.1302", service_code="01002")
    assert posted_xml.status_code == 201
    [answer_xml] = xml_items(posted_xml, "service_requests")
    assert set(answer_xml) == {"service_request_id", "token", "service_notice"}

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 2)
    events = {str(event.case_id): event for event in (decode(r.value) for r in records)}
    event = events[answer["service_request_id"]]
    assert isinstance(event, CaseReported)
    assert event.actor == Actor(id="open311:test-client", role=Role.PUBLIC, site="370212")
    assert event.payload.channel.value == "public"
    assert event.payload.category is not None
    assert event.payload.category.code == "06001"
    assert event.payload.location.grid_code == "370212003001001"
    assert event.payload.location.address == "松岭路 1 号"
    assert event.payload.description == "人行道上搭了棚子"
    assert event.payload.reporter is not None
    assert (event.payload.reporter.name, event.payload.reporter.email) == (
        "三 张",
        "zhang@example.com",
    )
    assert event.payload.external_id == answer["token"]
    assert event.payload.attachments[0].media_type == "image/jpeg"
    other = events[str(answer_xml["service_request_id"])]
    assert isinstance(other, CaseReported)
    assert other.payload.category is not None
    assert other.payload.category.code == "01002"
    assert other.payload.possible_duplicates == ()

    for fmt in ("json", "xml"):
        token = await client.get(f"{V2}/tokens/{answer['token']}.{fmt}")
        assert token.status_code == 200
        found = token.json() if fmt == "json" else xml_items(token, "service_requests")
        assert found == [
            {"service_request_id": answer["service_request_id"], "token": answer["token"]}
        ]
        unknown = await client.get(f"{V2}/tokens/no-such-token.{fmt}")
        assert_errors(unknown, 404, fmt, "token no-such-token")


async def test_requests_are_queried_without_personal_data(intake: Client, open311_key: str) -> None:
    key = open311_key
    client, _ = intake
    [first] = (await post_request(client, "json", key)).json()
    [second] = (await post_request(client, "json", key, service_code="01002", lat="36.1302")).json()
    [third] = (await post_request(client, "json", key, lat="36.13005")).json()
    assert "附近已有同类问题" in third["service_notice"]

    everything = await client.get(f"{V2}/requests.json")
    assert [r["service_request_id"] for r in everything.json()] == [
        third["service_request_id"],
        second["service_request_id"],
        first["service_request_id"],
    ]
    request = everything.json()[2]
    assert request["status"] == "open"
    assert request["status_notes"] == "已上报，等待受理"
    assert (request["service_code"], request["service_name"]) == ("06001", "私搭乱建")
    assert request["description"] == "人行道上搭了棚子"
    assert (request["lat"], request["long"]) == (36.13, 120.45)
    assert request["address"] == "松岭路 1 号"
    assert request["media_url"] == "https://media.cityloop.example/p/9.jpg"
    assert request["agency_responsible"] is None
    assert request["requested_datetime"].endswith("+08:00")
    assert request["requested_datetime"] == request["updated_datetime"]
    for fmt in ("json", "xml"):
        text = (await client.get(f"{V2}/requests.{fmt}")).text
        assert not any(personal in text for personal in PERSONAL)

    by_code = await client.get(f"{V2}/requests.json", params={"service_code": "01002"})
    assert [r["service_request_id"] for r in by_code.json()] == [second["service_request_id"]]
    by_ids = await client.get(
        f"{V2}/requests.xml",
        params={
            "service_request_id": f"{first['service_request_id']},{second['service_request_id']}"
        },
    )
    assert {r["service_request_id"] for r in xml_items(by_ids, "service_requests")} == {
        first["service_request_id"],
        second["service_request_id"],
    }
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    future = await client.get(f"{V2}/requests.json", params={"start_date": tomorrow})
    assert future.json() == []
    closed = await client.get(f"{V2}/requests.json", params={"status": "closed"})
    assert closed.json() == []
    opened = await client.get(
        f"{V2}/requests.json", params={"status": "open", "service_code": "06001"}
    )
    assert len(opened.json()) == 2

    one = await client.get(f"{V2}/requests/{first['service_request_id']}.xml")
    [found] = xml_items(one, "service_requests")
    assert (found["service_request_id"], found["status"], found["lat"], found["long"]) == (
        first["service_request_id"],
        "open",
        "36.13",
        "120.45",
    )
    for fmt in ("json", "xml"):
        missing = await client.get(f"{V2}/requests/{UUID(int=7)}.{fmt}")
        assert_errors(missing, 404, fmt, "not found")
        bad_status = await client.get(f"{V2}/requests.{fmt}", params={"status": "pending"})
        assert_errors(bad_status, 400, fmt, "status")
        too_long = await client.get(
            f"{V2}/requests.{fmt}",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        )
        assert_errors(too_long, 400, fmt, "90 days")


async def test_refused_requests_answer_errors_in_both_formats(
    intake: Client, open311_key: str
) -> None:
    key = open311_key
    client, runtime = intake
    for fmt in ("json", "xml"):
        assert_errors(await post_request(client, fmt, "wrong"), 403, fmt, "api_key")
        assert_errors(await post_request(client, fmt, None), 403, fmt, "api_key")
        unknown = await post_request(client, fmt, key, service_code="99999")
        assert_errors(unknown, 404, fmt, "service_code 99999")
        address_only = await post_request(client, fmt, key, lat=None, long=None)
        assert_errors(address_only, 400, fmt, "address alone")
        outside = await post_request(client, fmt, key, lat="37.0", long="121.0")
        assert_errors(outside, 400, fmt, "no unit grid")
        elsewhere = await post_request(client, fmt, key, lat="36.05", long="120.33")
        assert_errors(elsewhere, 400, fmt, "district 370202")
        malformed = await post_request(client, fmt, key, lat="north")
        assert_errors(malformed, 400, fmt, "lat:")
        extra = await post_request(client, fmt, key, colour="red")
        assert_errors(extra, 400, fmt, "colour")
    posted = await post_request(client, "json", key)
    assert posted.status_code == 201
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
    assert [str(decode(r.value).case_id) for r in records] == [
        posted.json()[0]["service_request_id"]
    ]
    listed = (await client.get(f"{V2}/requests.json")).json()
    assert [r["service_request_id"] for r in listed] == [posted.json()[0]["service_request_id"]]


async def test_a_request_is_closed_when_its_case_is(
    intake: Client, upstream: Upstream, auth: Auth, open311_key: str
) -> None:
    key = open311_key
    client, runtime = intake
    [posted] = (await post_request(client, "json", key)).json()
    request_id = posted["service_request_id"]
    [record] = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
    reported = decode(record.value)
    dispatched, closed_event = await walk_to_closed(upstream, reported)
    zone = runtime.reference.calendar.zone

    async def status() -> dict[str, Any]:
        answer = await client.get(f"{V2}/requests/{request_id}.json")
        found: dict[str, Any] = answer.json()[0]
        return found

    closed = await eventually(status, lambda request: request["status"] == "closed")
    assert closed["status_notes"].startswith("已结案（案卷号 370212E06001")
    assert closed["agency_responsible"] == "崂山区城市管理局"
    assert closed["updated_datetime"] == w3c(closed_event.occurred_at, zone)
    assert closed["expected_datetime"] == w3c(dispatched.payload.deadline, zone)
    only_closed = await client.get(f"{V2}/requests.xml", params={"status": "closed"})
    assert [r["service_request_id"] for r in xml_items(only_closed, "service_requests")] == [
        request_id
    ]
    assert (await client.get(f"{V2}/requests.json", params={"status": "open"})).json() == []
    detail = (await client.get(f"/cases/{request_id}", headers=auth(Role.DUTY_CHIEF))).json()
    assert detail["status"] == "closed"


async def walk_to_closed(
    upstream: Upstream, reported: CaseEvent
) -> tuple[CaseDispatched, CaseEvent]:
    """The rest of the loop as the other stages publish it, each event caused by the last."""
    site = "370212"
    operator = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=site)
    supervisor = Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site=site)
    chief = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=site)
    dispatcher = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=site)
    department = Actor(id="dept-1", role=Role.DEPARTMENT, site=site, department_id="370212-urban")
    deadline = datetime.now(UTC) + timedelta(days=3)
    steps: list[tuple[Stage, type[CaseEvent], Actor, Any]] = [
        (Stage.CASEFILE, CaseAccepted, operator, CaseAcceptedPayload(needs_verification=True)),
        (
            Stage.CASEFILE,
            VerificationRequested,
            operator,
            VerificationRequestedPayload(supervisor_id=supervisor.id),
        ),
        (
            Stage.CASEFILE,
            VerificationReported,
            supervisor,
            VerificationReportedPayload(confirmed=True),
        ),
        (
            Stage.CASEFILE,
            CaseRegistered,
            chief,
            CaseRegisteredPayload(
                case_number="370212E060012026112500001",
                category=Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06001"),
                grid_code="370212003001001",
                level=CaseLevel.DISTRICT,
                time_limit=TimeLimit(amount=3, unit=TimeUnit.WORKING_DAYS),
            ),
        ),
        (
            Stage.DISPATCH,
            CaseDispatched,
            dispatcher,
            CaseDispatchedPayload(department_id="370212-urban", deadline=deadline),
        ),
        (
            Stage.DISPOSAL,
            DisposalAccepted,
            department,
            DisposalAcceptedPayload(department_id="370212-urban"),
        ),
        (
            Stage.DISPOSAL,
            DisposalCompleted,
            department,
            DisposalCompletedPayload(department_id="370212-urban", description="已拆除"),
        ),
        (Stage.DISPATCH, FeedbackForwarded, dispatcher, FeedbackForwardedPayload()),
        (
            Stage.VERIFICATION,
            CheckRequested,
            operator,
            CheckRequestedPayload(supervisor_id=supervisor.id),
        ),
        (Stage.VERIFICATION, CheckPassed, supervisor, CheckResultPayload(remarks="已整改")),
        (Stage.VERIFICATION, CaseClosed, chief, CaseClosedPayload()),
    ]
    cause = reported
    published = []
    for stage, model, actor, payload in steps:
        cause = await upstream(stage).emit(
            model, case_id=reported.case_id, actor=actor, payload=payload, cause=cause
        )
        published.append(cause)
    [dispatched] = [event for event in published if isinstance(event, CaseDispatched)]
    return dispatched, published[-1]
