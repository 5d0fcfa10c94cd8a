"""Open311 GeoReport v2 over real Kafka and PostgreSQL: discovery, services, posting a
request in JSON and XML, tokens, queries, errors in both formats, and a request's status as
intake's record follows its case: registered, dispatched, extended, and its end (which of
the ends, the status notes say)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_intake.open311.models import w3c
from cityloop_intake.state import Report
from cityloop_shared.contract import Actor, CaseEvent, CaseKind, Role, Stage, decode
from cityloop_shared.contract.envelope import Payload
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseCancelled,
    CaseForwardedToCity,
    CaseForwardedToCityPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
    ReasonPayload,
    TimedReasonPayload,
    VerificationReported,
    VerificationReportedPayload,
    VerificationRequested,
    VerificationRequestedPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseRedispatched,
    CaseRedispatchedPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
    ReturnApproved,
    SuspensionApproved,
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
    ExtensionRequested,
    ExtensionRequestedPayload,
    ReturnRequested,
    SuspensionRequested,
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
from cityloop_shared.runtime.service import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]
ReportOf = Callable[[UUID], Awaitable[Report | None]]
CaughtUp = Callable[[], Awaitable[None]]
Step = tuple[Stage, type[CaseEvent], Actor, Payload]

V2 = "/open311/v2"
SITE = "370212"
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
CASE_NUMBER = "370212E060022026112500001"
GRID_NAME = "崂山区第三街道第一社区1号网格"
"""The unit grid of FORM's point: where a listed request is placed, not the typed address."""
NAMING_DEPARTMENTS = pytest.mark.parametrize(
    "open311_environment", [{"CITYLOOP_OPEN311_SHOW_DEPARTMENTS": "true"}]
)
"""A site that names the department responsible (agency_responsible)."""
POSTING_FREELY = pytest.mark.parametrize(
    "open311_environment", [{"CITYLOOP_OPEN311_CLIENT_RATE_LIMIT": "100/minute"}]
)
"""For a test that posts faster than a person would: refused posts count against the limit
of the client's address as well."""

OPERATOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
SUPERVISOR = Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
DISPATCHER = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
DEPARTMENT = Actor(id="dept-1", role=Role.DEPARTMENT, site=SITE, department_id="370212-urban")


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
    client: httpx.AsyncClient,
    fmt: str,
    api_key: str | None,
    headers: dict[str, str] | None = None,
    **changes: str | None,
) -> httpx.Response:
    """POST requests.{fmt} with FORM as changed; a field changed to None is left out."""
    fields = {**FORM, "api_key": api_key, **changes}
    form = {name: value for name, value in fields.items() if value is not None}
    return await client.post(f"{V2}/requests.{fmt}", data=form, headers=headers)


async def reported_events(runtime: ServiceRuntime, count: int) -> dict[str, CaseReported]:
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, count)
    events = [decode(record.value) for record in records]
    assert all(isinstance(event, CaseReported) for event in events)
    return {str(event.case_id): event for event in events if isinstance(event, CaseReported)}


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
        await client.get(f"{V2}/services.xml", params={"jurisdiction_id": SITE}), "services"
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


async def test_posting_a_request_opens_a_public_case(
    intake: Client, open311_key: str, report_of: ReportOf
) -> None:
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

    events = await reported_events(runtime, 2)
    event = events[answer["service_request_id"]]
    assert event.actor == Actor(id="open311:test-client", role=Role.PUBLIC, site=SITE)
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
    assert other.payload.category is not None
    assert other.payload.category.code == "01002"
    assert other.payload.possible_duplicates == ()

    # The token is the event's external id, kept in intake's record to be looked up by.
    record = await report_of(UUID(answer["service_request_id"]))
    assert record is not None
    assert record.token == answer["token"]
    for fmt in ("json", "xml"):
        token = await client.get(f"{V2}/tokens/{answer['token']}.{fmt}")
        assert token.status_code == 200
        found = token.json() if fmt == "json" else xml_items(token, "service_requests")
        assert found == [
            {"service_request_id": answer["service_request_id"], "token": answer["token"]}
        ]
        unknown = await client.get(f"{V2}/tokens/no-such-token.{fmt}")
        assert_errors(unknown, 404, fmt, "token no-such-token")
        elsewhere = await client.get(
            f"{V2}/tokens/{answer['token']}.{fmt}", params={"jurisdiction_id": "x.gov"}
        )
        assert_errors(elsewhere, 404, fmt, "jurisdiction_id x.gov")


