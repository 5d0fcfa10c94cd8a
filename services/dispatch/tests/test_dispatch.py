"""The command centre over real Kafka and PostgreSQL: dispatch, return and re-dispatch,
extension, suspension, feedback, rework, reminders and supervision, the clock going red,
and refusals that change nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import Row, func, select, update

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
    CaseCancelled,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
    ReasonPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    FeedbackForwarded,
    ReminderSent,
    SupervisionIssued,
    SuspensionResumed,
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
from cityloop_shared.contract.events.intake import CaseReported, CaseReportedPayload
from cityloop_shared.contract.events.verification import (
    CheckFailed,
    CheckFailedPayload,
    CheckRequested,
    CheckRequestedPayload,
)
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    ClockStep,
    GeoPoint,
    Location,
    ReportChannel,
    Urgency,
)
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.service.timers import scan_clocks
from cityloop_shared.store.tables import clocks, journal

Client = tuple[httpx.AsyncClient, ServiceRuntime]
Upstream = Callable[[Stage], UpstreamStage]
Auth = Callable[..., dict[str, str]]

SITE = "370212"
GRID = "370212003001001"
GARBAGE = "06010"  # 暴露垃圾: 4 working hours to handle
SANITATION = "370212-sanitation"  # what the matrix gives category 06 in 崂山区
STREET_OFFICE = "370212-street-003"  # no upper-level department
BUREAU = "370212-urban"  # upper-level department of the sanitation office
OPERATOR = Actor(id="op-1", role=Role.ACCEPTANCE_OPERATOR, site=SITE)
CHIEF = Actor(id="chief-1", role=Role.DUTY_CHIEF, site=SITE)
SUPERVISOR = Actor(id="sv-370212-03", role=Role.FIELD_SUPERVISOR, site=SITE)
_numbers = itertools.count(1)


def worker(department_id: str) -> Actor:
    return Actor(
        id=f"{department_id}-worker", role=Role.DEPARTMENT, site=SITE, department_id=department_id
    )


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def registered_case(
    client: Client,
    upstream: Upstream,
    auth: Auth,
    *,
    level: CaseLevel = CaseLevel.DISTRICT,
) -> CaseRegistered:
    """A supervisor's report, accepted and registered, as intake and casefile publish it."""
    http, runtime = client
    reported = await upstream(Stage.INTAKE).emit(
        CaseReported,
        case_id=new_id(),
        actor=OPERATOR,
        payload=CaseReportedPayload(
            channel=ReportChannel.SUPERVISOR,
            description="暴露垃圾",
            location=Location(point=GeoPoint(lon=120.45, lat=36.13), grid_code=GRID),
        ),
    )
    accepted = await upstream(Stage.CASEFILE).emit(
        CaseAccepted,
        case_id=reported.case_id,
        actor=OPERATOR,
        payload=CaseAcceptedPayload(needs_verification=False),
        cause=reported,
    )
    limit = runtime.reference.time_limits.limit_for(ClockStep.DISPOSAL, GARBAGE, Urgency.ORDINARY)
    registered = await upstream(Stage.CASEFILE).emit(
        CaseRegistered,
        case_id=reported.case_id,
        actor=CHIEF,
        payload=CaseRegisteredPayload(
            case_number=case_number(SITE, CaseKind.EVENT, GARBAGE, date.today(), next(_numbers)),
            category=Category(
                standard=runtime.reference.categories.standard, kind=CaseKind.EVENT, code=GARBAGE
            ),
            grid_code=GRID,
            level=level,
            time_limit=limit.as_time_limit(),
        ),
        cause=accepted,
    )
    await in_status(http, registered.case_id, "registered", auth(Role.DISPATCHER))
    return registered


