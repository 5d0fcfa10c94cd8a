"""The command centre over real Kafka and PostgreSQL: dispatch, return and re-dispatch,
extension, suspension, feedback, rework, reminders and supervision, the clocks and their
yellow and red signals, and refusals that change nothing.

Dispatch keeps only its own records: a test waits on its work queue (派遣队列) or on its
record of the case, never on the site's case file (casefile's)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import update

from cityloop_deploy.site_fixtures import (
    UpstreamStage,
    eventually,
    read_to_the_end,
    topic_records,
)
from cityloop_dispatch.state import DispatchCase
from cityloop_dispatch.store import dispatch_cases
from cityloop_shared.adapters.sql.tables import clocks
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
    CaseDispatchedPayload,
    CaseRedispatched,
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    ExtensionDecided,
    FeedbackForwarded,
    FeedbackForwardedPayload,
    ReminderSent,
    ReturnApproved,
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
from cityloop_shared.contract.ids import derived_id
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    ClockStep,
    Deadline,
    GeoPoint,
    Location,
    ReportChannel,
    Urgency,
)
from cityloop_shared.ports.clocks import WARNING_SHARE, Clock
from cityloop_shared.reference.time_limits import TimeLimit
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.timers import scan_clocks
from cityloop_shared.testing.identity import bearer

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


def as_dispatcher() -> dict[str, str]:
    """Headers of the site's dispatcher, for helpers that poll the queue outside a test."""
    actor = Actor(id="dispatcher-1", role=Role.DISPATCHER, site=SITE)
    return bearer(actor)


def worker(department_id: str) -> Actor:
    return Actor(
        id=f"{department_id}-worker", role=Role.DEPARTMENT, site=SITE, department_id=department_id
    )


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- what the service holds -------------------------------------------------------------------
async def record(runtime: ServiceRuntime, case_id: UUID) -> DispatchCase | None:
    """The command centre's record of the case (派遣案卷), as it is stored."""
    async with runtime.database.begin() as uow:
        found = await uow.states(dispatch_cases, DispatchCase).load([case_id])
    return found.get(case_id)


async def in_status(runtime: ServiceRuntime, case_id: UUID, status: str) -> DispatchCase:
    """Until the stage's record shows the case in ``status`` (events travel by Kafka)."""

    async def probe() -> DispatchCase | None:
        return await record(runtime, case_id)

    found = await eventually(probe, lambda r: r is not None and r.status == status)
    assert found is not None
    return found


async def queued(
    client: httpx.AsyncClient, case_id: UUID, part: str = "awaiting_dispatch"
) -> dict[str, Any]:
    """Until the dispatcher's queue lists the case in ``part``; its entry."""
    headers = as_dispatcher()

    async def probe() -> dict[str, Any] | None:
        queue = (await client.get("/dispatch/queue", headers=headers)).json()
        return next((e for e in queue[part] if e["case_id"] == str(case_id)), None)

    entry = await eventually(probe, lambda e: e is not None)
    assert entry is not None
    return entry