async def test_a_hotlines_own_id_is_no_token(intake: Client, auth: Auth) -> None:
    """Only a request an Open311 client posted (a public actor) is looked up by a token: a
    hotline operator's external id is the hotline's number, not a token."""
    client, _ = intake
    filed = await client.post(
        "/reports",
        json={
            "channel": "public",
            "description": "热线：小区门口有垃圾堆积",
            "location": {"lon": 120.47, "lat": 36.09},
            "external_id": "12319-20261125-0042",
        },
        headers=auth(Role.ACCEPTANCE_OPERATOR),
    )
    assert filed.status_code == 201, filed.text
    for fmt in ("json", "xml"):
        lookup = await client.get(f"{V2}/tokens/12319-20261125-0042.{fmt}")
        assert_errors(lookup, 404, fmt, "token 12319-20261125-0042")
    [request] = (await client.get(f"{V2}/requests/{filed.json()['case_id']}.json")).json()
    assert (request["status"], request["service_code"]) == ("open", None)


async def test_a_resent_request_opens_one_case(intake: Client, open311_key: str) -> None:
    client, runtime = intake
    again = {"Idempotency-Key": "app-7"}
    first = await post_request(client, "json", open311_key, again)
    resent = await post_request(client, "json", open311_key, again)
    assert first.status_code == resent.status_code == 201, resent.text
    assert first.json() == resent.json()
    changed = await post_request(client, "json", open311_key, again, description="另一处")
    assert_errors(changed, 400, "json", "this key was used for a different request")

    [only] = (await client.get(f"{V2}/requests.json")).json()
    assert only["service_request_id"] == first.json()[0]["service_request_id"]
    assert list(await reported_events(runtime, 1)) == [only["service_request_id"]]


async def test_requests_are_queried_without_personal_data(intake: Client, open311_key: str) -> None:
    key = open311_key
    client, runtime = intake
    [first] = (await post_request(client, "json", key)).json()
    [second] = (await post_request(client, "json", key, service_code="01002", lat="36.1302")).json()
    [third] = (await post_request(client, "json", key, lat="36.13005")).json()
    assert "附近已有同类问题" in third["service_notice"]
    assert "附近已有同类问题" not in first["service_notice"]
    # The decision flags the third (5 m from the first, same category), as for POST /reports.
    events = await reported_events(runtime, 3)
    assert events[third["service_request_id"]].payload.possible_duplicates == (
        UUID(first["service_request_id"]),
    )
    assert events[first["service_request_id"]].payload.possible_duplicates == ()

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
    assert request["address"] == GRID_NAME
    assert request["media_url"] == "https://media.cityloop.example/p/9.jpg"
    assert request["agency_responsible"] is None
    assert request["expected_datetime"] is None
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
        not_an_id = await client.get(f"{V2}/requests/not-a-case.{fmt}")
        assert_errors(not_an_id, 404, fmt, "service_request_id not-a-case not found")
        bad_status = await client.get(f"{V2}/requests.{fmt}", params={"status": "pending"})
        assert_errors(bad_status, 400, fmt, "status")
        too_long = await client.get(
            f"{V2}/requests.{fmt}",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        )
        assert_errors(too_long, 400, fmt, "90 days")
        # The default 90 days from either end of the calendar: refused, not a 500.
        last = await client.get(
            f"{V2}/requests.{fmt}", params={"start_date": "9999-12-31T00:00:00Z"}
        )
        assert_errors(last, 400, fmt, "start_date: 90 days from it run past the calendar")
        first_day = await client.get(
            f"{V2}/requests.{fmt}", params={"end_date": "0001-01-01T00:00:00Z"}
        )
        assert_errors(first_day, 400, fmt, "end_date: 90 days from it run past the calendar")


