"""Commands of the command centre (指挥中心): dispatch (派遣), the dispatcher's decisions on a
department's return, extension and suspension requests, re-dispatch (改派), reminders (催办)
and supervision (督办), and the dispatcher's queue."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, Field
from sqlalchemy import select, update

from cityloop_dispatch.reactions import (
    DispatchCase,
    assign,
    dispatch_case,
    dispatch_deadline,
    disposal_deadline,
    forget_request,
)
from cityloop_dispatch.tables import dispatch_cases, pending_requests
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import ReasonPayload
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseRedispatched,
    CaseRedispatchedPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
    FollowUpPayload,
    ReminderSent,
    ReturnApproved,
    ReturnRefused,
    SupervisionIssued,
    SuspensionApproved,
    SuspensionRefused,
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.lifecycle import CaseStatus, IllegalTransition, allowed
from cityloop_shared.contract.values import ClockStep, DepartmentId, Reason, Text, Urgency
from cityloop_shared.reference.departments import Department
from cityloop_shared.service.auth import CurrentActor, require_role, require_site
from cityloop_shared.service.commands import (
    Command,
    IdempotencyKey,
    load_case,
    run_command,
    service_runtime,
)
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import CaseRow, Ledger
from cityloop_shared.store.tables import cases

router = APIRouter(tags=["dispatch"])

FOLLOW_UP_ROLES = (Role.DISPATCHER, Role.UPPER_DEPARTMENT)


class Dispatch(Command):
    department_id: DepartmentId | None = Field(
        default=None, description="Defaults to the responsibility matrix's suggestion"
    )
    instructions: str | None = Field(default=None, max_length=2000)


class WithReason(Command):
    reason: Reason


class Redispatch(Command):
    department_id: DepartmentId
    reason: Reason


class ExtensionDecision(Command):
    approved: bool
    deadline: AwareDatetime | None = Field(
        default=None, description="Only when approved; defaults to the proposed deadline"
    )
    reason: str | None = Field(default=None, max_length=2000)


class Resume(Command):
    reason: str | None = Field(default=None, max_length=2000)


class FollowUp(Command):
    message: Text


def _answer(event: CaseEvent) -> dict[str, Any]:
    return {"case_id": event.case_id, "event_id": event.event_id, "event_type": event.event_type}


async def _handed_over(
    runtime: ServiceRuntime,
    ledger: Ledger,
    event: CaseEvent,
    department_id: str,
    now: datetime,
    deadline: datetime,
) -> dict[str, Any]:
    """A case is with a department (派遣 or 改派): the dispatch clock stops, its task opens."""
    runtime.clocks(ledger).stop(event.case_id, ClockStep.DISPATCH, event.occurred_at)
    await assign(runtime, ledger, event.case_id, department_id, now, deadline)
    return {**_answer(event), "department_id": department_id, "deadline": deadline}


@router.get("/dispatch/queue")
async def queue(actor: CurrentActor, request: Request) -> dict[str, Any]:
    """派遣队列: cases awaiting (re-)dispatch, and departments' requests awaiting a decision."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)
    require_site(actor, runtime.site)
    waiting = (
        select(dispatch_cases, cases.c.status)
        .join(cases, cases.c.case_id == dispatch_cases.c.case_id)
        .where(cases.c.status.in_([CaseStatus.REGISTERED, CaseStatus.AWAITING_REDISPATCH]))
        .order_by(dispatch_cases.c.dispatch_deadline)
    )
    pending = (
        select(pending_requests, cases.c.case_number, cases.c.status, cases.c.deadline)
        .join(cases, cases.c.case_id == pending_requests.c.case_id)
        .order_by(pending_requests.c.requested_at)
    )
    async with runtime.engine.connect() as conn:
        return {
            "awaiting_dispatch": [dict(row) for row in (await conn.execute(waiting)).mappings()],
            "pending_decisions": [dict(row) for row in (await conn.execute(pending)).mappings()],
        }


