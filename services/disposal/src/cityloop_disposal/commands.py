"""Commands of the departments (任务处理 + 处理反馈): accept, ask, complete; their task lists."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import AwareDatetime, Field
from sqlalchemy import ColumnElement, Row, func, select, update

from cityloop_disposal.tables import PendingRequest, TaskState, is_open, tasks
from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import ReasonPayload
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
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import Attachment, Reason, Text
from cityloop_shared.service.auth import CurrentActor, require_role
from cityloop_shared.service.commands import (
    Command,
    IdempotencyKey,
    load_case,
    run_command,
    service_runtime,
)
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger
from cityloop_shared.store.tables import cases

router = APIRouter(tags=["disposal"])


class Accept(Command):
    pass


class WithReason(Command):
    reason: Reason


class RequestExtension(Command):
    proposed_deadline: AwareDatetime = Field(description="After the task's current deadline")
    reason: Reason


class Complete(Command):
    description: Text
    evidence: tuple[Attachment, ...] = Field(
        min_length=1, description="Photos of the result: at least one"
    )


def _answer(event: CaseEvent, state: TaskState) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "task_state": state.value,
    }


def _require_department(actor: Actor, *roles: Role) -> str:
    require_role(actor, *roles)
    if actor.department_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="the actor's token names no department"
        )
    return actor.department_id


async def _own_task(ledger: Ledger, case_id: UUID, actor: Actor) -> Row[Any]:
    """The case's open task, locked with the case; 409 when no department holds it,
    403 when another department does."""
    await load_case(ledger, case_id, actor)
    task = (
        await ledger.conn.execute(
            select(tasks).where(tasks.c.case_id == case_id, is_open()).with_for_update()
        )
    ).first()
    if task is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"case {case_id} is not with a department"
        )
    if task.department_id != actor.department_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the task of case {case_id} is with department {task.department_id}",
        )
    return task


async def _update_task(ledger: Ledger, task: Row[Any], event: CaseEvent, **values: Any) -> None:
    await ledger.conn.execute(
        update(tasks)
        .where(tasks.c.case_id == task.case_id, tasks.c.department_id == task.department_id)
        .values(updated_at=event.occurred_at, **values)
    )


@router.post("/cases/{case_id}/accept")
async def accept(
    case_id: UUID, body: Accept, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """签收: the department takes the task it was dispatched."""
    _require_department(actor, Role.DEPARTMENT)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        task = await _own_task(ledger, case_id, actor)
        event = await ledger.emit(
            DisposalAccepted,
            case_id=case_id,
            actor=actor,
            payload=DisposalAcceptedPayload(department_id=task.department_id),
        )
        await _update_task(
            ledger,
            task,
            event,
            state=TaskState.IN_HAND.value,
            accepted_at=event.occurred_at,
        )
        return _answer(event, TaskState.IN_HAND)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/return-request")
async def request_return(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """回退申请: the case is not this department's responsibility; the dispatcher decides."""
    _require_department(actor, Role.DEPARTMENT)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        task = await _own_task(ledger, case_id, actor)
        event = await ledger.emit(
            ReturnRequested,
            case_id=case_id,
            actor=actor,
            payload=ReasonPayload(reason=body.reason),
        )
        await _update_task(ledger, task, event, pending_request=PendingRequest.RETURN.value)
        return _answer(event, TaskState(task.state))

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/extension-request")
async def request_extension(
    case_id: UUID,
    body: RequestExtension,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """延期申请: more time, to a proposed deadline later than the one in force."""
    _require_department(actor, Role.DEPARTMENT)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        task = await _own_task(ledger, case_id, actor)
        if body.proposed_deadline <= task.deadline:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail=[
                    {
                        "loc": ["body", "proposed_deadline"],
                        "msg": f"must be after the current deadline {task.deadline.isoformat()}",
                        "type": "not_after_deadline",
                    }
                ],
            )
        event = await ledger.emit(
            ExtensionRequested,
            case_id=case_id,
            actor=actor,
            payload=ExtensionRequestedPayload(
                proposed_deadline=body.proposed_deadline, reason=body.reason
            ),
        )
        await _update_task(ledger, task, event, pending_request=PendingRequest.EXTENSION.value)
        return _answer(event, TaskState(task.state))

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/suspension-request")
async def request_suspension(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """挂账申请: the problem cannot be solved within the limit (works, season, funding)."""
    _require_department(actor, Role.DEPARTMENT)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        task = await _own_task(ledger, case_id, actor)
        event = await ledger.emit(
            SuspensionRequested,
            case_id=case_id,
            actor=actor,
            payload=ReasonPayload(reason=body.reason),
        )
        await _update_task(ledger, task, event, pending_request=PendingRequest.SUSPENSION.value)
        return _answer(event, TaskState(task.state))

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/complete")
async def complete(
    case_id: UUID, body: Complete, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """处置完成: the problem is handled on site; reported back with photos of the result."""
    _require_department(actor, Role.DEPARTMENT)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        task = await _own_task(ledger, case_id, actor)
        event = await ledger.emit(
            DisposalCompleted,
            case_id=case_id,
            actor=actor,
            payload=DisposalCompletedPayload(
                department_id=task.department_id,
                description=body.description,
                evidence=body.evidence,
            ),
        )
        await _update_task(
            ledger,
            task,
            event,
            state=TaskState.COMPLETED.value,
            completed_at=event.occurred_at,
        )
        return _answer(event, TaskState.COMPLETED)

    return await run_command(runtime, actor, key, body, decide)


@router.get("/tasks")
async def task_list(
    actor: CurrentActor,
    request: Request,
    department_id: Annotated[str | None, Query(max_length=64)] = None,
    state: TaskState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """A department's to-do list (待办): its open tasks, the nearest deadline first.

    A department sees its own tasks; an upper-level department (上级专业部门) its
    subordinates'. ``state`` picks one state, ended ones (returned, closed) included.
    """
    visible = _visible_departments(service_runtime(request), actor)
    if department_id is not None and department_id not in visible:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"department {actor.department_id} may not view department {department_id}",
        )
    query = (
        select(
            tasks,
            cases.c.case_number,
            cases.c.category_code,
            cases.c.grid_code,
            cases.c.status.label("case_status"),
            cases.c.overdue,
        )
        .join(cases, cases.c.case_id == tasks.c.case_id)
        .where(
            tasks.c.department_id.in_([department_id] if department_id else visible),
            _sites_of(actor),
            tasks.c.state == state.value if state else is_open(),
        )
    )
    async with service_runtime(request).engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await conn.execute(
                query.order_by(tasks.c.deadline, tasks.c.case_id).limit(limit).offset(offset)
            )
        ).mappings()
        return {"total": total, "tasks": [dict(row) for row in rows]}


def _visible_departments(runtime: ServiceRuntime, actor: Actor) -> list[str]:
    own = _require_department(actor, Role.DEPARTMENT, Role.UPPER_DEPARTMENT)
    if actor.role is Role.DEPARTMENT:
        return [own]
    directory = runtime.reference.departments
    if own not in directory:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"department {own} is not in the directory"
        )
    return [department.id for department in directory.subordinates(own)]


def _sites_of(actor: Actor) -> ColumnElement[bool]:
    """District people see their district's tasks; the city's people the whole city's."""
    if site_level(actor.site) is SiteLevel.CITY:
        return tasks.c.site.like(f"{city_of(actor.site)[:4]}%")
    return tasks.c.site == actor.site
