"""Checking and closing over real Kafka and PostgreSQL: the automatic check task, pass and
close, failure and a second round after rework, the call-back, the check clock, and
refusals that change nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from cityloop_deploy.site_fixtures import UpstreamStage, eventually, topic_records
from cityloop_shared.contract import (
    Actor,
    CaseEvent,
    CaseKind,
    Role,
    Stage,
    case_number,
    decode,
    new_id,
    verify_chain,
)
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
)
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    GeoPoint,
    Location,
    ReportChannel,
    TimeLimit,
    TimeUnit,
)
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.tables import clocks

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]
GRID = "370212003001001"
SUPERVISOR = "sv-370212-03"
DEPARTMENT = "370212-sanitation"
PHOTO = {"uri": "https://media.cityloop.example/check/1.jpg", "media_type": "image/jpeg"}
SEQUENCES = itertools.count(1)


async def to_feedback(
    upstream: Upstream, site: str = "370212", channel: ReportChannel = ReportChannel.PUBLIC
) -> tuple[UUID, CaseEvent]:
    """A case reported, registered, dispatched, handled and forwarded to the supervision
    centre, as intake, casefile, dispatch and disposal publish it; its last event."""
    case_id = new_id()
    operator = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=site)
    chief = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=site)
    reported = await upstream(Stage.INTAKE).emit(
        CaseReported,
        case_id=case_id,
        actor=operator,
        payload=CaseReportedPayload(
            channel=channel,
            description="暴露垃圾",
            location=Location(point=GeoPoint(lon=120.45, lat=36.13), grid_code=GRID),
        ),
    )
    accepted = await upstream(Stage.CASEFILE).emit(
        CaseAccepted,
        case_id=case_id,
        actor=operator,
        payload=CaseAcceptedPayload(needs_verification=False),
        cause=reported,
    )
    registered = await upstream(Stage.CASEFILE).emit(
        CaseRegistered,
        case_id=case_id,
        actor=chief,
        payload=CaseRegisteredPayload(
            case_number=case_number(site, CaseKind.EVENT, "06010", date.today(), next(SEQUENCES)),
            category=Category(standard="GB/T 47678.5-2026", kind=CaseKind.EVENT, code="06010"),
            grid_code=GRID,
            level=CaseLevel.DISTRICT,
            time_limit=TimeLimit(amount=4, unit=TimeUnit.WORKING_HOURS),
        ),
        cause=accepted,
    )
    dispatched = await upstream(Stage.DISPATCH).emit(
        CaseDispatched,
        case_id=case_id,
        actor=Actor(id="dispatcher-1", role=Role.DISPATCHER, site=site),
        payload=CaseDispatchedPayload(
            department_id=DEPARTMENT, deadline=datetime.now(UTC) + timedelta(hours=4)
        ),
        cause=registered,
    )
    return case_id, await handled(upstream, case_id, site, dispatched)


async def handled(upstream: Upstream, case_id: UUID, site: str, cause: CaseEvent) -> CaseEvent:
    """The department's work on a dispatched case and the command centre's feedback."""
    department = Actor(id="dep-1", role=Role.DEPARTMENT, site=site, department_id=DEPARTMENT)
    accepted = await upstream(Stage.DISPOSAL).emit(
        DisposalAccepted,
        case_id=case_id,
        actor=department,
        payload=DisposalAcceptedPayload(department_id=DEPARTMENT),
        cause=cause,
    )
    completed = await upstream(Stage.DISPOSAL).emit(
        DisposalCompleted,
        case_id=case_id,
        actor=department,
        payload=DisposalCompletedPayload(department_id=DEPARTMENT, description="已清运"),
        cause=accepted,
    )
    return await upstream(Stage.DISPATCH).emit(
        FeedbackForwarded,
        case_id=case_id,
        actor=Actor(id="dispatcher-1", role=Role.DISPATCHER, site=site),
        payload=FeedbackForwardedPayload(remarks="处置完毕"),
        cause=completed,
    )


async def reaches(
    client: httpx.AsyncClient, case_id: UUID, headers: dict[str, str], status: str
) -> dict[str, Any]:
    """The case detail once the service's projection shows ``status``."""

    async def detail() -> dict[str, Any]:
        answer = await client.get(f"/cases/{case_id}", headers=headers)
        return answer.json() if answer.status_code == 200 else {}

    return await eventually(detail, lambda case: case.get("status") == status)


async def own_events(runtime: ServiceRuntime, at_least: int) -> list[CaseEvent]:
    """The events on the service's own topic, in topic order."""
    bootstrap = runtime.settings.kafka.bootstrap_servers
    return [decode(r.value) for r in await topic_records(bootstrap, runtime.topic, at_least)]


def types_of(detail: dict[str, Any]) -> list[str]:
    return [entry["event_type"] for entry in detail["timeline"]]