@POSTING_FREELY
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
        elsewhere_jurisdiction = await post_request(client, fmt, key, jurisdiction_id="x.gov")
        assert_errors(elsewhere_jurisdiction, 404, fmt, "jurisdiction_id x.gov")
        address_only = await post_request(client, fmt, key, lat=None, long=None)
        assert_errors(address_only, 400, fmt, "address alone")
        outside = await post_request(client, fmt, key, lat="37.0", long="121.0")
        assert_errors(outside, 400, fmt, "lat, long: the point (121.0, 37.0) lies in no unit grid")
        elsewhere = await post_request(client, fmt, key, lat="36.05", long="120.33")
        assert_errors(elsewhere, 400, fmt, "lat, long: grid 370202001001001")
        assert_errors(elsewhere, 400, fmt, "district 370202")
        malformed = await post_request(client, fmt, key, lat="north")
        assert_errors(malformed, 400, fmt, "lat:")
        extra = await post_request(client, fmt, key, colour="red")
        assert_errors(extra, 400, fmt, "colour")
    posted = await post_request(client, "json", key, jurisdiction_id=SITE)
    assert posted.status_code == 201
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
    assert [str(decode(r.value).case_id) for r in records] == [
        posted.json()[0]["service_request_id"]
    ]
    listed = (await client.get(f"{V2}/requests.json")).json()
    assert [r["service_request_id"] for r in listed] == [posted.json()[0]["service_request_id"]]


# --- a request's status, as intake's record follows its case -----------------------------------


class Case:
    """One posted request's case as the other stages move it, and its request as read back."""

    def __init__(
        self, client: httpx.AsyncClient, upstream: Upstream, request_id: str, cause: CaseEvent
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.request_id = request_id
        self.cause = cause

    async def publish(self, *steps: Step) -> CaseEvent:
        """The other stages publish ``steps``, each caused by the last; the last one."""
        for stage, model, actor, payload in steps:
            self.cause = await self.upstream(stage).emit(
                model, case_id=self.cause.case_id, actor=actor, payload=payload, cause=self.cause
            )
        return self.cause

    async def request(self) -> dict[str, Any]:
        answer = await self.client.get(f"{V2}/requests/{self.request_id}.json")
        assert answer.status_code == 200, answer.text
        [found] = answer.json()
        assert isinstance(found, dict)
        return found

    async def until(self, notes: str) -> dict[str, Any]:
        """The request once its status notes read ``notes``."""
        found: dict[str, Any] = await eventually(
            self.request, lambda request: request["status_notes"] == notes
        )
        return found


async def posted_case(intake: Client, upstream: Upstream, key: str) -> Case:
    client, runtime = intake
    posted = await post_request(client, "json", key)
    assert posted.status_code == 201, posted.text
    request_id = posted.json()[0]["service_request_id"]
    reported = (await reported_events(runtime, 1))[request_id]
    return Case(client, upstream, request_id, reported)


def registration(code: str = "06002") -> Step:
    return (
        Stage.CASEFILE,
        CaseRegistered,
        CHIEF,
        CaseRegisteredPayload(
            case_number=CASE_NUMBER,
            category=Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code=code),
            grid_code="370212003001001",
            level=CaseLevel.DISTRICT,
            time_limit=TimeLimit(amount=3, unit=TimeUnit.WORKING_DAYS),
        ),
    )


def dispatch(deadline: datetime, department: str = "370212-urban") -> Step:
    return (
        Stage.DISPATCH,
        CaseDispatched,
        DISPATCHER,
        CaseDispatchedPayload(department_id=department, deadline=deadline),
    )