async def dispatched_case(
    client: Client, upstream: Upstream, auth: Auth, department_id: str | None = None
) -> CaseDispatched:
    http, runtime = client
    registered = await registered_case(client, upstream, auth)
    body = {"department_id": department_id} if department_id else {}
    answer = await http.post(
        f"/cases/{registered.case_id}/dispatch", json=body, headers=auth(Role.DISPATCHER)
    )
    assert answer.status_code == 200, answer.text
    event = await journaled(runtime, answer.json()["event_id"])
    assert isinstance(event, CaseDispatched)
    return event


async def accepted_by_department(client: Client, upstream: Upstream, auth: Auth) -> CaseEvent:
    """Dispatched to the sanitation office, which accepts the task (签收)."""
    dispatched = await dispatched_case(client, upstream, auth)
    accepted = await upstream(Stage.DISPOSAL).emit(
        DisposalAccepted,
        case_id=dispatched.case_id,
        actor=worker(SANITATION),
        payload=DisposalAcceptedPayload(department_id=SANITATION),
        cause=dispatched,
    )
    await in_status(client[0], dispatched.case_id, "in_disposal", auth(Role.DISPATCHER))
    return accepted


async def in_status(
    client: httpx.AsyncClient, case_id: UUID, status: str, headers: dict[str, str]
) -> dict[str, Any]:
    async def detail() -> dict[str, Any]:
        answer = await client.get(f"/cases/{case_id}", headers=headers)
        return answer.json() if answer.status_code == 200 else {}

    found: dict[str, Any] = await eventually(detail, lambda d: d.get("status") == status)
    return found


async def journaled(runtime: ServiceRuntime, event_id: str | UUID) -> CaseEvent:
    """One event as this service journaled it for its topic."""
    async with runtime.engine.connect() as conn:
        body = await conn.scalar(select(journal.c.body).where(journal.c.event_id == event_id))
    assert body is not None, f"no event {event_id} in the journal"
    return decode(body)


async def emitted(runtime: ServiceRuntime, case_id: UUID) -> list[CaseEvent]:
    """Every event this service emitted for the case, in order."""
    async with runtime.engine.connect() as conn:
        bodies = await conn.scalars(
            select(journal.c.body).where(journal.c.case_id == case_id).order_by(journal.c.sequence)
        )
        return [decode(body) for body in bodies]


async def clock(runtime: ServiceRuntime, case_id: UUID, step: ClockStep) -> Row[Any]:
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                select(clocks).where(clocks.c.case_id == case_id, clocks.c.step == step.value)
            )
        ).first()
    assert row is not None, f"no {step} clock for {case_id}"
    return row


def disposal_limit(runtime: ServiceRuntime) -> Any:
    return runtime.reference.time_limits.limit_for(ClockStep.DISPOSAL, GARBAGE, Urgency.ORDINARY)


def assert_counted_from(
    runtime: ServiceRuntime, deadline: datetime, before: datetime, after: datetime
) -> None:
    """``deadline`` is the disposal limit added on the working calendar to a moment between
    ``before`` and ``after``."""
    add = runtime.reference.calendar.add_working_time
    limit = disposal_limit(runtime)
    assert add(before, limit) <= deadline <= add(after, limit)