async def the_queue(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/dispatch/queue", headers=as_dispatcher())
    assert answer.status_code == 200, answer.text
    queue: dict[str, Any] = answer.json()
    return queue


async def emitted(runtime: ServiceRuntime, case_id: UUID) -> list[CaseEvent]:
    """Every event this service emitted for the case, in chain order (its journal)."""
    async with runtime.database.begin() as uow:
        return await uow.recorder.case_events(case_id)


async def journaled(runtime: ServiceRuntime, answer: httpx.Response) -> CaseEvent:
    """The event a command's answer names, as this service journaled it."""
    assert answer.status_code == 200, answer.text
    body = answer.json()
    events = await emitted(runtime, UUID(body["case_id"]))
    found = next((e for e in events if str(e.event_id) == body["event_id"]), None)
    assert found is not None, f"no event {body['event_id']} in the journal"
    return found


async def applied(runtime: ServiceRuntime, case_id: UUID) -> list[str]:
    """The types of the case's events the stage applied, received or its own, in order."""
    async with runtime.database.begin() as uow:
        history = await uow.tracker.history()
    return [a.event_type for a in history if a.case_id == case_id]


async def clock(runtime: ServiceRuntime, case_id: UUID, step: ClockStep) -> Clock:
    async with runtime.database.begin() as uow:
        found = await uow.clocks.clock(case_id, step)
    assert found is not None, f"no {step} clock for {case_id}"
    return found


def disposal_limit(runtime: ServiceRuntime) -> TimeLimit:
    return runtime.reference.time_limits.limit_for(ClockStep.DISPOSAL, GARBAGE, Urgency.ORDINARY)


def disposal_due(runtime: ServiceRuntime, start: datetime) -> datetime:
    """The disposal time limit of a 暴露垃圾 case counted from ``start``."""
    return runtime.reference.calendar.add_working_time(start, disposal_limit(runtime).duration)


def dispatch_due(
    runtime: ServiceRuntime, start: datetime, urgency: Urgency = Urgency.ORDINARY
) -> datetime:
    """The dispatch time limit (派遣时限) counted from ``start``."""
    limit = runtime.reference.time_limits.limit_for(ClockStep.DISPATCH, GARBAGE, urgency)
    return runtime.reference.calendar.add_working_time(start, limit.duration)


def carried(runtime: ServiceRuntime, step: ClockStep, start: datetime, due: datetime) -> Deadline:
    """The deadline an event carries for ``step``: provisional when the working calendar does
    not know the official days of a year from ``start`` to ``due`` (the tests run on today's
    date)."""
    calendar = runtime.reference.calendar
    first, last = (moment.astimezone(calendar.zone).year for moment in (start, due))
    known = all(calendar.covers(year) for year in range(first, last + 1))
    return Deadline(step=step, due_at=due, provisional=not known)


# --- cases as the other stages publish them -----------------------------------------------------
async def registered_case(
    client: Client,
    upstream: Upstream,
    *,
    level: CaseLevel = CaseLevel.DISTRICT,
    urgency: Urgency = Urgency.ORDINARY,
) -> CaseRegistered:
    """A supervisor's report, accepted and registered, as intake and casefile publish it;
    for a district-level case, once it waits in the dispatcher's queue."""
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
        payload=CaseAcceptedPayload(needs_verification=False, urgency=urgency),
        cause=reported,
    )
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
            urgency=urgency,
            time_limit=disposal_limit(runtime).as_time_limit(),
            channel=ReportChannel.SUPERVISOR,
        ),
        cause=accepted,
    )
    if level is CaseLevel.DISTRICT:
        await queued(http, registered.case_id)
    return registered


async def dispatched_case(
    client: Client, upstream: Upstream, auth: Auth, department_id: str | None = None
) -> CaseDispatched:
    http, runtime = client
    registered = await registered_case(client, upstream)
    body = {"department_id": department_id} if department_id else {}
    answer = await http.post(
        f"/cases/{registered.case_id}/dispatch", json=body, headers=auth(Role.DISPATCHER)
    )
    event = await journaled(runtime, answer)
    assert isinstance(event, CaseDispatched)
    return event


async def accepted_by_department(client: Client, upstream: Upstream, auth: Auth) -> CaseEvent:
    """Dispatched to the sanitation office, which accepts the task (签收). Dispatch does not
    follow the acceptance: it learns of it from the department's later requests."""
    dispatched = await dispatched_case(client, upstream, auth)
    return await upstream(Stage.DISPOSAL).emit(
        DisposalAccepted,
        case_id=dispatched.case_id,
        actor=worker(SANITATION),
        payload=DisposalAcceptedPayload(department_id=SANITATION),
        cause=dispatched,
    )


async def completed_case(
    client: Client, upstream: Upstream, auth: Auth
) -> tuple[DisposalCompleted, FeedbackForwarded]:
    """The department reports the problem handled; dispatch passes it on by itself."""
    _, runtime = client
    accepted = await accepted_by_department(client, upstream, auth)
    completed = await upstream(Stage.DISPOSAL).emit(
        DisposalCompleted,
        case_id=accepted.case_id,
        actor=worker(SANITATION),
        payload=DisposalCompletedPayload(department_id=SANITATION, description="已清运"),
        cause=accepted,
    )
    await in_status(runtime, accepted.case_id, "feedback_forwarded")
    feedback = (await emitted(runtime, accepted.case_id))[-1]
    assert isinstance(feedback, FeedbackForwarded)
    return completed, feedback


