"""Case building over real Kafka and PostgreSQL: acceptance, verification, registration,
cancellation, voiding and forwarding, with refusals that change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract import Actor, Role, Stage, decode, new_id, verify_chain
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.values import GeoPoint, Location, PublicReporter, ReportChannel
from cityloop_shared.service.runtime import ServiceRuntime

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]
GRID = "370212003001001"
SUPERVISOR = "sv-370212-03"


async def report(upstream: Upstream, channel: ReportChannel) -> UUID:
    """A report as intake publishes it, on the site's intake topic."""
    event = await upstream(Stage.INTAKE).emit(
        CaseReported,
        case_id=new_id(),
        actor=Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site="370212"),
        payload=CaseReportedPayload(
            channel=channel,
            description="暴露垃圾",
            location=Location(point=GeoPoint(lon=120.45, lat=36.13), grid_code=GRID),
        ),
    )
    return event.case_id


async def known(client: httpx.AsyncClient, case_id: UUID, auth: dict[str, str]) -> Any:
    async def status() -> int:
        return (await client.get(f"/cases/{case_id}", headers=auth)).status_code

    return await eventually(status, lambda code: code == 200)


async def test_a_public_report_is_verified_then_registered(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = await report(upstream, ReportChannel.PUBLIC)
    await known(client, case_id, operator)

    accepted = await client.post(f"/cases/{case_id}/accept", json={}, headers=operator)
    assert accepted.status_code == 200, accepted.text
    # A public report must be verified before registration.
    early = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert early.status_code == 409
    asked = await client.post(f"/cases/{case_id}/verification/request", json={}, headers=operator)
    assert asked.json()["supervisor_id"] == SUPERVISOR
    stranger = auth(Role.FIELD_SUPERVISOR, id="sv-370212-01")
    refused = await client.post(
        f"/cases/{case_id}/verification/report", json={"confirmed": True}, headers=stranger
    )
    assert refused.status_code == 403
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    verified = await client.post(
        f"/cases/{case_id}/verification/report", json={"confirmed": True}, headers=supervisor
    )
    assert verified.status_code == 200, verified.text
    registered = await client.post(
        f"/cases/{case_id}/register",
        json={"category_code": "06001", "urgency": "urgent"},
        headers=chief,
    )
    assert registered.status_code == 200, registered.text
    number = registered.json()["case_number"]
    assert number.startswith("370212E06001")

    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "registered"
    assert detail["case_number"] == number
    assert [e["event_type"] for e in detail["timeline"]] == [
        "case.reported",
        "case.accepted",
        "verification.requested",
        "verification.reported",
        "case.registered",
    ]
    assert detail["timeline"][3]["actor_id"] == SUPERVISOR

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 4)
    events = [decode(r.value) for r in records]
    assert [e.event_type for e in events] == [
        "case.accepted",
        "verification.requested",
        "verification.reported",
        "case.registered",
    ]
    assert verify_chain(events) == []


async def test_a_supervisor_report_skips_verification(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id = await report(upstream, ReportChannel.SUPERVISOR)
    await known(client, case_id, operator)
    await client.post(f"/cases/{case_id}/accept", json={}, headers=operator)
    registered = await client.post(
        f"/cases/{case_id}/register",
        json={"category_code": "01002"},
        headers=auth(Role.DUTY_CHIEF),
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["case_number"].startswith("370212C01002")


async def test_refusals_change_nothing(casefile: Client, auth: Auth, upstream: Upstream) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = await report(upstream, ReportChannel.SUPERVISOR)
    await known(client, case_id, operator)

    assert (await client.post(f"/cases/{case_id}/accept", json={})).status_code == 401
    wrong_role = await client.post(f"/cases/{case_id}/accept", json={}, headers=chief)
    assert wrong_role.status_code == 403
    other_district = auth(Role.ACCEPTANCE_OPERATOR, site="370202")
    elsewhere = await client.post(f"/cases/{case_id}/accept", json={}, headers=other_district)
    assert elsewhere.status_code == 403
    malformed = await client.post(
        f"/cases/{case_id}/accept", json={"needs_verification": "perhaps"}, headers=operator
    )
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["body", "needs_verification"]
    unknown = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "99999"}, headers=chief
    )
    assert unknown.status_code in (409, 422)

    await client.post(f"/cases/{case_id}/accept", json={}, headers=operator)
    cancelled = await client.post(
        f"/cases/{case_id}/cancel", json={"reason": "不属于城管范围"}, headers=chief
    )
    assert cancelled.status_code == 200
    after = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief
    )
    assert after.status_code == 409
    assert after.json()["status"] == "cancelled"
    bad_category = await client.post(
        f"/cases/{case_id}/register", json={"category_code": "6"}, headers=chief
    )
    assert bad_category.status_code == 422
    assert bad_category.json()["detail"][0]["loc"] == ["body", "category_code"]

    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert [e["event_type"] for e in detail["timeline"]] == [
        "case.reported",
        "case.accepted",
        "case.cancelled",
    ]