async def clock_row(runtime: ServiceRuntime, case_id: UUID) -> Any:
    async with runtime.engine.connect() as conn:
        query = select(clocks).where(clocks.c.case_id == case_id, clocks.c.step == "check")
        return (await conn.execute(query)).one()


async def test_forwarded_feedback_is_checked_on_site_then_closed(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    case_id, feedback = await to_feedback(upstream)
    await reaches(client, case_id, operator, "checking")

    [requested] = await own_events(runtime, 1)
    assert requested.event_type == "check.requested"
    assert requested.causation_id == feedback.event_id
    assert requested.correlation_id == feedback.correlation_id
    assert requested.actor.id == "system:verification"
    payload = requested.payload.model_dump()
    assert payload["supervisor_id"] == SUPERVISOR
    # The check's limit is one working hour (demo city), counted on the working calendar.
    used = runtime.reference.calendar.working_time_between(requested.occurred_at, payload["due_at"])
    assert abs(used - timedelta(hours=1)) < timedelta(seconds=5)
    clock = await clock_row(runtime, case_id)
    assert clock.deadline == payload["due_at"]
    assert clock.stopped_at is None

    tasks = (await client.get("/checks?pending=true", headers=supervisor)).json()
    assert [(t["case_id"], t["rounds"], t["result"]) for t in tasks["checks"]] == [
        (str(case_id), 1, None)
    ]
    assert tasks["checks"][0]["case_number"].startswith("370212E06010")
    assert datetime.fromisoformat(tasks["checks"][0]["due_at"]) == payload["due_at"]

    passed = await client.post(
        f"/cases/{case_id}/check",
        json={"passed": True, "remarks": "已清理干净", "attachments": [PHOTO]},
        headers=supervisor,
    )
    assert passed.status_code == 200, passed.text
    assert passed.json()["round"] == 1
    assert (await clock_row(runtime, case_id)).stopped_at is not None
    assert (await client.get("/checks?pending=true", headers=supervisor)).json()["total"] == 0

    closed = await client.post(
        f"/cases/{case_id}/close", json={"remarks": "结案"}, headers=auth(Role.DUTY_CHIEF)
    )
    assert closed.status_code == 200, closed.text
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "closed"
    assert types_of(detail)[-4:] == [
        "feedback.forwarded",
        "check.requested",
        "check.passed",
        "case.closed",
    ]
    assert detail["timeline"][-2]["actor_id"] == SUPERVISOR
    assert detail["timeline"][-2]["payload"]["attachments"][0]["uri"] == PHOTO["uri"]

    events = await own_events(runtime, 3)
    assert [e.event_type for e in events] == ["check.requested", "check.passed", "case.closed"]
    assert verify_chain(events) == []


async def test_a_failed_check_is_checked_again_after_rework(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    case_id, _ = await to_feedback(upstream)
    await reaches(client, case_id, operator, "checking")

    no_reason = await client.post(
        f"/cases/{case_id}/check", json={"passed": False}, headers=supervisor
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "reason"]
    failed = await client.post(
        f"/cases/{case_id}/check",
        json={"passed": False, "reason": "垃圾仍未清运", "attachments": [PHOTO]},
        headers=supervisor,
    )
    assert failed.status_code == 200, failed.text
    assert failed.json()["event_type"] == "check.failed"
    await reaches(client, case_id, operator, "rework")
    assert (await clock_row(runtime, case_id)).stopped_at is not None
    first = (await client.get("/checks?pending=false", headers=supervisor)).json()["checks"]
    assert [(t["rounds"], t["result"]) for t in first] == [(1, "failed")]

    check_failed = (await own_events(runtime, 2))[-1]
    assert check_failed.event_type == "check.failed"
    reopened = await upstream(Stage.DISPATCH).emit(
        CaseReopenedForRework,
        case_id=case_id,
        actor=Actor.system("370212", "dispatch"),
        payload=CaseReopenedForReworkPayload(
            department_id=DEPARTMENT,
            deadline=datetime.now(UTC) + timedelta(hours=4),
            reason="垃圾仍未清运",
        ),
        cause=check_failed,
    )
    await handled(upstream, case_id, "370212", reopened)
    await reaches(client, case_id, operator, "checking")

    second = (await client.get("/checks?pending=true", headers=supervisor)).json()["checks"]
    assert [(t["rounds"], t["result"]) for t in second] == [(2, None)]
    assert (await clock_row(runtime, case_id)).stopped_at is None
    passed = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=supervisor)
    assert passed.status_code == 200, passed.text
    assert passed.json()["round"] == 2
    closed = await client.post(f"/cases/{case_id}/close", json={}, headers=auth(Role.DUTY_CHIEF))
    assert closed.status_code == 200, closed.text

    events = await own_events(runtime, 5)
    assert [e.event_type for e in events] == [
        "check.requested",
        "check.failed",
        "check.requested",
        "check.passed",
        "case.closed",
    ]
    assert events[1].payload.model_dump()["reason"] == "垃圾仍未清运"
    assert verify_chain(events) == []
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "closed"
    assert types_of(detail).count("case.reopened_for_rework") == 1


async def test_refusals_change_nothing(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    chief = auth(Role.DUTY_CHIEF)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    case_id, _ = await to_feedback(upstream)
    before = types_of(await reaches(client, case_id, operator, "checking"))

    unchecked = await client.post(f"/cases/{case_id}/close", json={}, headers=chief)
    assert unchecked.status_code == 409
    assert unchecked.json()["status"] == "checking"
    stranger = auth(Role.FIELD_SUPERVISOR, id="sv-370212-01")
    not_theirs = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=stranger
    )
    assert not_theirs.status_code == 403
    assert SUPERVISOR in not_theirs.json()["detail"]
    elsewhere = auth(Role.DUTY_CHIEF, site="370202")
    assert (
        await client.post(f"/cases/{case_id}/close", json={}, headers=elsewhere)
    ).status_code == 403
    wrong_role = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=chief)
    assert wrong_role.status_code == 403
    assert (await client.post(f"/cases/{case_id}/check", json={"passed": True})).status_code == 401
    unknown = await client.post(f"/cases/{new_id()}/close", json={}, headers=chief)
    assert unknown.status_code == 404

    for body, field in (
        ({"passed": "perhaps"}, "passed"),
        ({"passed": True, "reason": "多余"}, "reason"),
        ({"passed": False, "reason": "仍有垃圾", "remarks": "备注"}, "remarks"),
        ({"passed": True, "verdict": "ok"}, "verdict"),
    ):
        malformed = await client.post(f"/cases/{case_id}/check", json=body, headers=supervisor)
        assert malformed.status_code == 422, body
        assert malformed.json()["detail"][0]["loc"] == ["body", field]
    others = await client.get(f"/checks?supervisor_id={SUPERVISOR}", headers=stranger)
    assert others.status_code == 403
    assert (await client.get("/checks", headers=stranger)).json()["checks"] == []
    assert (await client.get("/checks", headers=elsewhere)).status_code == 403
    centre = (await client.get(f"/checks?supervisor_id={SUPERVISOR}", headers=chief)).json()
    assert [t["case_id"] for t in centre["checks"]] == [str(case_id)]

    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "checking"
    assert types_of(detail) == before