# --- 派遣 -----------------------------------------------------------------------------------------
async def test_dispatch_to_the_suggested_department_starts_the_clock(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    registered = await registered_case(dispatch, upstream)
    case_id = registered.case_id

    # 立案 starts the dispatch clock; the case waits in the queue with the matrix's suggestion.
    expected = dispatch_due(runtime, registered.occurred_at)
    dispatch_clock = await clock(runtime, case_id, ClockStep.DISPATCH)
    assert (dispatch_clock.started_at, dispatch_clock.deadline) == (
        registered.occurred_at,
        expected,
    )
    assert dispatch_clock.stopped_at is None
    [waiting] = (await the_queue(client))["awaiting_dispatch"]
    assert {
        **waiting,
        "registered_at": moment(waiting["registered_at"]),
        "dispatch_deadline": moment(waiting["dispatch_deadline"]),
    } == {
        "case_id": str(case_id),
        "case_number": registered.payload.case_number,
        "status": "registered",
        "category_code": GARBAGE,
        "grid_code": GRID,
        "urgency": "ordinary",
        "registered_at": registered.occurred_at,
        "suggested_department_id": SANITATION,
        "department_id": None,
        "dispatch_deadline": expected,
    }

    answer = await client.post(f"/cases/{case_id}/dispatch", json={}, headers=dispatcher)
    event = await journaled(runtime, answer)
    assert isinstance(event, CaseDispatched)
    deadline = disposal_due(runtime, event.occurred_at)
    assert event.payload == CaseDispatchedPayload(
        department_id=SANITATION,
        suggested_department_id=SANITATION,
        deadline=deadline,
        deadlines=(carried(runtime, ClockStep.DISPOSAL, event.occurred_at, deadline),),
        case_number=registered.payload.case_number,
        category=registered.payload.category,
        grid_code=GRID,
        channel=ReportChannel.SUPERVISOR,
    )
    assert moment(answer.json()["deadline"]) == deadline
    assert answer.json()["department_id"] == SANITATION
    assert event.causation_id == registered.event_id
    assert event.correlation_id == registered.correlation_id
    assert event.actor.role is Role.DISPATCHER

    # 派遣 stops the dispatch clock and starts the department's.
    disposal_clock = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (disposal_clock.started_at, disposal_clock.deadline) == (event.occurred_at, deadline)
    assert disposal_clock.stopped_at is None
    assert (await clock(runtime, case_id, ClockStep.DISPATCH)).stopped_at == event.occurred_at
    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.department_id, held.deadline) == ("dispatched", SANITATION, deadline)
    assert await the_queue(client) == {"awaiting_dispatch": [], "pending_decisions": []}

    # What intake and casefile published before the registration was not followed.
    assert await applied(runtime, case_id) == ["case.registered", "case.dispatched"]
    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 1)
    events = [decode(r.value) for r in records]
    assert [e.event_type for e in events] == ["case.dispatched"]
    assert verify_chain(events) == []


async def test_an_urgent_case_must_be_dispatched_sooner(
    dispatch: Client, upstream: Upstream
) -> None:
    client, runtime = dispatch
    registered = await registered_case(dispatch, upstream, urgency=Urgency.URGENT)
    waiting = await queued(client, registered.case_id)
    urgent = dispatch_due(runtime, registered.occurred_at, Urgency.URGENT)
    assert urgent < dispatch_due(runtime, registered.occurred_at)
    assert (waiting["urgency"], moment(waiting["dispatch_deadline"])) == ("urgent", urgent)
    assert (await clock(runtime, registered.case_id, ClockStep.DISPATCH)).deadline == urgent


