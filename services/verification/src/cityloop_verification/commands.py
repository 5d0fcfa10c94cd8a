"""Commands of checking and closing (核查结案): the on-site check, closing, the call-back."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import Row, func, select, update

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckFailed,
    CheckFailedPayload,
    CheckPassed,
    CheckResultPayload,
    SatisfactionRecorded,
    SatisfactionRecordedPayload,
)
from cityloop_shared.contract.values import Attachment, ClockStep, Reason, ReportChannel
from cityloop_shared.service.auth import CurrentActor, require_role, require_site
from cityloop_shared.service.commands import (
    Command,
    IdempotencyKey,
    load_case,
    run_command,
    service_runtime,
)
from cityloop_shared.store.ledger import CaseRow, Ledger
from cityloop_shared.store.tables import cases, timeline
from cityloop_verification.tables import CheckResult, check_tasks

router = APIRouter(tags=["verification"])

CENTRE_ROLES = (Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER)


class Check(Command):
    passed: bool
    remarks: str | None = Field(default=None, max_length=2000)
    reason: Reason | None = Field(
        default=None, validate_default=True, description="Why the check failed; only then"
    )
    attachments: tuple[Attachment, ...] = ()

    @field_validator("remarks")
    @classmethod
    def _remarks_of_a_pass(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A failed check's event carries its reason, not remarks: refuse rather than drop them.
        if value is not None and info.data.get("passed") is False:
            raise ValueError("a failed check gives its reason, not remarks")
        return value

    @field_validator("reason")
    @classmethod
    def _reason_of_a_failure(cls, value: str | None, info: ValidationInfo) -> str | None:
        passed = info.data.get("passed")
        if passed is False and value is None:
            raise ValueError("a failed check needs the reason: what is still wrong on site")
        if passed is True and value is not None:
            raise ValueError("a passed check has no reason; give remarks")
        return value


class Close(Command):
    remarks: str | None = Field(default=None, max_length=2000)


class Satisfaction(Command):
    score: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    remarks: str | None = Field(default=None, max_length=2000)


def _answer(event: Any) -> dict[str, Any]:
    return {"case_id": event.case_id, "event_id": event.event_id, "event_type": event.event_type}


@router.get("/checks")
async def check_list(
    actor: CurrentActor,
    request: Request,
    supervisor_id: Annotated[str | None, Query(max_length=128)] = None,
    pending: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """核查任务, soonest due first: a supervisor sees their own, the centre the site's."""
    runtime = service_runtime(request)
    require_role(actor, Role.FIELD_SUPERVISOR, *CENTRE_ROLES)
    if actor.role is Role.FIELD_SUPERVISOR:
        if supervisor_id not in (None, actor.id):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail="a supervisor sees only their own check tasks"
            )
        supervisor_id = actor.id
    else:
        require_site(actor, runtime.site)
    query = select(
        check_tasks, cases.c.case_number, cases.c.grid_code, cases.c.status, cases.c.site
    ).join(cases, cases.c.case_id == check_tasks.c.case_id)
    if supervisor_id is not None:
        query = query.where(check_tasks.c.supervisor_id == supervisor_id)
    if pending is not None:
        query = query.where(
            check_tasks.c.result.is_(None) if pending else check_tasks.c.result.is_not(None)
        )
    async with runtime.engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await conn.execute(
                query.order_by(check_tasks.c.due_at, check_tasks.c.case_id)
                .limit(limit)
                .offset(offset)
            )
        ).mappings()
        return {"total": total, "checks": [dict(row) for row in rows]}


@router.post("/cases/{case_id}/check")
async def check(
    case_id: UUID, body: Check, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """核查反馈: the supervisor the task went to says whether the problem is solved on site."""
    require_role(actor, Role.FIELD_SUPERVISOR)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        task = await _task_of(ledger, case_id, actor)
        if body.passed:
            event: CheckPassed | CheckFailed = await ledger.emit(
                CheckPassed,
                case_id=case_id,
                actor=actor,
                payload=CheckResultPayload(remarks=body.remarks, attachments=body.attachments),
            )
        else:
            assert body.reason is not None, "the body's validator requires it"
            event = await ledger.emit(
                CheckFailed,
                case_id=case_id,
                actor=actor,
                payload=CheckFailedPayload(reason=body.reason, attachments=body.attachments),
            )
        result = CheckResult.PASSED if body.passed else CheckResult.FAILED
        await ledger.conn.execute(
            update(check_tasks).where(check_tasks.c.case_id == case_id).values(result=result.value)
        )
        runtime.clocks(ledger).stop(case_id, ClockStep.CHECK, event.occurred_at)
        return {**_answer(event), "round": task.rounds}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/close")
async def close(
    case_id: UUID, body: Close, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """结案 by the duty chief, once the check has confirmed the result."""
    require_role(actor, Role.DUTY_CHIEF)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        event = await ledger.emit(
            CaseClosed,
            case_id=case_id,
            actor=actor,
            payload=CaseClosedPayload(remarks=body.remarks),
        )
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/cases/{case_id}/satisfaction")
async def record_satisfaction(
    case_id: UUID,
    body: Satisfaction,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """回访: the public reporter of a closed case is called back, once, for their satisfaction."""
    require_role(actor, Role.ACCEPTANCE_OPERATOR)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        await _refuse_unless_called_back(ledger, case)
        event = await ledger.emit(
            SatisfactionRecorded,
            case_id=case_id,
            actor=actor,
            payload=SatisfactionRecordedPayload(score=body.score, remarks=body.remarks),
        )
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


async def _task_of(ledger: Ledger, case_id: UUID, actor: Actor) -> Row[Any]:
    """The case's check task, if it went to ``actor``.

    The task itself lets its supervisor act: a city case's check is entrusted to the
    district supervisor of the grid, who is not of the city's site.
    """
    task = (
        await ledger.conn.execute(select(check_tasks).where(check_tasks.c.case_id == case_id))
    ).first()
    if task is not None and task.supervisor_id == actor.id:
        return task
    await load_case(ledger, case_id, actor)
    if task is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="no check was requested for this case")
    raise HTTPException(
        status.HTTP_403_FORBIDDEN, detail=f"the check task went to supervisor {task.supervisor_id}"
    )


async def _refuse_unless_called_back(ledger: Ledger, case: CaseRow) -> None:
    channel = case.values["channel"]
    if channel != ReportChannel.PUBLIC.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"only a public reporter is called back (回访); this case came by {channel}",
        )
    recorded = await ledger.conn.scalar(
        select(timeline.c.occurred_at).where(
            timeline.c.case_id == case.case_id,
            timeline.c.event_type == SatisfactionRecorded.model_fields["event_type"].default,
        )
    )
    if recorded is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the reporter's satisfaction was recorded at {recorded.isoformat()}",
        )
