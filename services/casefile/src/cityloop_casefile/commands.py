"""Commands of case building (案卷建立): acceptance, verification, registration and its ends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import Field
from sqlalchemy import delete, insert, select, update

from cityloop_casefile.tables import case_number_sequences, verification_tasks, void_requests
from cityloop_shared.contract.actors import Role
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
    VerificationReported,
    VerificationReportedPayload,
    VerificationRequested,
    VerificationRequestedPayload,
)
from cityloop_shared.contract.ids import CaseKind, case_number
from cityloop_shared.contract.lifecycle import CaseStatus, allowed
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import (
    Attachment,
    CaseLevel,
    Category,
    ClockStep,
    Reason,
    ReportChannel,
    Urgency,
)
from cityloop_shared.reference.categories import Category as ReferenceCategory
from cityloop_shared.service.auth import CurrentActor, require_role
from cityloop_shared.service.commands import (
    Command,
    IdempotencyKey,
    load_case,
    run_command,
    service_runtime,
)
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import CaseRow, Ledger

router = APIRouter(prefix="/cases", tags=["casefile"])

CENTRE_ROLES = (Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER)


class Accept(Command):
    needs_verification: bool | None = Field(
        default=None, description="Defaults to true for public reports, false otherwise"
    )


class RequestVerification(Command):
    supervisor_id: str | None = Field(
        default=None, max_length=128, description="Defaults to the grid's supervisor"
    )


class ReportVerification(Command):
    confirmed: bool
    remarks: str | None = Field(default=None, max_length=2000)
    attachments: tuple[Attachment, ...] = ()


class Register(Command):
    category_code: str = Field(pattern=r"^\d{4,5}$")
    kind: CaseKind | None = Field(default=None, description="Needed only when the code is both")
    level: CaseLevel = CaseLevel.DISTRICT
    urgency: Urgency = Urgency.ORDINARY


class WithReason(Command):
    reason: Reason


class VoidDecision(Command):
    approve: bool


def _answer(event: Any, case: CaseRow | None = None) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "case_number": case.values.get("case_number") if case else None,
    }


@router.post("/{case_id}/accept")
async def accept(
    case_id: UUID, body: Accept, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """受理."""
    require_role(actor, Role.ACCEPTANCE_OPERATOR)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        public = case.values["channel"] == ReportChannel.PUBLIC.value
        needs = public if body.needs_verification is None else body.needs_verification
        event = await ledger.emit(
            CaseAccepted,
            case_id=case_id,
            actor=actor,
            payload=CaseAcceptedPayload(needs_verification=needs),
        )
        clocks = runtime.clocks(ledger)
        clocks.stop(case_id, ClockStep.ACCEPTANCE, event.occurred_at)
        if needs:
            await ledger.conn.execute(insert(verification_tasks).values(case_id=case_id))
        else:
            await _start_registration_clock(runtime, ledger, case, event.occurred_at)
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/verification/request")
async def request_verification(
    case_id: UUID,
    body: RequestVerification,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """核实任务: the grid's supervisor is sent to confirm a public report."""
    require_role(actor, Role.ACCEPTANCE_OPERATOR)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        supervisor_id = body.supervisor_id or _grid_supervisor(runtime, case)
        now = datetime.now(UTC)
        due_at = _deadline(runtime, ClockStep.VERIFICATION, case, now)
        event = await ledger.emit(
            VerificationRequested,
            case_id=case_id,
            actor=actor,
            payload=VerificationRequestedPayload(supervisor_id=supervisor_id, due_at=due_at),
        )
        await ledger.conn.execute(
            update(verification_tasks)
            .where(verification_tasks.c.case_id == case_id)
            .values(supervisor_id=supervisor_id, requested_at=event.occurred_at)
        )
        runtime.clocks(ledger).start(case_id, ClockStep.VERIFICATION, now, due_at)
        return {**_answer(event), "supervisor_id": supervisor_id, "due_at": due_at}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/verification/report")