async def test_a_repeated_command_with_the_same_key_is_a_no_op(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id = await report(upstream, ReportChannel.VIDEO)
    await known(client, case_id, operator)
    headers = {**operator, "Idempotency-Key": "phone-retry-1"}
    first = await client.post(f"/cases/{case_id}/accept", json={}, headers=headers)
    again = await client.post(f"/cases/{case_id}/accept", json={}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    reused = await client.post(
        f"/cases/{case_id}/accept", json={"needs_verification": True}, headers=headers
    )
    assert reused.status_code == 422
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert [e["event_type"] for e in detail["timeline"]].count("case.accepted") == 1


async def test_a_command_sent_twice_at_once_is_decided_once_and_answered_alike(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id = await report(upstream, ReportChannel.VIDEO)
    await known(client, case_id, operator)
    headers = {**operator, "Idempotency-Key": "double-tap"}

    first, second = await asyncio.gather(
        *(client.post(f"/cases/{case_id}/accept", json={}, headers=headers) for _ in range(2))
    )

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert [e["event_type"] for e in detail["timeline"]].count("case.accepted") == 1


async def test_voiding_needs_the_duty_chiefs_approval(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF, id="chief-9")
    case_id = await report(upstream, ReportChannel.SUPERVISOR)
    await known(client, case_id, operator)
    await client.post(f"/cases/{case_id}/accept", json={}, headers=operator)
    no_void_yet = await client.post(
        f"/cases/{case_id}/void-request", json={"reason": "重复"}, headers=operator
    )
    assert no_void_yet.status_code == 409  # not registered yet
    await client.post(f"/cases/{case_id}/register", json={"category_code": "06001"}, headers=chief)
    unasked = await client.post(
        f"/cases/{case_id}/void-decision", json={"approve": True}, headers=chief
    )
    assert unasked.status_code == 409
    asked = await client.post(
        f"/cases/{case_id}/void-request", json={"reason": "重复立案"}, headers=operator
    )
    assert asked.status_code == 200
    voided = await client.post(
        f"/cases/{case_id}/void-decision", json={"approve": True}, headers=chief
    )
    assert voided.status_code == 200
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "voided"
    payload = detail["timeline"][-1]["payload"]
    assert (payload["requested_by"], payload["approved_by"]) == ("acceptance_operator-1", "chief-9")


async def test_forwarding_to_the_city_is_recorded(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    case_id = await report(upstream, ReportChannel.SUPERVISOR)
    await known(client, case_id, operator)
    await client.post(f"/cases/{case_id}/accept", json={}, headers=operator)
    await client.post(
        f"/cases/{case_id}/register",
        json={"category_code": "01002", "level": "city"},
        headers=chief,
    )
    forwarded = await client.post(
        f"/cases/{case_id}/forward-to-city", json={"reason": "市级道路设施"}, headers=chief
    )
    assert forwarded.status_code == 200, forwarded.text
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "forwarded_to_city"
    assert detail["timeline"][-1]["payload"]["city_site"] == "370200"


async def test_only_the_supervision_centre_sees_the_reporters_personal_data(
    casefile: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = casefile
    event = await upstream(Stage.INTAKE).emit(
        CaseReported,
        case_id=new_id(),
        actor=Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site="370212"),
        payload=CaseReportedPayload(
            channel=ReportChannel.PUBLIC,
            description="噪音扰民",
            location=Location(grid_code=GRID),
            reporter=PublicReporter(name="张三", phone="13800000000"),
        ),
    )
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    await known(client, event.case_id, operator)
    seen = (await client.get(f"/cases/{event.case_id}", headers=operator)).json()
    assert seen["timeline"][0]["payload"]["reporter"]["phone"] == "13800000000"
    department = auth(Role.DEPARTMENT, department_id="370212-sanitation")
    hidden = (await client.get(f"/cases/{event.case_id}", headers=department)).json()
    assert hidden["timeline"][0]["payload"]["reporter"] is None
    assert hidden["timeline"][0]["payload"]["description"] == "噪音扰民"