async def test_dispatch_to_the_suggested_department_starts_the_clock(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    registered = await registered_case(dispatch, upstream, auth)
    case_id = registered.case_id

    dispatch_clock = await clock(runtime, case_id, ClockStep.DISPATCH)
    limit = runtime.reference.time_limits.limit_for(ClockStep.DISPATCH, GARBAGE, Urgency.ORDINARY)
    expected = runtime.reference.calendar.add_working_time(registered.occurred_at, limit.duration)
    assert dispatch_clock.deadline == expected
    assert dispatch_clock.stopped_at is None
    queue = (await client.get("/dispatch/queue", headers=dispatcher)).json()
    [waiting] = queue["awaiting_dispatch"]
    assert (waiting["case_id"], waiting["suggested_department_id"]) == (str(case_id), SANITATION)
    assert moment(waiting["dispatch_deadline"]) == expected
    assert waiting["case_number"] == registered.payload.case_number

    before = datetime.now(UTC)
    answer = await client.post(f"/cases/{case_id}/dispatch", json={}, headers=dispatcher)
    after = datetime.now(UTC)
    assert answer.status_code == 200, answer.text
    event = await journaled(runtime, answer.json()["event_id"])
    assert isinstance(event, CaseDispatched)
    assert event.payload.department_id == event.payload.suggested_department_id == SANITATION
    assert_counted_from(runtime, event.payload.deadline, before, after)
    assert event.causation_id == registered.event_id
    assert event.correlation_id == registered.correlation_id

    disposal_clock = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert disposal_clock.deadline == event.payload.deadline
    assert disposal_clock.stopped_at is None
    assert (await clock(runtime, case_id, ClockStep.DISPATCH)).stopped_at is not None
    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert (detail["status"], detail["department_id"]) == ("dispatched", SANITATION)
    assert moment(detail["deadline"]) == event.payload.deadline
    assert (await client.get("/dispatch/queue", headers=dispatcher)).json()[
        "awaiting_dispatch"
    ] == []

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
    events = [decode(r.value) for r in records]
    assert [e.event_type for e in events] == ["case.dispatched"]
    assert verify_chain(events) == []


async def test_the_dispatcher_overrides_the_suggestion_once_per_key(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    registered = await registered_case(dispatch, upstream, auth)
    headers = {**auth(Role.DISPATCHER), "Idempotency-Key": "dispatch-1"}
    body = {"department_id": STREET_OFFICE, "instructions": "今日清理"}
    before = datetime.now(UTC)
    first = await client.post(f"/cases/{registered.case_id}/dispatch", json=body, headers=headers)
    again = await client.post(f"/cases/{registered.case_id}/dispatch", json=body, headers=headers)
    after = datetime.now(UTC)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()

    [event] = await emitted(runtime, registered.case_id)
    assert isinstance(event, CaseDispatched)
    assert event.payload.department_id == STREET_OFFICE
    assert event.payload.suggested_department_id == SANITATION
    assert event.payload.instructions == "今日清理"
    assert_counted_from(runtime, event.payload.deadline, before, after)
    assert moment(first.json()["deadline"]) == event.payload.deadline
    detail = (await client.get(f"/cases/{registered.case_id}", headers=headers)).json()
    assert detail["department_id"] == STREET_OFFICE


async def test_a_return_is_approved_then_the_case_goes_to_another_department(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    await upstream(Stage.DISPOSAL).emit(
        ReturnRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="非本单位职责"),
        cause=dispatched,
    )
    await in_status(client, case_id, "return_requested", dispatcher)
    [pending] = (await client.get("/dispatch/queue", headers=dispatcher)).json()[
        "pending_decisions"
    ]
    assert (pending["kind"], pending["reason"]) == ("return", "非本单位职责")
    assert (pending["department_id"], pending["requested_by"]) == (
        SANITATION,
        worker(SANITATION).id,
    )

    approved = await client.post(
        f"/cases/{case_id}/return/approve", json={"reason": "属街道职责"}, headers=dispatcher
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["event_type"] == "return.approved"
    queue = (await client.get("/dispatch/queue", headers=dispatcher)).json()
    assert queue["pending_decisions"] == []
    [waiting] = queue["awaiting_dispatch"]
    assert (waiting["status"], waiting["department_id"]) == ("awaiting_redispatch", SANITATION)
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).stopped_at is not None
    assert (await clock(runtime, case_id, ClockStep.DISPATCH)).stopped_at is None

    same = await client.post(
        f"/cases/{case_id}/redispatch",
        json={"department_id": SANITATION, "reason": "再派"},
        headers=dispatcher,
    )
    assert same.status_code == 422
    assert same.json()["detail"][0]["loc"] == ["body", "department_id"]
    before = datetime.now(UTC)
    moved = await client.post(
        f"/cases/{case_id}/redispatch",
        json={"department_id": STREET_OFFICE, "reason": "属街道职责"},
        headers=dispatcher,
    )
    after = datetime.now(UTC)
    assert moved.status_code == 200, moved.text
    event = await journaled(runtime, moved.json()["event_id"])
    assert isinstance(event, CaseRedispatched)
    assert (event.payload.department_id, event.payload.previous_department_id) == (
        STREET_OFFICE,
        SANITATION,
    )
    assert_counted_from(runtime, event.payload.deadline, before, after)
    disposal_clock = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (disposal_clock.deadline, disposal_clock.stopped_at) == (event.payload.deadline, None)
    assert (await clock(runtime, case_id, ClockStep.DISPATCH)).stopped_at is not None

    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert (detail["status"], detail["department_id"]) == ("dispatched", STREET_OFFICE)
    assert [e["event_type"] for e in detail["timeline"]][-4:] == [
        "case.dispatched",
        "return.requested",
        "return.approved",
        "case.redispatched",
    ]


async def test_a_refused_return_leaves_the_case_with_the_department(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    accepted = await accepted_by_department(dispatch, upstream, auth)
    case_id = accepted.case_id
    running = await clock(runtime, case_id, ClockStep.DISPOSAL)
    await upstream(Stage.DISPOSAL).emit(
        ReturnRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="非本单位职责"),
        cause=accepted,
    )
    await in_status(client, case_id, "return_requested", dispatcher)
    refused = await client.post(
        f"/cases/{case_id}/return/refuse", json={"reason": "环卫所职责"}, headers=dispatcher
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["event_type"] == "return.refused"
    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert (detail["status"], detail["department_id"]) == ("in_disposal", SANITATION)
    assert (await client.get("/dispatch/queue", headers=dispatcher)).json()[
        "pending_decisions"
    ] == []
    assert await clock(runtime, case_id, ClockStep.DISPOSAL) == running


async def test_an_extension_is_refused_then_approved_with_the_proposed_deadline(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    accepted = await accepted_by_department(dispatch, upstream, auth)
    case_id = accepted.case_id
    original = (await clock(runtime, case_id, ClockStep.DISPOSAL)).deadline

    await upstream(Stage.DISPOSAL).emit(
        ExtensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ExtensionRequestedPayload(
            proposed_deadline=original + timedelta(days=1), reason="需调运大型设备"
        ),
        cause=accepted,
    )
    await in_status(client, case_id, "extension_requested", dispatcher)
    [pending] = (await client.get("/dispatch/queue", headers=dispatcher)).json()[
        "pending_decisions"
    ]
    assert pending["kind"] == "extension"
    assert moment(pending["proposed_deadline"]) == original + timedelta(days=1)
    contradictory = await client.post(
        f"/cases/{case_id}/extension/decide",
        json={"approved": False, "deadline": (original + timedelta(days=1)).isoformat()},
        headers=dispatcher,
    )
    assert contradictory.status_code == 422
    assert contradictory.json()["detail"][0]["loc"] == ["body", "deadline"]
    refused = await client.post(
        f"/cases/{case_id}/extension/decide",
        json={"approved": False, "reason": "可按期完成"},
        headers=dispatcher,
    )
    assert refused.status_code == 200, refused.text
    refusal = await journaled(runtime, refused.json()["event_id"])
    assert isinstance(refusal, ExtensionDecided)
    assert (refusal.payload.approved, refusal.payload.deadline) == (False, original)
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).deadline == original

    proposed = original + timedelta(days=2)
    await upstream(Stage.DISPOSAL).emit(
        ExtensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ExtensionRequestedPayload(proposed_deadline=proposed, reason="设备仍未到位"),
        cause=refusal,
    )
    await in_status(client, case_id, "extension_requested", dispatcher)
    earlier = await client.post(
        f"/cases/{case_id}/extension/decide",
        json={"approved": True, "deadline": (original - timedelta(hours=1)).isoformat()},
        headers=dispatcher,
    )
    assert earlier.status_code == 422
    assert earlier.json()["detail"][0]["loc"] == ["body", "deadline"]
    approved = await client.post(
        f"/cases/{case_id}/extension/decide", json={"approved": True}, headers=dispatcher
    )
    assert approved.status_code == 200, approved.text
    approval = await journaled(runtime, approved.json()["event_id"])
    assert isinstance(approval, ExtensionDecided)
    assert (approval.payload.approved, approval.payload.deadline) == (True, proposed)
    moved = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (moved.deadline, moved.warned, moved.overdue) == (proposed, False, False)
    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert (detail["status"], moment(detail["deadline"])) == ("in_disposal", proposed)


async def test_a_suspension_is_refused_then_approved_and_resumed_with_the_time_added_back(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    accepted = await accepted_by_department(dispatch, upstream, auth)
    case_id = accepted.case_id
    original = (await clock(runtime, case_id, ClockStep.DISPOSAL)).deadline

    await upstream(Stage.DISPOSAL).emit(
        SuspensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="需市政工程配合"),
        cause=accepted,
    )
    await in_status(client, case_id, "suspension_requested", dispatcher)
    assert [
        p["kind"]
        for p in (await client.get("/dispatch/queue", headers=dispatcher)).json()[
            "pending_decisions"
        ]
    ] == ["suspension"]
    refused = await client.post(
        f"/cases/{case_id}/suspension/refuse", json={"reason": "可先行处置"}, headers=dispatcher
    )
    assert refused.status_code == 200, refused.text
    await in_status(client, case_id, "in_disposal", dispatcher)
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).suspended_at is None

    await upstream(Stage.DISPOSAL).emit(
        SuspensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="工程已立项, 待施工"),
        cause=await journaled(runtime, refused.json()["event_id"]),
    )
    await in_status(client, case_id, "suspension_requested", dispatcher)
    approved = await client.post(
        f"/cases/{case_id}/suspension/approve", json={"reason": "纳入问题库"}, headers=dispatcher
    )
    assert approved.status_code == 200, approved.text
    await in_status(client, case_id, "suspended", dispatcher)
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).suspended_at is not None

    # Ten days in the problem pool: the working time then left is counted again from resumption.
    async with runtime.engine.begin() as conn:
        await conn.execute(
            update(clocks)
            .where(clocks.c.case_id == case_id, clocks.c.step == ClockStep.DISPOSAL.value)
            .values(suspended_at=clocks.c.suspended_at - timedelta(days=10))
        )
    suspended_at = (await clock(runtime, case_id, ClockStep.DISPOSAL)).suspended_at
    calendar = runtime.reference.calendar
    left = calendar.working_time_between(suspended_at, original)
    before = datetime.now(UTC)
    resumed = await client.post(f"/cases/{case_id}/resume", json={}, headers=dispatcher)
    after = datetime.now(UTC)
    assert resumed.status_code == 200, resumed.text
    event = await journaled(runtime, resumed.json()["event_id"])
    assert isinstance(event, SuspensionResumed)
    deadline = event.payload.deadline
    assert (
        calendar.add_working_time(before, left)
        <= deadline
        <= calendar.add_working_time(after, left)
    )
    assert deadline > original
    running = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (running.deadline, running.suspended_at) == (deadline, None)
    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert (detail["status"], moment(detail["deadline"])) == ("in_disposal", deadline)