async def report_verification(
    case_id: UUID,
    body: ReportVerification,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """核实反馈: only the supervisor the task went to reports it."""
    require_role(actor, Role.FIELD_SUPERVISOR)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        assigned = await ledger.conn.scalar(
            select(verification_tasks.c.supervisor_id).where(
                verification_tasks.c.case_id == case_id
            )
        )
        if assigned is not None and assigned != actor.id:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"the verification task went to supervisor {assigned}",
            )
        event = await ledger.emit(
            VerificationReported,
            case_id=case_id,
            actor=actor,
            payload=VerificationReportedPayload(
                confirmed=body.confirmed, remarks=body.remarks, attachments=body.attachments
            ),
        )
        await ledger.conn.execute(
            update(verification_tasks)
            .where(verification_tasks.c.case_id == case_id)
            .values(confirmed=body.confirmed)
        )
        runtime.clocks(ledger).stop(case_id, ClockStep.VERIFICATION, event.occurred_at)
        await _start_registration_clock(runtime, ledger, case, event.occurred_at)
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/register", status_code=status.HTTP_200_OK)
async def register(
    case_id: UUID, body: Register, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """立案 by the duty chief: category, level, urgency; number and time limit follow."""
    require_role(actor, Role.DUTY_CHIEF)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        task = (
            await ledger.conn.execute(
                select(verification_tasks.c.confirmed).where(
                    verification_tasks.c.case_id == case_id
                )
            )
        ).first()
        if (
            task is not None
            and task.confirmed is not True
            and case.state.status
            in (
                CaseStatus.ACCEPTED,
                CaseStatus.VERIFIED,
            )
        ):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=(
                    "the supervisor did not confirm the problem on site: cancel the case"
                    if task.confirmed is False
                    else "a public report is verified on site (核实) before registration"
                ),
            )
        category = _category(runtime, body)
        limit = runtime.reference.time_limits.limit_for(
            ClockStep.DISPOSAL, category.code, body.urgency
        )
        today = datetime.now(UTC).astimezone(runtime.reference.calendar.zone).date()
        number = case_number(
            runtime.site,
            category.kind,
            category.code,
            today,
            await _next_sequence(ledger, today),
        )
        event = await ledger.emit(
            CaseRegistered,
            case_id=case_id,
            actor=actor,
            payload=CaseRegisteredPayload(
                case_number=number,
                category=Category(
                    standard=category.standard,
                    kind=category.kind,
                    code=category.code,
                ),
                grid_code=case.values["grid_code"],
                level=body.level,
                urgency=body.urgency,
                time_limit=limit.as_time_limit(),
            ),
        )
        runtime.clocks(ledger).stop(case_id, ClockStep.REGISTRATION, event.occurred_at)
        return {**_answer(event), "case_number": number}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/cancel")