async def test_the_dispatcher_overrides_the_suggestion_once_per_key(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    registered = await registered_case(dispatch, upstream)
    headers = {**auth(Role.DISPATCHER), "Idempotency-Key": "dispatch-1"}
    body = {"department_id": STREET_OFFICE, "instructions": "今日清理"}
    first = await client.post(f"/cases/{registered.case_id}/dispatch", json=body, headers=headers)
    again = await client.post(f"/cases/{registered.case_id}/dispatch", json=body, headers=headers)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json()

    [event] = await emitted(runtime, registered.case_id)
    assert isinstance(event, CaseDispatched)
    assert event.payload.department_id == STREET_OFFICE
    assert event.payload.suggested_department_id == SANITATION
    assert event.payload.instructions == "今日清理"
    assert event.payload.deadline == disposal_due(runtime, event.occurred_at)
    assert moment(first.json()["deadline"]) == event.payload.deadline
    held = await record(runtime, registered.case_id)
    assert held is not None
    assert held.department_id == STREET_OFFICE


# --- 回退, 改派 -----------------------------------------------------------------------------------
async def test_a_return_is_approved_then_the_case_goes_to_another_department(
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
    pending = await queued(client, case_id, "pending_decisions")
    assert {
        **pending,
        "requested_at": moment(pending["requested_at"]),
        "deadline": moment(pending["deadline"]),
    } == {
        "case_id": str(case_id),
        "case_number": dispatched.payload.case_number,
        "status": "return_requested",
        "kind": "return",
        "reason": "非本单位职责",
        "proposed_deadline": None,
        "requested_by": worker(SANITATION).id,
        "requested_at": returned.occurred_at,
        "department_id": SANITATION,
        "deadline": dispatched.payload.deadline,
    }

    answer = await client.post(
        f"/cases/{case_id}/return/approve", json={"reason": "属街道职责"}, headers=dispatcher
    )
    approval = await journaled(runtime, answer)
    assert isinstance(approval, ReturnApproved)
    assert approval.causation_id == returned.event_id
    queue = await the_queue(client)
    assert queue["pending_decisions"] == []
    [waiting] = queue["awaiting_dispatch"]
    assert (waiting["status"], waiting["department_id"]) == ("awaiting_redispatch", SANITATION)
    # The department's clock stops; the dispatch clock runs again from the approval, towards
    # the deadline the approval carries.
    redispatch_due = dispatch_due(runtime, approval.occurred_at)
    assert approval.payload.deadlines == (
        carried(runtime, ClockStep.DISPATCH, approval.occurred_at, redispatch_due),
    )
    assert moment(waiting["dispatch_deadline"]) == redispatch_due
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).stopped_at == approval.occurred_at
    dispatch_clock = await clock(runtime, case_id, ClockStep.DISPATCH)
    assert (dispatch_clock.started_at, dispatch_clock.deadline, dispatch_clock.stopped_at) == (
        approval.occurred_at,
        redispatch_due,
        None,
    )

    same = await client.post(
        f"/cases/{case_id}/redispatch",
        json={"department_id": SANITATION, "reason": "再派"},
        headers=dispatcher,
    )
    assert same.status_code == 422
    assert same.json()["detail"][0]["loc"] == ["body", "department_id"]
    moved = await client.post(
        f"/cases/{case_id}/redispatch",
        json={"department_id": STREET_OFFICE, "reason": "属街道职责"},
        headers=dispatcher,
    )
    event = await journaled(runtime, moved)
    assert isinstance(event, CaseRedispatched)
    assert (event.payload.department_id, event.payload.previous_department_id) == (
        STREET_OFFICE,
        SANITATION,
    )
    assert event.payload.deadline == disposal_due(runtime, event.occurred_at)
    assert event.payload.deadlines == (
        carried(runtime, ClockStep.DISPOSAL, event.occurred_at, event.payload.deadline),
    )
    disposal_clock = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (disposal_clock.started_at, disposal_clock.deadline, disposal_clock.stopped_at) == (
        event.occurred_at,
        event.payload.deadline,
        None,
    )
    assert (await clock(runtime, case_id, ClockStep.DISPATCH)).stopped_at == event.occurred_at

    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.department_id, held.request) == ("dispatched", STREET_OFFICE, None)
    assert await applied(runtime, case_id) == [
        "case.registered",
        "case.dispatched",
        "return.requested",
        "return.approved",
        "case.redispatched",
    ]


async def test_a_refused_return_leaves_the_case_with_the_department(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
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
    await queued(client, case_id, "pending_decisions")
    refused = await client.post(
        f"/cases/{case_id}/return/refuse",
        json={"reason": "环卫所职责"},
        headers=auth(Role.DISPATCHER),
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["event_type"] == "return.refused"
    # Back where dispatch last saw the case: it does not follow the department's acceptance.
    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.department_id, held.request) == ("dispatched", SANITATION, None)
    assert (await the_queue(client))["pending_decisions"] == []
    assert await clock(runtime, case_id, ClockStep.DISPOSAL) == running
    assert "disposal.accepted" not in await applied(runtime, case_id)


# --- 延期 -----------------------------------------------------------------------------------------
async def test_an_extension_is_refused_then_approved_with_the_proposed_deadline(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    accepted = await accepted_by_department(dispatch, upstream, auth)
    case_id = accepted.case_id
    original = (await clock(runtime, case_id, ClockStep.DISPOSAL)).deadline

    first = await upstream(Stage.DISPOSAL).emit(
        ExtensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ExtensionRequestedPayload(
            proposed_deadline=original + timedelta(days=1), reason="需调运大型设备"
        ),
        cause=accepted,
    )
    pending = await queued(client, case_id, "pending_decisions")
    assert (pending["kind"], pending["status"], pending["reason"]) == (
        "extension",
        "extension_requested",
        "需调运大型设备",
    )
    assert moment(pending["proposed_deadline"]) == original + timedelta(days=1)
    assert moment(pending["requested_at"]) == first.occurred_at
    assert moment(pending["deadline"]) == original
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
    refusal = await journaled(runtime, refused)
    assert isinstance(refusal, ExtensionDecided)
    assert (refusal.payload.approved, refusal.payload.deadline) == (False, original)
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).deadline == original
    assert (await the_queue(client))["pending_decisions"] == []

    proposed = original + timedelta(days=2)
    await upstream(Stage.DISPOSAL).emit(
        ExtensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ExtensionRequestedPayload(proposed_deadline=proposed, reason="设备仍未到位"),
        cause=refusal,
    )
    await queued(client, case_id, "pending_decisions")
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
    approval = await journaled(runtime, approved)
    assert isinstance(approval, ExtensionDecided)
    assert (approval.payload.approved, approval.payload.deadline) == (True, proposed)

    # The clock moves: its yellow mark falls at 80 % of the longer time, and both signals
    # may fire again.
    moved = await clock(runtime, case_id, ClockStep.DISPOSAL)
    calendar = runtime.reference.calendar
    used = calendar.working_time_between(moved.started_at, proposed) * WARNING_SHARE
    assert (moved.deadline, moved.warned, moved.overdue) == (proposed, False, False)
    assert moved.warn_at == calendar.add_working_time(moved.started_at, used)
    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.deadline, held.request) == ("in_disposal", proposed, None)
    # The department's acceptance (签收) was read and dropped by its type.
    assert "disposal.accepted" not in await applied(runtime, case_id)