async def completed_case(
    client: Client, upstream: Upstream, auth: Auth
) -> tuple[DisposalCompleted, FeedbackForwarded]:
    """The department reports the problem handled; dispatch passes it on by itself."""
    http, runtime = client
    accepted = await accepted_by_department(client, upstream, auth)
    completed = await upstream(Stage.DISPOSAL).emit(
        DisposalCompleted,
        case_id=accepted.case_id,
        actor=worker(SANITATION),
        payload=DisposalCompletedPayload(department_id=SANITATION, description="已清运"),
        cause=accepted,
    )
    await in_status(http, accepted.case_id, "feedback_forwarded", auth(Role.DISPATCHER))
    feedback = (await emitted(runtime, accepted.case_id))[-1]
    assert isinstance(feedback, FeedbackForwarded)
    return completed, feedback


async def test_a_completed_disposal_is_forwarded_to_the_supervision_centre(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    _, runtime = dispatch
    completed, feedback = await completed_case(dispatch, upstream, auth)
    assert feedback.causation_id == completed.event_id
    assert feedback.actor == Actor.system(SITE, "dispatch")
    disposal_clock = await clock(runtime, completed.case_id, ClockStep.DISPOSAL)
    assert disposal_clock.stopped_at == completed.occurred_at


async def test_a_failed_check_reopens_the_case_for_the_same_department(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    _, feedback = await completed_case(dispatch, upstream, auth)
    case_id = feedback.case_id
    check = await upstream(Stage.VERIFICATION).emit(
        CheckRequested,
        case_id=case_id,
        actor=OPERATOR,
        payload=CheckRequestedPayload(supervisor_id=SUPERVISOR.id),
        cause=feedback,
    )
    before = datetime.now(UTC)
    failed = await upstream(Stage.VERIFICATION).emit(
        CheckFailed,
        case_id=case_id,
        actor=SUPERVISOR,
        payload=CheckFailedPayload(reason="垃圾仍在"),
        cause=check,
    )
    detail = await in_status(client, case_id, "dispatched", auth(Role.DISPATCHER))
    after = datetime.now(UTC)
    rework = (await emitted(runtime, case_id))[-1]
    assert isinstance(rework, CaseReopenedForRework)
    assert rework.causation_id == failed.event_id
    assert (rework.payload.department_id, rework.payload.reason) == (SANITATION, "垃圾仍在")
    assert_counted_from(runtime, rework.payload.deadline, before, after)
    restarted = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (restarted.deadline, restarted.stopped_at) == (rework.payload.deadline, None)
    assert detail["department_id"] == SANITATION
    assert [e["event_type"] for e in detail["timeline"]][-3:] == [
        "check.requested",
        "check.failed",
        "case.reopened_for_rework",
    ]


async def test_reminders_and_supervision_reach_the_handling_department(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    waiting = await registered_case(dispatch, upstream, auth)
    early = await client.post(
        f"/cases/{waiting.case_id}/reminders", json={"message": "请尽快处理"}, headers=dispatcher
    )
    assert early.status_code == 409  # not dispatched yet: nobody to remind

    sanitation = await dispatched_case(dispatch, upstream, auth)
    case_id = sanitation.case_id
    reminded = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "请尽快处理"}, headers=dispatcher
    )
    assert reminded.status_code == 200, reminded.text
    reminder = await journaled(runtime, reminded.json()["event_id"])
    assert isinstance(reminder, ReminderSent)
    assert (reminder.payload.message, reminder.payload.department_id) == ("请尽快处理", SANITATION)

    bureau = auth(Role.UPPER_DEPARTMENT, id="bureau-1", department_id=BUREAU)
    supervised = await client.post(
        f"/cases/{case_id}/supervision", json={"message": "限今日办结"}, headers=bureau
    )
    assert supervised.status_code == 200, supervised.text
    supervision = await journaled(runtime, supervised.json()["event_id"])
    assert isinstance(supervision, SupervisionIssued)
    assert (supervision.actor.id, supervision.payload.department_id) == ("bureau-1", SANITATION)
    city_bureau = auth(
        Role.UPPER_DEPARTMENT, site="370200", id="city-1", department_id="370200-urban"
    )
    from_the_city = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "市局催办"}, headers=city_bureau
    )
    assert from_the_city.status_code == 200, from_the_city.text

    street = await dispatched_case(dispatch, upstream, auth, STREET_OFFICE)
    not_under = await client.post(
        f"/cases/{street.case_id}/supervision", json={"message": "督办"}, headers=bureau
    )
    assert not_under.status_code == 403
    no_department = auth(Role.UPPER_DEPARTMENT, id="bureau-2")
    unknown = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "催办"}, headers=no_department
    )
    assert unknown.status_code == 403
    other_district = auth(Role.UPPER_DEPARTMENT, site="370202", department_id="370202-urban")
    elsewhere = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "催办"}, headers=other_district
    )
    assert elsewhere.status_code == 403
    department = auth(Role.DEPARTMENT, department_id=SANITATION)
    wrong_role = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "催办"}, headers=department
    )
    assert wrong_role.status_code == 403
    assert [e.event_type for e in await emitted(runtime, street.case_id)] == ["case.dispatched"]
    assert [e.event_type for e in await emitted(runtime, case_id)] == [
        "case.dispatched",
        "reminder.sent",
        "supervision.issued",
        "reminder.sent",
    ]