@NAMING_DEPARTMENTS
async def test_status_notes_move_only_on_what_intake_follows(
    intake: Client, upstream: Upstream, open311_key: str, caught_up: CaughtUp
) -> None:
    """Acceptance and verification leave the request as reported; registration gives its
    number and category; dispatch the department and deadline; an extension and a
    resumption move the deadline; the closing ends it."""
    client, runtime = intake
    zone = runtime.reference.calendar.zone
    case = await posted_case(intake, upstream, open311_key)
    reported = await case.request()
    assert (reported["status"], reported["status_notes"]) == ("open", "已上报，等待受理")

    await case.publish(
        (Stage.CASEFILE, CaseAccepted, OPERATOR, CaseAcceptedPayload(needs_verification=True)),
        (
            Stage.CASEFILE,
            VerificationRequested,
            OPERATOR,
            VerificationRequestedPayload(supervisor_id=SUPERVISOR.id),
        ),
        (
            Stage.CASEFILE,
            VerificationReported,
            SUPERVISOR,
            VerificationReportedPayload(confirmed=True),
        ),
    )
    await caught_up()
    assert await case.request() == reported

    # The duty chief registered it under another category than the reporter chose.
    registered = await case.publish(registration("06002"))
    request = await case.until(f"已立案，等待派遣（案卷号 {CASE_NUMBER}）")
    assert (request["status"], request["service_code"], request["service_name"]) == (
        "open",
        "06002",
        "店面无证装修",
    )
    assert request["updated_datetime"] == w3c(registered.occurred_at, zone)
    assert (request["agency_responsible"], request["expected_datetime"]) == (None, None)
    assert request["requested_datetime"] == reported["requested_datetime"]

    now = datetime.now(UTC)
    deadline, extended, resumed = (now + timedelta(days=days) for days in (3, 5, 6))
    dispatched = await case.publish(dispatch(deadline))
    request = await case.until(f"已派遣至专业部门（案卷号 {CASE_NUMBER}）")
    assert request["agency_responsible"] == "崂山区城市管理局"
    assert request["expected_datetime"] == w3c(deadline, zone)
    assert request["updated_datetime"] == w3c(dispatched.occurred_at, zone)

    await case.publish(
        (
            Stage.DISPOSAL,
            DisposalAccepted,
            DEPARTMENT,
            DisposalAcceptedPayload(department_id="370212-urban"),
        ),
        (
            Stage.DISPOSAL,
            ExtensionRequested,
            DEPARTMENT,
            ExtensionRequestedPayload(proposed_deadline=extended, reason="材料未到"),
        ),
    )
    await caught_up()
    assert await case.request() == request
    decided = await case.publish(
        (
            Stage.DISPATCH,
            ExtensionDecided,
            DISPATCHER,
            ExtensionDecidedPayload(approved=True, deadline=extended),
        )
    )
    request = await eventually(
        case.request, lambda found: found["expected_datetime"] == w3c(extended, zone)
    )
    assert request["status_notes"] == f"专业部门正在处置（案卷号 {CASE_NUMBER}）"
    assert request["updated_datetime"] == w3c(decided.occurred_at, zone)

    await case.publish(
        (Stage.DISPOSAL, SuspensionRequested, DEPARTMENT, ReasonPayload(reason="冬季停工")),
        (Stage.DISPATCH, SuspensionApproved, DISPATCHER, ReasonPayload(reason="同意挂账")),
        (Stage.DISPATCH, SuspensionResumed, DISPATCHER, SuspensionResumedPayload(deadline=resumed)),
    )
    request = await eventually(
        case.request, lambda found: found["expected_datetime"] == w3c(resumed, zone)
    )
    assert request["status"] == "open"

    closed_event = await case.publish(
        (
            Stage.DISPOSAL,
            DisposalCompleted,
            DEPARTMENT,
            DisposalCompletedPayload(department_id="370212-urban", description="已拆除"),
        ),
        (Stage.DISPATCH, FeedbackForwarded, DISPATCHER, FeedbackForwardedPayload()),
        (
            Stage.VERIFICATION,
            CheckRequested,
            OPERATOR,
            CheckRequestedPayload(supervisor_id=SUPERVISOR.id),
        ),
        (Stage.VERIFICATION, CheckPassed, SUPERVISOR, CheckResultPayload(remarks="已整改")),
        (Stage.VERIFICATION, CaseClosed, CHIEF, CaseClosedPayload()),
    )
    closed = await case.until(f"已结案：问题已处置，经现场核查通过（案卷号 {CASE_NUMBER}）")
    assert closed["status"] == "closed"
    assert closed["agency_responsible"] == "崂山区城市管理局"
    assert closed["updated_datetime"] == w3c(closed_event.occurred_at, zone)
    assert closed["expected_datetime"] == w3c(resumed, zone)
    assert closed["service_code"] == "06002"
    only_closed = await client.get(f"{V2}/requests.xml", params={"status": "closed"})
    assert [r["service_request_id"] for r in xml_items(only_closed, "service_requests")] == [
        case.request_id
    ]
    assert (await client.get(f"{V2}/requests.json", params={"status": "open"})).json() == []