# --- 挂账 -----------------------------------------------------------------------------------------
async def test_a_suspension_is_refused_then_approved_and_resumed_with_the_time_added_back(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    accepted = await accepted_by_department(dispatch, upstream, auth)
    case_id = accepted.case_id
    running = await clock(runtime, case_id, ClockStep.DISPOSAL)

    await upstream(Stage.DISPOSAL).emit(
        SuspensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="需市政工程配合"),
        cause=accepted,
    )
    pending = await queued(client, case_id, "pending_decisions")
    assert (pending["kind"], pending["status"]) == ("suspension", "suspension_requested")
    refused = await client.post(
        f"/cases/{case_id}/suspension/refuse", json={"reason": "可先行处置"}, headers=dispatcher
    )
    refusal = await journaled(runtime, refused)
    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.suspended_at, held.request) == ("in_disposal", None, None)
    assert await clock(runtime, case_id, ClockStep.DISPOSAL) == running

    await upstream(Stage.DISPOSAL).emit(
        SuspensionRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="工程已立项, 待施工"),
        cause=refusal,
    )
    await queued(client, case_id, "pending_decisions")
    approved = await client.post(
        f"/cases/{case_id}/suspension/approve", json={"reason": "纳入问题库"}, headers=dispatcher
    )
    approval = await journaled(runtime, approved)
    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.suspended_at) == ("suspended", approval.occurred_at)
    paused = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert paused.suspended_at == approval.occurred_at
    assert (paused.deadline, paused.warn_at) == (running.deadline, running.warn_at)
    # A department still holds a suspended case: it can be urged.
    urged = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "工程进度如何"}, headers=dispatcher
    )
    assert urged.status_code == 200, urged.text

    # Ten days in the problem pool: the working time then left counts again from resumption.
    pool_entry = approval.occurred_at - timedelta(days=10)
    async with runtime.database.begin() as uow:
        uow.write(
            update(dispatch_cases)
            .where(dispatch_cases.c.case_id == case_id)
            .values(suspended_at=pool_entry)
        )
        uow.write(
            update(clocks)
            .where(clocks.c.case_id == case_id, clocks.c.step == ClockStep.DISPOSAL.value)
            .values(suspended_at=pool_entry)
        )
    held = await record(runtime, case_id)
    assert held is not None
    assert held.deadline is not None
    assert held.suspended_at == pool_entry
    paused = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert paused.suspended_at == pool_entry
    calendar = runtime.reference.calendar
    left = calendar.working_time_between(held.suspended_at, held.deadline)

    resumed = await client.post(f"/cases/{case_id}/resume", json={}, headers=dispatcher)
    event = await journaled(runtime, resumed)
    assert isinstance(event, SuspensionResumed)
    deadline = event.payload.deadline
    assert deadline == calendar.add_working_time(event.occurred_at, left)
    assert deadline > running.deadline
    assert moment(resumed.json()["deadline"]) == deadline

    # The clock runs again, its yellow mark as far from the deadline as it was.
    again = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (again.deadline, again.suspended_at, again.stopped_at) == (deadline, None, None)
    assert again.warn_at == calendar.add_working_time(
        event.occurred_at, calendar.working_time_between(pool_entry, paused.warn_at)
    )
    assert calendar.working_time_between(
        again.warn_at, again.deadline
    ) == calendar.working_time_between(running.warn_at, running.deadline)
    held = await record(runtime, case_id)
    assert held is not None
    assert (held.status, held.deadline, held.suspended_at) == ("in_disposal", deadline, None)


