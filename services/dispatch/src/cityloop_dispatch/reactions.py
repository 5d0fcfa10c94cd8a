"""What the command centre (指挥中心) does on its own when another stage's event arrives.

A registered case waits for dispatch with a suggested department and the dispatch clock
running; a department's report is passed on to the supervision centre (处理反馈); a failed
check sends the case back to the same department (返工); a department's requests wait for
the dispatcher's decision; a case's end stops its clocks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Row, delete, insert, select, update

from cityloop_dispatch.tables import RequestKind, dispatch_cases, pending_requests
from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseCancelled, CaseRegistered, CaseVoided
from cityloop_shared.contract.events.dispatch import (
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalCompleted,
    ExtensionRequested,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.events.verification import CheckFailed
from cityloop_shared.contract.sites import SiteLevel, site_level
from cityloop_shared.contract.values import CaseLevel, ClockStep, TimeUnit, Urgency
from cityloop_shared.reference.durations import WorkingDuration
from cityloop_shared.service.consumer import Reaction
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger

DispatchCase = Row[Any]


def reactions(runtime: ServiceRuntime) -> Reaction:
    actor = Actor.system(runtime.site, "dispatch")

    async def react(ledger: Ledger, event: CaseEvent) -> None:
        match event:
            case CaseRegistered():
                await _take_registered_case(runtime, ledger, event)
            case DisposalCompleted():
                await ledger.emit(
                    FeedbackForwarded,
                    case_id=event.case_id,
                    actor=actor,
                    payload=FeedbackForwardedPayload(),
                    cause=event,
                )
                runtime.clocks(ledger).stop(event.case_id, ClockStep.DISPOSAL, event.occurred_at)
            case CheckFailed():
                await _reopen_for_rework(runtime, ledger, actor, event)
            case ReturnRequested():
                await _remember_request(ledger, event, RequestKind.RETURN, event.payload.reason)
            case SuspensionRequested():
                await _remember_request(ledger, event, RequestKind.SUSPENSION, event.payload.reason)
            case ExtensionRequested():
                await _remember_request(
                    ledger,
                    event,
                    RequestKind.EXTENSION,
                    event.payload.reason,
                    event.payload.proposed_deadline,
                )
            case CaseVoided() | CaseCancelled():
                clocks = runtime.clocks(ledger)
                for step in (ClockStep.DISPATCH, ClockStep.DISPOSAL):
                    clocks.stop(event.case_id, step, event.occurred_at)
                await forget_request(ledger, event.case_id)

    return react


async def _take_registered_case(
    runtime: ServiceRuntime, ledger: Ledger, event: CaseRegistered
) -> None:
    """立案 → 待派遣: the case waits here with the matrix's suggestion and the dispatch clock.

    A case registered at level city (市级) belongs to a city department: casefile forwards
    it to the city (转市级), whose command centre dispatches it. At a district site dispatch
    therefore leaves it alone; handing it over between sites is the hand-off's business.
    """
    payload = event.payload
    if payload.level is CaseLevel.CITY and site_level(runtime.site) is SiteLevel.DISTRICT:
        return
    code = payload.category.code
    suggested = runtime.reference.responsibility.responsible_department(code, payload.grid_code)
    deadline = dispatch_deadline(runtime, code, payload.urgency, event.occurred_at)
    await ledger.conn.execute(
        insert(dispatch_cases).values(
            case_id=event.case_id,
            case_number=payload.case_number,
            category_code=code,
            grid_code=payload.grid_code,
            urgency=payload.urgency.value,
            time_limit_amount=payload.time_limit.amount,
            time_limit_unit=payload.time_limit.unit.value,
            suggested_department_id=suggested.id if suggested else None,
            dispatch_deadline=deadline,
        )
    )
    runtime.clocks(ledger).start(event.case_id, ClockStep.DISPATCH, event.occurred_at, deadline)


async def _reopen_for_rework(
    runtime: ServiceRuntime, ledger: Ledger, actor: Actor, event: CheckFailed
) -> None:
    """返工: back to the department that handled it, never another, with a fresh limit."""
    case = await dispatch_case(ledger, event.case_id)
    if case is None or case.department_id is None:
        # Not dispatched from this site (a case another site's centre handled).
        return
    now = datetime.now(UTC)
    deadline = disposal_deadline(runtime, case, now)
    await ledger.emit(
        CaseReopenedForRework,
        case_id=event.case_id,
        actor=actor,
        payload=CaseReopenedForReworkPayload(
            department_id=case.department_id, deadline=deadline, reason=event.payload.reason
        ),
        cause=event,
    )
    await assign(runtime, ledger, event.case_id, case.department_id, now, deadline)


async def _remember_request(
    ledger: Ledger,
    event: CaseEvent,
    kind: RequestKind,
    reason: str,
    proposed_deadline: datetime | None = None,
) -> None:
    await forget_request(ledger, event.case_id)
    case = await dispatch_case(ledger, event.case_id)
    await ledger.conn.execute(
        insert(pending_requests).values(
            case_id=event.case_id,
            kind=kind.value,
            reason=reason,
            proposed_deadline=proposed_deadline,
            requested_by=event.actor.id,
            department_id=case.department_id if case else event.actor.department_id,
            requested_at=event.occurred_at,
        )
    )


async def forget_request(ledger: Ledger, case_id: UUID) -> None:
    await ledger.conn.execute(delete(pending_requests).where(pending_requests.c.case_id == case_id))


async def dispatch_case(ledger: Ledger, case_id: UUID) -> DispatchCase | None:
    query = select(dispatch_cases).where(dispatch_cases.c.case_id == case_id)
    return (await ledger.conn.execute(query)).first()


def dispatch_deadline(
    runtime: ServiceRuntime, category_code: str, urgency: Urgency, start: datetime
) -> datetime:
    """When the case must be (re-)dispatched (派遣时限), counted from ``start``."""
    limit = runtime.reference.time_limits.limit_for(ClockStep.DISPATCH, category_code, urgency)
    return runtime.reference.calendar.add_working_time(start, limit.duration)


def disposal_deadline(runtime: ServiceRuntime, case: DispatchCase, start: datetime) -> datetime:
    """The case's disposal time limit counted on the working calendar from ``start``."""
    limit = WorkingDuration(
        unit=TimeUnit(case.time_limit_unit), amount=Decimal(case.time_limit_amount)
    )
    return runtime.reference.calendar.add_working_time(start, limit)


async def assign(
    runtime: ServiceRuntime,
    ledger: Ledger,
    case_id: UUID,
    department_id: str,
    start: datetime,
    deadline: datetime,
) -> None:
    """The department holds the case from ``start``: the disposal clock (re)starts for it."""
    await ledger.conn.execute(
        update(dispatch_cases)
        .where(dispatch_cases.c.case_id == case_id)
        .values(department_id=department_id, deadline=deadline)
    )
    runtime.clocks(ledger).start(case_id, ClockStep.DISPOSAL, start, deadline)