async def cancel(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """注销 / 不予立案, with the reason."""
    require_role(actor, Role.DUTY_CHIEF)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        event = await ledger.emit(
            CaseCancelled,
            case_id=case_id,
            actor=actor,
            payload=ReasonPayload(reason=body.reason),
        )
        _stop_all_clocks(runtime, ledger, case_id, event.occurred_at)
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/void-request")
async def request_voiding(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """作废申请: any centre role asks; the duty chief decides."""
    require_role(actor, *CENTRE_ROLES)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        case = await load_case(ledger, case_id, actor)
        if not allowed(case.state, "case.voided"):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"a case in status {case.state.status.value!r} cannot be voided",
            )
        await ledger.conn.execute(
            insert(void_requests).values(
                case_id=case_id,
                requested_by=actor.id,
                reason=body.reason,
                requested_at=datetime.now(UTC),
            )
        )
        return {"case_id": case_id, "void_requested_by": actor.id}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/void-decision")
async def decide_voiding(
    case_id: UUID,
    body: VoidDecision,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """作废 approved (the case is voided) or refused (the request is dropped)."""
    require_role(actor, Role.DUTY_CHIEF)
    runtime = service_runtime(request)

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        pending = (
            await ledger.conn.execute(
                select(void_requests).where(void_requests.c.case_id == case_id)
            )
        ).first()
        if pending is None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail="no voiding request is pending for this case"
            )
        await ledger.conn.execute(delete(void_requests).where(void_requests.c.case_id == case_id))
        if not body.approve:
            return {"case_id": case_id, "voided": False}
        event = await ledger.emit(
            CaseVoided,
            case_id=case_id,
            actor=actor,
            payload=CaseVoidedPayload(
                reason=pending.reason, requested_by=pending.requested_by, approved_by=actor.id
            ),
        )
        _stop_all_clocks(runtime, ledger, case_id, event.occurred_at)
        return {**_answer(event), "voided": True}

    return await run_command(runtime, actor, key, body, decide)


@router.post("/{case_id}/forward-to-city")
async def forward_to_city(
    case_id: UUID,
    body: WithReason,
    actor: CurrentActor,
    request: Request,
    key: IdempotencyKey = None,
) -> Any:
    """转市级: the district duty chief judges the problem a city department's."""
    require_role(actor, Role.DUTY_CHIEF)
    runtime = service_runtime(request)
    if site_level(runtime.site) is not SiteLevel.DISTRICT:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="only a district forwards to the city")

    async def decide(ledger: Ledger) -> dict[str, Any]:
        await load_case(ledger, case_id, actor)
        event = await ledger.emit(
            CaseForwardedToCity,
            case_id=case_id,
            actor=actor,
            payload=CaseForwardedToCityPayload(city_site=city_of(runtime.site), reason=body.reason),
        )
        return _answer(event)

    return await run_command(runtime, actor, key, body, decide)


def _grid_supervisor(runtime: ServiceRuntime, case: CaseRow) -> str:
    supervisor = runtime.reference.supervisors.supervisor_for(case.values["grid_code"])
    if supervisor is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"grid {case.values['grid_code']} has no supervisor: name one",
        )
    return supervisor.id


def _category(runtime: ServiceRuntime, body: Register) -> ReferenceCategory:
    found = runtime.reference.categories.get(body.category_code, body.kind)
    if found is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["body", "category_code"],
                    "msg": f"no category {body.category_code} in "
                    f"{runtime.reference.categories.standard}",
                    "type": "unknown_category",
                }
            ],
        )
    return found


def _deadline(runtime: ServiceRuntime, step: ClockStep, case: CaseRow, start: datetime) -> datetime:
    category = case.values.get("category_code") or "*"
    limit = runtime.reference.time_limits.limit_for(step, category)
    return runtime.reference.calendar.add_working_time(start, limit.duration)


async def _start_registration_clock(
    runtime: ServiceRuntime, ledger: Ledger, case: CaseRow, at: datetime
) -> None:
    deadline = _deadline(runtime, ClockStep.REGISTRATION, case, at)
    runtime.clocks(ledger).start(case.case_id, ClockStep.REGISTRATION, at, deadline)


def _stop_all_clocks(runtime: ServiceRuntime, ledger: Ledger, case_id: UUID, at: datetime) -> None:
    clocks = runtime.clocks(ledger)
    for step in (ClockStep.ACCEPTANCE, ClockStep.VERIFICATION, ClockStep.REGISTRATION):
        clocks.stop(case_id, step, at)


async def _next_sequence(ledger: Ledger, day: date) -> int:
    """The site's next case number of the day; the row lock serialises registrations."""
    current = await ledger.conn.scalar(
        select(case_number_sequences.c.last_sequence)
        .where(case_number_sequences.c.day == day)
        .with_for_update()
    )
    if current is None:
        await ledger.conn.execute(insert(case_number_sequences).values(day=day, last_sequence=1))
        return 1
    await ledger.conn.execute(
        update(case_number_sequences)
        .where(case_number_sequences.c.day == day)
        .values(last_sequence=current + 1)
    )
    return int(current) + 1