# --- 处理反馈, 返工 -------------------------------------------------------------------------------
async def test_a_completed_disposal_is_forwarded_to_the_supervision_centre(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    completed, feedback = await completed_case(dispatch, upstream, auth)
    case_id = completed.case_id
    held = await record(runtime, case_id)
    assert held is not None

    assert feedback.causation_id == completed.event_id
    assert feedback.correlation_id == completed.correlation_id
    assert feedback.actor == Actor.system(SITE, "dispatch")
    assert feedback.payload == FeedbackForwardedPayload(
        department_id=SANITATION,
        case_number=held.case_number,
        category=held.category,
        grid_code=GRID,
        channel=ReportChannel.SUPERVISOR,
    )
    # Decided with the report's time and an id derived from it: a replay derives it again.
    assert feedback.occurred_at == completed.occurred_at
    assert feedback.event_id == derived_id(completed.occurred_at, "dispatch", completed.event_id, 0)
    disposal_clock = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert disposal_clock.stopped_at == completed.occurred_at

    # The case is with the supervision centre now: there is no department left to urge.
    dispatcher = auth(Role.DISPATCHER)
    bureau = auth(Role.UPPER_DEPARTMENT, id="bureau-1", department_id=BUREAU)
    for command, headers in (("reminders", dispatcher), ("supervision", bureau)):
        late = await client.post(
            f"/cases/{case_id}/{command}", json={"message": "请尽快处理"}, headers=headers
        )
        assert late.status_code == 409, (command, late.text)
        assert late.json()["status"] == "feedback_forwarded"
    assert [e.event_type for e in await emitted(runtime, case_id)] == [
        "case.dispatched",
        "feedback.forwarded",
    ]


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
    failed = await upstream(Stage.VERIFICATION).emit(
        CheckFailed,
        case_id=case_id,
        actor=SUPERVISOR,
        payload=CheckFailedPayload(reason="垃圾仍在"),
        cause=check,
    )
    held = await in_status(runtime, case_id, "dispatched")
    rework = (await emitted(runtime, case_id))[-1]
    assert isinstance(rework, CaseReopenedForRework)
    assert rework.causation_id == failed.event_id
    # The fresh limit counts from when the check failed, whenever dispatch read it.
    deadline = disposal_due(runtime, failed.occurred_at)
    assert rework.payload == CaseReopenedForReworkPayload(
        department_id=SANITATION,
        deadline=deadline,
        reason="垃圾仍在",
        deadlines=(carried(runtime, ClockStep.DISPOSAL, failed.occurred_at, deadline),),
    )
    assert rework.occurred_at == failed.occurred_at
    assert rework.event_id == derived_id(failed.occurred_at, "dispatch", failed.event_id, 0)
    restarted = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (restarted.started_at, restarted.deadline, restarted.stopped_at) == (
        failed.occurred_at,
        deadline,
        None,
    )
    # When the department took the case back is the disposal clock's start, asserted above.
    assert (held.department_id, held.deadline) == (SANITATION, deadline)
    assert (await applied(runtime, case_id))[-3:] == [
        "feedback.forwarded",
        "check.failed",
        "case.reopened_for_rework",
    ]

    # With the department again: it can be urged again.
    urged = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "返工从速"}, headers=auth(Role.DISPATCHER)
    )
    reminder = await journaled(runtime, urged)
    assert isinstance(reminder, ReminderSent)
    assert reminder.payload.department_id == SANITATION


# --- 催办, 督办 -----------------------------------------------------------------------------------
async def test_reminders_and_supervision_reach_the_handling_department(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    waiting = await registered_case(dispatch, upstream)
    early = await client.post(
        f"/cases/{waiting.case_id}/reminders", json={"message": "请尽快处理"}, headers=dispatcher
    )
    assert early.status_code == 409  # not dispatched yet: nobody to remind
    assert (early.json()["status"], early.json()["event_type"]) == ("registered", "reminder.sent")

    sanitation = await dispatched_case(dispatch, upstream, auth)
    case_id = sanitation.case_id
    reminded = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "请尽快处理"}, headers=dispatcher
    )
    reminder = await journaled(runtime, reminded)
    assert isinstance(reminder, ReminderSent)
    assert (reminder.payload.message, reminder.payload.department_id) == ("请尽快处理", SANITATION)
    assert reminded.json()["department_id"] == SANITATION

    bureau = auth(Role.UPPER_DEPARTMENT, id="bureau-1", department_id=BUREAU)
    supervised = await client.post(
        f"/cases/{case_id}/supervision", json={"message": "限今日办结"}, headers=bureau
    )
    supervision = await journaled(runtime, supervised)
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
    assert unknown.status_code == 401  # a department's token must name its department
    other_district = auth(Role.UPPER_DEPARTMENT, site="370202", department_id="370202-urban")
    elsewhere = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "催办"}, headers=other_district
    )
    assert elsewhere.status_code == 401  # a district does not trust another district's issuer
    department = auth(Role.DEPARTMENT, department_id=SANITATION)
    wrong_role = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "催办"}, headers=department
    )
    assert wrong_role.status_code == 403
    assert await emitted(runtime, waiting.case_id) == []
    assert [e.event_type for e in await emitted(runtime, street.case_id)] == ["case.dispatched"]
    assert [e.event_type for e in await emitted(runtime, case_id)] == [
        "case.dispatched",
        "reminder.sent",
        "supervision.issued",
        "reminder.sent",
    ]