async def test_illegal_commands_are_refused_and_emit_nothing(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    reported = await upstream(Stage.INTAKE).emit(
        CaseReported,
        case_id=new_id(),
        actor=OPERATOR,
        payload=CaseReportedPayload(
            channel=ReportChannel.SUPERVISOR,
            description="暴露垃圾",
            location=Location(grid_code=GRID),
        ),
    )
    accepted = await upstream(Stage.CASEFILE).emit(
        CaseAccepted,
        case_id=reported.case_id,
        actor=OPERATOR,
        payload=CaseAcceptedPayload(needs_verification=False),
        cause=reported,
    )
    await upstream(Stage.CASEFILE).emit(
        CaseCancelled,
        case_id=reported.case_id,
        actor=CHIEF,
        payload=ReasonPayload(reason="不属于城管范围"),
        cause=accepted,
    )
    await in_status(client, reported.case_id, "cancelled", dispatcher)
    cancelled = await client.post(
        f"/cases/{reported.case_id}/dispatch",
        json={"department_id": SANITATION},
        headers=dispatcher,
    )
    assert cancelled.status_code == 409
    assert cancelled.json()["status"] == "cancelled"
    assert await emitted(runtime, reported.case_id) == []

    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    refusals = {
        "extension/decide": {"approved": True},
        "redispatch": {"department_id": STREET_OFFICE, "reason": "改派"},
        "return/approve": {"reason": "同意"},
        "suspension/approve": {"reason": "同意"},
        "resume": {},
        "dispatch": {},
    }
    for command, body in refusals.items():
        refused = await client.post(f"/cases/{case_id}/{command}", json=body, headers=dispatcher)
        assert refused.status_code == 409, (command, refused.text)
        assert refused.json()["status"] == "dispatched"
    assert [e.event_type for e in await emitted(runtime, case_id)] == ["case.dispatched"]

    city_level = await registered_case(dispatch, upstream, auth, level=CaseLevel.CITY)
    queue = (await client.get("/dispatch/queue", headers=dispatcher)).json()
    assert str(city_level.case_id) not in [c["case_id"] for c in queue["awaiting_dispatch"]]
    city_case = await client.post(
        f"/cases/{city_level.case_id}/dispatch",
        json={"department_id": SANITATION},
        headers=dispatcher,
    )
    assert city_case.status_code == 409
    assert await emitted(runtime, city_level.case_id) == []
    async with runtime.engine.connect() as conn:
        city_clocks = await conn.scalar(
            select(func.count()).where(clocks.c.case_id == city_level.case_id)
        )
    assert city_clocks == 0


async def test_people_of_another_district_or_role_are_refused(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    registered = await registered_case(dispatch, upstream, auth)
    url = f"/cases/{registered.case_id}/dispatch"
    assert (await client.post(url, json={})).status_code == 401
    other_district = auth(Role.DISPATCHER, site="370202")
    assert (await client.post(url, json={}, headers=other_district)).status_code == 403
    assert (await client.get("/dispatch/queue", headers=other_district)).status_code == 403
    chief = auth(Role.DUTY_CHIEF)
    assert (await client.post(url, json={}, headers=chief)).status_code == 403
    assert (await client.get("/dispatch/queue", headers=chief)).status_code == 403
    assert await emitted(runtime, registered.case_id) == []


async def test_malformed_commands_name_the_field(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    registered = await registered_case(dispatch, upstream, auth)
    case = f"/cases/{registered.case_id}"
    malformed: list[tuple[str, dict[str, Any], list[str]]] = [
        ("dispatch", {"department_id": ""}, ["body", "department_id"]),
        ("dispatch", {"colour": "red"}, ["body", "colour"]),
        ("dispatch", {"department_id": "370212-nowhere"}, ["body", "department_id"]),
        ("dispatch", {"department_id": "370202-urban"}, ["body", "department_id"]),
        ("dispatch", {"department_id": "370200-water"}, ["body", "department_id"]),
        ("dispatch", {"instructions": "x" * 2001}, ["body", "instructions"]),
        ("redispatch", {"department_id": STREET_OFFICE}, ["body", "reason"]),
        ("return/approve", {"reason": ""}, ["body", "reason"]),
        ("extension/decide", {"approved": "perhaps"}, ["body", "approved"]),
        (
            "extension/decide",
            {"approved": True, "deadline": "2030-01-01T10:00:00"},
            ["body", "deadline"],
        ),
        ("reminders", {"message": ""}, ["body", "message"]),
    ]
    for command, body, loc in malformed:
        answer = await client.post(f"{case}/{command}", json=body, headers=dispatcher)
        assert answer.status_code == 422, (command, body, answer.text)
        assert answer.json()["detail"][0]["loc"] == loc, (command, body)
    assert await emitted(runtime, registered.case_id) == []
    detail = (await client.get(case, headers=dispatcher)).json()
    assert detail["status"] == "registered"


async def test_an_overdue_case_turns_red_once(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert detail["overdue"] is False

    # Working time passes: 80 % and then all of the limit are used up.
    now = datetime.now(UTC)
    deadline = now - timedelta(hours=1)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            update(clocks)
            .where(clocks.c.case_id == case_id, clocks.c.step == ClockStep.DISPOSAL.value)
            .values(warn_at=now - timedelta(hours=2), deadline=deadline)
        )

    async def signals() -> list[str]:
        return [e.event_type for e in await emitted(runtime, case_id)]

    await eventually(signals, lambda types: "time_limit.overdue" in types)
    for _ in range(3):
        assert await scan_clocks(runtime) == 0
    await asyncio.sleep(1.0)  # several more scans of the service's own timer
    events = await emitted(runtime, case_id)
    assert [e.event_type for e in events] == [
        "case.dispatched",
        "time_limit.warning",
        "time_limit.overdue",
    ]
    for event in events[1:]:
        assert event.payload.model_dump() == {"step": ClockStep.DISPOSAL, "deadline": deadline}
    detail = (await client.get(f"/cases/{case_id}", headers=dispatcher)).json()
    assert (detail["status"], detail["overdue"]) == ("dispatched", True)
    red = (await client.get("/cases", params={"overdue": True}, headers=dispatcher)).json()
    assert [c["case_id"] for c in red["cases"]] == [str(case_id)]

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 3)
    on_topic = [decode(r.value) for r in records]
    assert [e.event_type for e in on_topic] == [e.event_type for e in events]
    assert verify_chain(on_topic) == []


async def test_the_end_of_a_case_stops_its_clocks_and_drops_its_requests(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    returned = await upstream(Stage.DISPOSAL).emit(
        ReturnRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="非本单位职责"),
        cause=dispatched,
    )
    await in_status(client, case_id, "return_requested", dispatcher)
    await upstream(Stage.CASEFILE).emit(
        CaseVoided,
        case_id=case_id,
        actor=CHIEF,
        payload=CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
        cause=returned,
    )
    await in_status(client, case_id, "voided", dispatcher)
    for step in (ClockStep.DISPATCH, ClockStep.DISPOSAL):
        assert (await clock(runtime, case_id, step)).stopped_at is not None
    queue = (await client.get("/dispatch/queue", headers=dispatcher)).json()
    assert queue == {"awaiting_dispatch": [], "pending_decisions": []}