async def test_a_cancelled_request_is_closed_as_not_registered(
    intake: Client, upstream: Upstream, open311_key: str
) -> None:
    client, runtime = intake
    case = await posted_case(intake, upstream, open311_key)
    cancelled = await case.publish(
        (Stage.CASEFILE, CaseAccepted, OPERATOR, CaseAcceptedPayload(needs_verification=False)),
        (Stage.CASEFILE, CaseCancelled, CHIEF, ReasonPayload(reason="不属于城管范围")),
    )
    request = await case.until("不予立案：本案不予处置（不属于受理范围、经核实不存在或重复上报）")
    assert request["status"] == "closed"
    assert request["updated_datetime"] == w3c(
        cancelled.occurred_at, runtime.reference.calendar.zone
    )
    assert (request["agency_responsible"], request["expected_datetime"]) == (None, None)
    closed = (await client.get(f"{V2}/requests.json", params={"status": "closed"})).json()
    assert [r["service_request_id"] for r in closed] == [case.request_id]


@NAMING_DEPARTMENTS
async def test_a_forwarded_redispatched_and_voided_request(
    intake: Client, upstream: Upstream, open311_key: str
) -> None:
    """Forwarding to the city shows as such; a redispatch names the new department and its
    deadline; a voiding closes the request, and says the problem is not dealt with here."""
    _, runtime = intake
    zone = runtime.reference.calendar.zone
    case = await posted_case(intake, upstream, open311_key)
    await case.publish(
        (Stage.CASEFILE, CaseAccepted, OPERATOR, CaseAcceptedPayload(needs_verification=False)),
        registration("06001"),
        (
            Stage.CASEFILE,
            CaseForwardedToCity,
            CHIEF,
            CaseForwardedToCityPayload(city_site="370200", reason="跨区问题"),
        ),
    )
    await case.until(f"已立案，转市级处理（案卷号 {CASE_NUMBER}）")

    now = datetime.now(UTC)
    first, second = now + timedelta(days=3), now + timedelta(days=4)
    await case.publish(dispatch(first))
    await case.until(f"已派遣至专业部门（案卷号 {CASE_NUMBER}）")
    redispatched = await case.publish(
        (Stage.DISPOSAL, ReturnRequested, DEPARTMENT, ReasonPayload(reason="不属本部门")),
        (Stage.DISPATCH, ReturnApproved, DISPATCHER, TimedReasonPayload(reason="同意回退")),
        (
            Stage.DISPATCH,
            CaseRedispatched,
            DISPATCHER,
            CaseRedispatchedPayload(
                department_id="370212-sanitation",
                previous_department_id="370212-urban",
                deadline=second,
                reason="改派环卫",
            ),
        ),
    )
    request = await eventually(
        case.request, lambda found: found["agency_responsible"] == "崂山区环境卫生管理所"
    )
    assert request["expected_datetime"] == w3c(second, zone)
    assert request["updated_datetime"] == w3c(redispatched.occurred_at, zone)
    assert request["status_notes"] == f"已派遣至专业部门（案卷号 {CASE_NUMBER}）"

    voided = await case.publish(
        (
            Stage.CASEFILE,
            CaseVoided,
            CHIEF,
            CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
        )
    )
    request = await case.until(
        f"已作废：立案已撤销，本案不再处置（重复或错误立案）（案卷号 {CASE_NUMBER}）"
    )
    assert request["status"] == "closed"
    assert request["updated_datetime"] == w3c(voided.occurred_at, zone)