# --- refusals -----------------------------------------------------------------------------------
async def test_illegal_commands_are_refused_and_emit_nothing(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)

    # Cancelled before registration (不予立案): the case never reaches the command centre.
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
    await read_to_the_end(runtime)
    cancelled = await client.post(
        f"/cases/{reported.case_id}/dispatch",
        json={"department_id": SANITATION},
        headers=dispatcher,
    )
    assert cancelled.status_code == 404
    assert cancelled.json()["detail"] == f"dispatch holds no case {reported.case_id}"
    assert await applied(runtime, reported.case_id) == []
    assert await emitted(runtime, reported.case_id) == []

    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    refusals = {
        "extension/decide": {"approved": True},
        "redispatch": {"department_id": STREET_OFFICE, "reason": "改派"},
        "return/approve": {"reason": "同意"},
        "return/refuse": {"reason": "不同意"},
        "suspension/approve": {"reason": "同意"},
        "suspension/refuse": {"reason": "不同意"},
        "resume": {},
        "dispatch": {},
    }
    for command, body in refusals.items():
        refused = await client.post(f"/cases/{case_id}/{command}", json=body, headers=dispatcher)
        assert refused.status_code == 409, (command, refused.text)
        assert refused.json()["status"] == "dispatched", command
    assert [e.event_type for e in await emitted(runtime, case_id)] == ["case.dispatched"]

    # A city department's problem registered in the district: the city's centre dispatches it.
    city_level = await registered_case(dispatch, upstream, level=CaseLevel.CITY)

    async def seen() -> list[str]:
        return await applied(runtime, city_level.case_id)

    assert await eventually(seen, bool) == ["case.registered"]
    assert await record(runtime, city_level.case_id) is None
    queue = await the_queue(client)
    assert str(city_level.case_id) not in [c["case_id"] for c in queue["awaiting_dispatch"]]
    city_case = await client.post(
        f"/cases/{city_level.case_id}/dispatch",
        json={"department_id": SANITATION},
        headers=dispatcher,
    )
    assert city_case.status_code == 404
    assert await emitted(runtime, city_level.case_id) == []
    async with runtime.database.begin() as uow:
        for step in (ClockStep.DISPATCH, ClockStep.DISPOSAL):
            assert await uow.clocks.clock(city_level.case_id, step) is None

    # Its voiding is of a case the district did not take up: declined, tracked and passed
    # over, neither applied to a record nor a dead letter.
    city_voided = await upstream(Stage.CASEFILE).emit(
        CaseVoided,
        case_id=city_level.case_id,
        actor=CHIEF,
        payload=CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
        cause=city_level,
    )
    await read_to_the_end(runtime)
    assert await applied(runtime, city_level.case_id) == ["case.registered", "case.voided"]
    assert await record(runtime, city_level.case_id) is None
    assert await emitted(runtime, city_level.case_id) == []
    dead = await topic_records(
        runtime.settings.kafka.bootstrap_servers, runtime.dead_letter_topic, 0
    )
    assert city_voided.event_id not in [decode(letter.value).event_id for letter in dead]