async def test_the_public_reporter_is_called_back_once_after_closing(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    chief = auth(Role.DUTY_CHIEF)
    public_case, _ = await to_feedback(upstream)
    own_case, _ = await to_feedback(upstream, channel=ReportChannel.SUPERVISOR)
    for case_id in (public_case, own_case):
        await reaches(client, case_id, operator, "checking")

    early = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 4}, headers=operator
    )
    assert early.status_code == 409
    assert early.json()["status"] == "checking"
    for case_id in (public_case, own_case):
        await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=supervisor)
        closed = await client.post(f"/cases/{case_id}/close", json={}, headers=chief)
        assert closed.status_code == 200, closed.text

    out_of_range = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 6}, headers=operator
    )
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"][0]["loc"] == ["body", "score"]
    by_chief = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 4}, headers=chief
    )
    assert by_chief.status_code == 403
    recorded = await client.post(
        f"/cases/{public_case}/satisfaction",
        json={"score": 4, "remarks": "处理及时"},
        headers=operator,
    )
    assert recorded.status_code == 200, recorded.text
    again = await client.post(
        f"/cases/{public_case}/satisfaction", json={"score": 1}, headers=operator
    )
    assert again.status_code == 409
    not_public = await client.post(
        f"/cases/{own_case}/satisfaction", json={"score": 5}, headers=operator
    )
    assert not_public.status_code == 409
    assert "public" in not_public.json()["detail"]

    detail = (await client.get(f"/cases/{public_case}", headers=operator)).json()
    assert detail["status"] == "closed"
    assert types_of(detail)[-1] == "satisfaction.recorded"
    assert detail["timeline"][-1]["payload"] == {"score": 4, "remarks": "处理及时"}
    own = (await client.get(f"/cases/{own_case}", headers=operator)).json()
    assert types_of(own)[-1] == "case.closed"
    events = [e for e in await own_events(runtime, 7) if e.case_id == public_case]
    assert [e.event_type for e in events][-1] == "satisfaction.recorded"
    assert verify_chain(events) == []