@router.post("/cases/{case_id}/dispatch")
async def dispatch(
    case_id: UUID, body: Dispatch, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """派遣: to the suggested department or the dispatcher's choice; the clock starts now."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        _require(case, CaseDispatched)
        held = await _held(ledger, case)
        department = _department(runtime, body.department_id or held.suggested_department_id)
        now = datetime.now(UTC)
        deadline = disposal_deadline(runtime, held, now)
        event = await ledger.emit(
            CaseDispatched,
            case_id=case_id,
            actor=actor,
            payload=CaseDispatchedPayload(
                department_id=department.id,
                suggested_department_id=held.suggested_department_id,
                deadline=deadline,
                instructions=body.instructions,
            ),
        )
        return await _handed_over(runtime, ledger, event, department.id, now, deadline)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/return/approve")
async def approve_return(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """回退 approved: the department's clock stops and the case waits for 改派."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        _require(case, ReturnApproved)
        held = await _held(ledger, case)
        event = await _settle(runtime, ledger, actor, case_id, ReturnApproved, body.reason)
        at = event.occurred_at
        deadline = dispatch_deadline(runtime, held.category_code, Urgency(held.urgency), at)
        await ledger.conn.execute(
            update(dispatch_cases)
            .where(dispatch_cases.c.case_id == case_id)
            .values(dispatch_deadline=deadline)
        )
        clocks = runtime.clocks(ledger)
        clocks.stop(case_id, ClockStep.DISPOSAL, at)
        clocks.start(case_id, ClockStep.DISPATCH, at, deadline)
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/return/refuse")
async def refuse_return(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """回退 refused: the department keeps the case, and its clock keeps running."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        return _answer(await _settle(runtime, ledger, actor, case_id, ReturnRefused, body.reason))

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/redispatch")
async def redispatch(
    case_id: UUID,
    body: Redispatch,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """改派 after an approved return: to another department, with a fresh time limit."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        _require(case, CaseRedispatched)
        held = await _held(ledger, case)
        department = _department(runtime, body.department_id)
        if department.id == held.department_id:
            raise _invalid_department(
                f"{department.id} returned the case: re-dispatch it to another department"
            )
        now = datetime.now(UTC)
        deadline = disposal_deadline(runtime, held, now)
        event = await ledger.emit(
            CaseRedispatched,
            case_id=case_id,
            actor=actor,
            payload=CaseRedispatchedPayload(
                department_id=department.id,
                previous_department_id=held.department_id,
                deadline=deadline,
                reason=body.reason,
            ),
        )
        return await _handed_over(runtime, ledger, event, department.id, now, deadline)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/extension/decide")
async def decide_extension(
    case_id: UUID,
    body: ExtensionDecision,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """延期: approved, the new deadline (by default the proposed one) is in force; refused,
    the old one stays."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        _require(case, ExtensionDecided)
        if not body.approved and body.deadline is not None:
            raise _invalid_deadline("a refused extension keeps the deadline in force")
        current: datetime = case.values["deadline"]
        deadline = await _extended(ledger, case_id, body, current) if body.approved else current
        event = await ledger.emit(
            ExtensionDecided,
            case_id=case_id,
            actor=actor,
            payload=ExtensionDecidedPayload(
                approved=body.approved, deadline=deadline, reason=body.reason
            ),
        )
        await forget_request(ledger, case_id)
        if body.approved:
            await runtime.clocks(ledger).move_deadline(case_id, ClockStep.DISPOSAL, deadline)
            await _record_deadline(ledger, case_id, deadline)
        return {**_answer(event), "approved": body.approved, "deadline": deadline}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/suspension/approve")
async def approve_suspension(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """挂账 approved: the case goes to the problem pool and its clock stands still."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        event = await _settle(runtime, ledger, actor, case_id, SuspensionApproved, body.reason)
        runtime.clocks(ledger).suspend(case_id, ClockStep.DISPOSAL, event.occurred_at)
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/suspension/refuse")
async def refuse_suspension(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """挂账 refused: the department goes on with the case."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        return _answer(
            await _settle(runtime, ledger, actor, case_id, SuspensionRefused, body.reason)
        )

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/resume")
async def resume(
    case_id: UUID, body: Resume, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """Back from the problem pool: the working time left at suspension counts from now."""
    require_role(actor, Role.DISPATCHER)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        _require(case, SuspensionResumed)
        resumed = await runtime.clocks(ledger).resume(
            case_id, ClockStep.DISPOSAL, datetime.now(UTC)
        )
        deadline: datetime = resumed or case.values["deadline"]
        event = await ledger.emit(
            SuspensionResumed,
            case_id=case_id,
            actor=actor,
            payload=SuspensionResumedPayload(deadline=deadline, reason=body.reason),
        )
        await _record_deadline(ledger, case_id, deadline)
        return {**_answer(event), "deadline": deadline}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/reminders")
async def send_reminder(
    case_id: UUID, body: FollowUp, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """催办: a reminder to the department handling the case."""
    return await _follow_up(ReminderSent, case_id, body, actor, request, key)


@router.post("/cases/{case_id}/supervision")
async def issue_supervision(
    case_id: UUID, body: FollowUp, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """督办: formal supervision of a slow case."""
    return await _follow_up(SupervisionIssued, case_id, body, actor, request, key)


async def _follow_up(
    model: type[ReminderSent] | type[SupervisionIssued],
    case_id: UUID,
    body: FollowUp,
    actor: Actor,
    request: Request,
    key: str | None,
) -> Any:
    require_role(actor, *FOLLOW_UP_ROLES)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        _require(case, model)
        # The department the case's events last sent it to.
        department_id: str | None = case.values["department_id"]
        if actor.role is Role.UPPER_DEPARTMENT:
            _require_oversight(runtime, actor, department_id)
        event = await ledger.emit(
            model,
            case_id=case_id,
            actor=actor,
            payload=FollowUpPayload(message=body.message, department_id=department_id),
        )
        return {**_answer(event), "department_id": department_id}

    return await run_command(runtime, actor, key, body, decide)


def _require(case: CaseRow, model: type[CaseEvent]) -> None:
    """Refuse (409) before anything else is looked at when the lifecycle forbids the event."""
    event_type: str = model.model_fields["event_type"].default
    if not allowed(case.state, event_type):
        raise IllegalTransition(case.state.status, event_type)


async def _held(ledger: Ledger, case: CaseRow) -> DispatchCase:
    held = await dispatch_case(ledger, case.case_id)
    if held is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=(
                f"case {case.values['case_number']} is not dispatched by this command centre: "
                "a case registered at level city is the city's"
            ),
        )
    return held


def _department(runtime: ServiceRuntime, department_id: str | None) -> Department:
    if department_id is None:
        raise _invalid_department("the responsibility matrix suggests no department: name one")
    department = runtime.reference.departments.get(department_id)
    if department is None:
        raise _invalid_department(f"no department {department_id}")
    if department.site != runtime.site:
        raise _invalid_department(
            f"{department_id} ({department.name}) takes dispatches from site {department.site}'s "
            f"command centre, not from {runtime.site}'s"
        )
    return department


def _invalid_department(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", "department_id"], "msg": message, "type": "invalid_department"}],
    )


def _require_oversight(runtime: ServiceRuntime, actor: Actor, department_id: str | None) -> None:
    """An upper-level department (上级专业部门) urges only its subordinates' cases."""
    directory = runtime.reference.departments
    own = actor.department_id
    below = {d.id for d in directory.subordinates(own)} if own and own in directory else set()
    if department_id not in below:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"department {department_id} is not under department {actor.department_id}",
        )


async def _settle(
    runtime: ServiceRuntime,
    ledger: Ledger,
    actor: Actor,
    case_id: UUID,
    model: type[ReturnApproved | ReturnRefused | SuspensionApproved | SuspensionRefused],
    reason: str,
) -> CaseEvent:
    """Decide a department's return or suspension request; it leaves the queue."""
    event = await ledger.emit(
        model,
        case_id=case_id,
        actor=actor,
        payload=ReasonPayload(reason=reason),
    )
    await forget_request(ledger, case_id)
    return event


async def _extended(
    ledger: Ledger, case_id: UUID, body: ExtensionDecision, current: datetime
) -> datetime:
    if body.deadline is not None:
        if body.deadline <= current:
            raise _invalid_deadline(f"an extension moves the deadline past {current.isoformat()}")
        return body.deadline
    proposed = await ledger.conn.scalar(
        select(pending_requests.c.proposed_deadline).where(pending_requests.c.case_id == case_id)
    )
    if proposed is None:
        raise _invalid_deadline("no proposed deadline is known: give one")
    deadline: datetime = proposed
    return deadline


def _invalid_deadline(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[{"loc": ["body", "deadline"], "msg": message, "type": "invalid_deadline"}],
    )


async def _record_deadline(ledger: Ledger, case_id: UUID, deadline: datetime) -> None:
    await ledger.conn.execute(
        update(dispatch_cases).where(dispatch_cases.c.case_id == case_id).values(deadline=deadline)
    )