async def test_people_of_another_district_or_role_are_refused(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    registered = await registered_case(dispatch, upstream)
    url = f"/cases/{registered.case_id}/dispatch"
    assert (await client.post(url, json={})).status_code == 401
    # A district does not trust another district's issuer.
    other_district = auth(Role.DISPATCHER, site="370202")
    assert (await client.post(url, json={}, headers=other_district)).status_code == 401
    assert (await client.get("/dispatch/queue", headers=other_district)).status_code == 401
    chief = auth(Role.DUTY_CHIEF)
    assert (await client.post(url, json={}, headers=chief)).status_code == 403
    assert (await client.get("/dispatch/queue", headers=chief)).status_code == 403
    assert (await client.get("/dispatch/queue")).status_code == 401
    assert await emitted(runtime, registered.case_id) == []


async def test_malformed_commands_name_the_field(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatcher = auth(Role.DISPATCHER)
    registered = await registered_case(dispatch, upstream)
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
    held = await record(runtime, registered.case_id)
    assert held is not None
    assert (held.status, held.department_id) == ("registered", None)


# --- the clock ------------------------------------------------------------------------------------
async def test_an_overdue_case_turns_yellow_then_red_once(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    _, runtime = dispatch
    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    fresh = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (fresh.warned, fresh.overdue) == (False, False)

    # Working time passes: 80 % and then all of the limit are used up.
    now = datetime.now(UTC)
    warn_at, deadline = now - timedelta(hours=2), now - timedelta(hours=1)
    async with runtime.database.begin() as uow:
        uow.write(
            update(clocks)
            .where(clocks.c.case_id == case_id, clocks.c.step == ClockStep.DISPOSAL.value)
            .values(warn_at=warn_at, deadline=deadline)
        )

    async def signals() -> list[str]:
        return [e.event_type for e in await emitted(runtime, case_id)]

    await eventually(signals, lambda types: "time_limit.overdue" in types)
    for _ in range(3):
        assert await scan_clocks(runtime) == 0
    events = await emitted(runtime, case_id)
    assert [e.event_type for e in events] == [
        "case.dispatched",
        "time_limit.warning",
        "time_limit.overdue",
    ]
    warning, overdue = events[1:]
    for event in (warning, overdue):
        assert event.payload.model_dump() == {"step": ClockStep.DISPOSAL, "deadline": deadline}
        assert event.actor == Actor.system(SITE, "dispatch-clock")
    # Each signal bears the moment it fell due, however late the scan found it.
    assert (warning.occurred_at, overdue.occurred_at) == (warn_at, deadline)
    red = await clock(runtime, case_id, ClockStep.DISPOSAL)
    assert (red.warned, red.overdue, red.stopped_at) == (True, True, None)
    held = await record(runtime, case_id)
    assert held is not None
    assert held.status == "dispatched"

    records = await topic_records(runtime.settings.kafka.bootstrap_servers, runtime.topic, 3)
    on_topic = [decode(r.value) for r in records]
    assert [e.event_type for e in on_topic] == [e.event_type for e in events]
    assert verify_chain(on_topic) == []


async def test_a_case_left_waiting_for_dispatch_turns_red_on_the_dispatch_step(
    dispatch: Client, upstream: Upstream
) -> None:
    """The command centre watches its own step too (派遣时限), not only the department's."""
    client, runtime = dispatch
    registered = await registered_case(dispatch, upstream)
    case_id = registered.case_id
    now = datetime.now(UTC)
    warn_at, deadline = now - timedelta(minutes=20), now - timedelta(minutes=5)
    async with runtime.database.begin() as uow:
        uow.write(
            update(clocks)
            .where(clocks.c.case_id == case_id, clocks.c.step == ClockStep.DISPATCH.value)
            .values(warn_at=warn_at, deadline=deadline)
        )

    async def signals() -> list[CaseEvent]:
        return await emitted(runtime, case_id)

    warning, overdue = await eventually(signals, lambda events: len(events) == 2)
    assert (warning.event_type, overdue.event_type) == ("time_limit.warning", "time_limit.overdue")
    for event in (warning, overdue):
        assert event.payload.model_dump() == {"step": ClockStep.DISPATCH, "deadline": deadline}
    assert (warning.occurred_at, overdue.occurred_at) == (warn_at, deadline)
    assert await scan_clocks(runtime) == 0
    # Still waiting, and still the dispatcher's to dispatch.
    assert (await queued(client, case_id))["status"] == "registered"


async def test_the_end_of_a_case_stops_its_clocks_and_drops_its_requests(
    dispatch: Client, auth: Auth, upstream: Upstream
) -> None:
    client, runtime = dispatch
    dispatched = await dispatched_case(dispatch, upstream, auth)
    case_id = dispatched.case_id
    returned = await upstream(Stage.DISPOSAL).emit(
        ReturnRequested,
        case_id=case_id,
        actor=worker(SANITATION),
        payload=ReasonPayload(reason="非本单位职责"),
        cause=dispatched,
    )
    await queued(client, case_id, "pending_decisions")
    voided = await upstream(Stage.CASEFILE).emit(
        CaseVoided,
        case_id=case_id,
        actor=CHIEF,
        payload=CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
        cause=returned,
    )
    held = await in_status(runtime, case_id, "voided")
    assert held.request is None
    assert (await clock(runtime, case_id, ClockStep.DISPOSAL)).stopped_at == voided.occurred_at
    assert (await clock(runtime, case_id, ClockStep.DISPATCH)).stopped_at == dispatched.occurred_at

    # Voided while it waited for dispatch: the dispatch clock stops.
    waiting = await registered_case(dispatch, upstream)
    waiting_voided = await upstream(Stage.CASEFILE).emit(
        CaseVoided,
        case_id=waiting.case_id,
        actor=CHIEF,
        payload=CaseVoidedPayload(reason="重复立案", requested_by="op-1", approved_by=CHIEF.id),
        cause=waiting,
    )
    await in_status(runtime, waiting.case_id, "voided")
    dispatch_clock = await clock(runtime, waiting.case_id, ClockStep.DISPATCH)
    assert dispatch_clock.stopped_at == waiting_voided.occurred_at
    assert await the_queue(client) == {"awaiting_dispatch": [], "pending_decisions": []}
    refused = await client.post(
        f"/cases/{case_id}/reminders", json={"message": "催办"}, headers=auth(Role.DISPATCHER)
    )
    assert refused.status_code == 409
    assert refused.json()["status"] == "voided"