async def test_the_check_clock_warns_once_and_goes_red_once(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id, _ = await to_feedback(upstream)
    await reaches(client, case_id, operator, "checking")
    deadline = (await clock_row(runtime, case_id)).deadline

    async def move(**values: datetime) -> None:
        async with runtime.engine.begin() as conn:
            await conn.execute(
                update(clocks)
                .where(clocks.c.case_id == case_id, clocks.c.step == "check")
                .values(**values)
            )

    async def signals() -> list[str]:
        detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
        return [t for t in types_of(detail) if t.startswith("time_limit.")]

    await asyncio.sleep(1.0)  # several scans: nothing is due yet
    assert await signals() == []
    now = datetime.now(UTC)
    await move(warn_at=now - timedelta(minutes=1))
    await eventually(signals, lambda found: found == ["time_limit.warning"])
    await move(deadline=now - timedelta(seconds=1))
    await eventually(signals, lambda found: len(found) == 2)
    await asyncio.sleep(1.0)  # several more scans find nothing twice
    assert await signals() == ["time_limit.warning", "time_limit.overdue"]

    clock = await clock_row(runtime, case_id)
    assert (clock.warned, clock.overdue) == (True, True)
    events = await own_events(runtime, 3)
    assert [e.event_type for e in events] == [
        "check.requested",
        "time_limit.warning",
        "time_limit.overdue",
    ]
    assert {e.payload.model_dump()["step"] for e in events[1:]} == {"check"}
    assert events[1].payload.model_dump()["deadline"] == deadline
    assert verify_chain(events) == []
    # Signals record lateness without moving the case.
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert detail["status"] == "checking"


async def test_a_repeated_check_with_the_same_key_is_a_no_op(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, _ = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    case_id, _ = await to_feedback(upstream)
    await reaches(client, case_id, operator, "checking")
    headers = {**auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR), "Idempotency-Key": "phone-retry-1"}
    first = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=headers)
    again = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    reused = await client.post(
        f"/cases/{case_id}/check", json={"passed": False, "reason": "x"}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    detail = (await client.get(f"/cases/{case_id}", headers=operator)).json()
    assert types_of(detail).count("check.passed") == 1
    assert detail["status"] == "check_passed"


async def test_voiding_a_case_ends_its_pending_check(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    operator = auth(Role.ACCEPTANCE_OPERATOR)
    supervisor = auth(Role.FIELD_SUPERVISOR, id=SUPERVISOR)
    case_id, _ = await to_feedback(upstream)
    await reaches(client, case_id, operator, "checking")
    [requested] = await own_events(runtime, 1)
    await upstream(Stage.CASEFILE).emit(
        CaseVoided,
        case_id=case_id,
        actor=Actor(id="chief-1", role=Role.DUTY_CHIEF, site="370212"),
        payload=CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by="chief-1"),
        cause=requested,
    )
    await reaches(client, case_id, operator, "voided")

    assert (await clock_row(runtime, case_id)).stopped_at is not None
    assert (await client.get("/checks?pending=true", headers=supervisor)).json()["checks"] == []
    ended = (await client.get("/checks", headers=supervisor)).json()["checks"]
    assert [(t["case_id"], t["result"]) for t in ended] == [(str(case_id), "voided")]
    late = await client.post(f"/cases/{case_id}/check", json={"passed": True}, headers=supervisor)
    assert late.status_code == 409


@pytest.mark.parametrize("site", ["370200"])
async def test_the_city_entrusts_the_check_to_the_grids_district_supervisor(
    verification: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = verification
    city_chief = auth(Role.DUTY_CHIEF, site="370200")
    case_id, _ = await to_feedback(upstream, site="370200")
    await reaches(client, case_id, city_chief, "checking")
    [requested] = await own_events(runtime, 1)
    assert requested.payload.model_dump()["supervisor_id"] == SUPERVISOR

    district_supervisor = auth(Role.FIELD_SUPERVISOR, site="370212", id=SUPERVISOR)
    tasks = (await client.get("/checks", headers=district_supervisor)).json()["checks"]
    assert [t["case_id"] for t in tasks] == [str(case_id)]
    other_district = auth(Role.FIELD_SUPERVISOR, site="370212", id="sv-370212-01")
    refused = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=other_district
    )
    assert refused.status_code == 403
    passed = await client.post(
        f"/cases/{case_id}/check", json={"passed": True}, headers=district_supervisor
    )
    assert passed.status_code == 200, passed.text
    district_chief = auth(Role.DUTY_CHIEF, site="370212")
    assert (
        await client.post(f"/cases/{case_id}/close", json={}, headers=district_chief)
    ).status_code == 403
    closed = await client.post(f"/cases/{case_id}/close", json={}, headers=city_chief)
    assert closed.status_code == 200, closed.text
    detail = (await client.get(f"/cases/{case_id}", headers=city_chief)).json()
    assert detail["status"] == "closed"
    assert detail["timeline"][-2]["actor_site"] == "370212"
