"""The command centre's decisions (指挥中心): dispatch (派遣), the dispatcher's answers to a
department's return, extension and suspension requests, re-dispatch (改派), reminders (催办)
and supervision (督办); and what it does on its own when another stage's event arrives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import AwareDatetime, Field

from cityloop_dispatch.state import DispatchCase
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import (
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    ForwardingAccepted,
    ForwardingReturned,
    ReasonPayload,
    TimedReasonPayload,
)
from cityloop_shared.contract.events.deadlines import Timed
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseRedispatched,
    CaseRedispatchedPayload,
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
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
from cityloop_shared.contract.events.disposal import DisposalCompleted
from cityloop_shared.contract.events.verification import CheckFailed
from cityloop_shared.contract.values import (
    ClockStep,
    Deadline,
    DepartmentId,
    Reason,
    Text,
    TimeUnit,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.departments import Department
from cityloop_shared.reference.durations import WorkingDuration
from cityloop_shared.stage import clocks as clock
from cityloop_shared.stage.deadlines import deadline as deadline_after
from cityloop_shared.stage.deadlines import due_at, step_deadline
from cityloop_shared.stage.decisions import (
    Command,
    Conflict,
    Context,
    Decision,
    Draft,
    Forbidden,
    Invalid,
)


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


# --- commands ---------------------------------------------------------------------------------
def dispatch(case: DispatchCase, command: Dispatch, ctx: Context) -> Decision:
    """派遣: to the suggested department or the dispatcher's choice; the clock starts now."""
    ctx.require(case, CaseDispatched)
    suggested = suggested_department(case.category_code, case.grid_code, ctx.reference)
    department = _department(ctx, command.department_id or suggested)
    due = disposal_deadline(case, ctx.now, ctx.reference)
    deadline = due.due_at
    payload = CaseDispatchedPayload(
        department_id=department.id,
        suggested_department_id=suggested,
        deadline=deadline,
        deadlines=(due,),
        instructions=command.instructions,
        case_number=case.case_number,
        category=case.category,
        grid_code=case.grid_code,
        channel=case.channel,
    )
    return Decision(
        [Draft(CaseDispatched, payload)],
        {"department_id": department.id, "deadline": deadline},
    )


def approve_return(case: DispatchCase, command: WithReason, ctx: Context) -> Decision:
    """回退 approved: the department's clock stops and the case waits for 改派."""
    due = dispatch_deadline(case, ctx.now, ctx.reference)
    return Decision(
        [Draft(ReturnApproved, TimedReasonPayload(reason=command.reason, deadlines=(due,)))]
    )


def refuse_return(case: DispatchCase, command: WithReason, ctx: Context) -> Decision:
    """回退 refused: the department keeps the case, and its clock keeps running."""
    return Decision([Draft(ReturnRefused, ReasonPayload(reason=command.reason))])


def redispatch(case: DispatchCase, command: Redispatch, ctx: Context) -> Decision:
    """改派 after an approved return: to another department, with a fresh time limit."""
    ctx.require(case, CaseRedispatched)
    department = _department(ctx, command.department_id)
    previous = case.department_id
    if previous is None or department.id == previous:
        raise _invalid_department(
            f"{department.id} returned the case: re-dispatch it to another department"
        )
    due = disposal_deadline(case, ctx.now, ctx.reference)
    deadline = due.due_at
    payload = CaseRedispatchedPayload(
        department_id=department.id,
        previous_department_id=previous,
        deadline=deadline,
        deadlines=(due,),
        reason=command.reason,
    )
    return Decision(
        [Draft(CaseRedispatched, payload)],
        {"department_id": department.id, "deadline": deadline},
    )


def decide_extension(case: DispatchCase, command: ExtensionDecision, ctx: Context) -> Decision:
    """延期: approved, the new deadline (by default the proposed one) is in force; refused,
    the old one stays."""
    ctx.require(case, ExtensionDecided)
    current = case.deadline
    assert current is not None, "a case with a department's request has a deadline"
    if not command.approved:
        if command.deadline is not None:
            raise _invalid_deadline("a refused extension keeps the deadline in force")
        deadline = current
    elif command.deadline is not None:
        if command.deadline <= current:
            raise _invalid_deadline(f"an extension moves the deadline past {current.isoformat()}")
        deadline = command.deadline
    elif case.proposed_deadline is not None:
        deadline = case.proposed_deadline
    else:
        raise _invalid_deadline("no proposed deadline is known: give one")
    payload = ExtensionDecidedPayload(
        approved=command.approved, deadline=deadline, reason=command.reason
    )
    return Decision(
        [Draft(ExtensionDecided, payload)],
        {"approved": command.approved, "deadline": deadline},
    )


def approve_suspension(case: DispatchCase, command: WithReason, ctx: Context) -> Decision:
    """挂账 approved: the case goes to the problem pool and its clock stands still."""
    return Decision([Draft(SuspensionApproved, ReasonPayload(reason=command.reason))])


def refuse_suspension(case: DispatchCase, command: WithReason, ctx: Context) -> Decision:
    """挂账 refused: the department goes on with the case."""
    return Decision([Draft(SuspensionRefused, ReasonPayload(reason=command.reason))])


def resume(case: DispatchCase, command: Resume, ctx: Context) -> Decision:
    """Back from the problem pool: the working time left at suspension counts from now."""
    ctx.require(case, SuspensionResumed)
    assert case.deadline is not None, "a suspended case has a deadline"
    assert case.suspended_at is not None, "a suspended case was suspended"
    calendar = ctx.reference.calendar
    left = max(calendar.working_time_between(case.suspended_at, case.deadline), timedelta())
    deadline = calendar.add_working_time(ctx.now, left)
    payload = SuspensionResumedPayload(deadline=deadline, reason=command.reason)
    return Decision([Draft(SuspensionResumed, payload)], {"deadline": deadline})


def remind(case: DispatchCase, command: FollowUp, ctx: Context) -> Decision:
    """催办: a reminder to the department handling the case."""
    return _follow_up(ReminderSent, case, command, ctx)


def supervise(case: DispatchCase, command: FollowUp, ctx: Context) -> Decision:
    """督办: formal supervision of a slow case."""
    return _follow_up(SupervisionIssued, case, command, ctx)


def _follow_up(
    model: type[ReminderSent] | type[SupervisionIssued],
    case: DispatchCase,
    command: FollowUp,
    ctx: Context,
) -> Decision:
    ctx.require(case, model)
    if ctx.actor.role is Role.UPPER_DEPARTMENT:
        _require_oversight(ctx, case.department_id)
    payload = FollowUpPayload(message=command.message, department_id=case.department_id)
    return Decision([Draft(model, payload)], {"department_id": case.department_id})


# --- reactions --------------------------------------------------------------------------------
def react(case: DispatchCase, event: CaseEvent, reference: ReferenceData) -> Sequence[Draft]:
    match event:
        case DisposalCompleted(payload=p):
            # 处理反馈: the department's report goes on to the supervision centre.
            forwarded = FeedbackForwardedPayload(
                department_id=p.department_id,
                case_number=case.case_number,
                category=case.category,
                grid_code=case.grid_code,
                channel=case.channel,
            )
            return [Draft(FeedbackForwarded, forwarded)]
        case CheckFailed(payload=p) if case.department_id is not None:
            # 返工: back to the department that handled it, never another, with a fresh limit.
            due = disposal_deadline(case, event.occurred_at, reference)
            reopened = CaseReopenedForReworkPayload(
                department_id=case.department_id,
                deadline=due.due_at,
                reason=p.reason,
                deadlines=(due,),
            )
            return [Draft(CaseReopenedForRework, reopened)]
    return []


# --- clocks -----------------------------------------------------------------------------------
def time(
    case: DispatchCase, event: CaseEvent, reference: ReferenceData
) -> Sequence[clock.ClockChange]:
    """派遣 runs from registration (or an approved return, or the city duty chief's 批转, or a
    city's sending back) to dispatch, and not while the case is with the city; 处置 from
    dispatch to the department's report, paused while suspended."""
    at = event.occurred_at
    match event:
        case (
            CaseRegistered(payload=p)
            | ForwardingAccepted(payload=p)
            | ForwardingReturned(payload=p)
        ):
            return [_dispatch_clock(case, at, p, reference)]
        case CaseForwardedToCity():
            return [clock.Stop(ClockStep.DISPATCH, at)]
        case CaseDispatched(payload=p) | CaseRedispatched(payload=p):
            return [
                clock.Stop(ClockStep.DISPATCH, at),
                clock.Start(ClockStep.DISPOSAL, at, p.deadline),
            ]
        case CaseReopenedForRework(payload=p):
            return [clock.Start(ClockStep.DISPOSAL, at, p.deadline)]
        case ReturnApproved(payload=p):
            return [clock.Stop(ClockStep.DISPOSAL, at), _dispatch_clock(case, at, p, reference)]
        case ExtensionDecided(payload=p) if p.approved:
            return [clock.Move(ClockStep.DISPOSAL, p.deadline)]
        case SuspensionApproved():
            return [clock.Suspend(ClockStep.DISPOSAL, at)]
        case SuspensionResumed(payload=p):
            return [clock.Resume(ClockStep.DISPOSAL, at, p.deadline)]
        case DisposalCompleted():
            return [clock.Stop(ClockStep.DISPOSAL, at)]
        case CaseVoided():
            return [clock.Stop(ClockStep.DISPATCH, at), clock.Stop(ClockStep.DISPOSAL, at)]
    return []


def _dispatch_clock(
    case: DispatchCase, at: datetime, payload: Timed, reference: ReferenceData
) -> clock.Start:
    deadline = due_at(
        payload, ClockStep.DISPATCH, lambda: dispatch_deadline(case, at, reference).due_at
    )
    return clock.Start(ClockStep.DISPATCH, at, deadline)


# --- what the decisions count with ------------------------------------------------------------
def suggested_department(
    category_code: str | None, grid_code: str | None, reference: ReferenceData
) -> str | None:
    """What the responsibility matrix suggests for a case of the category in the grid."""
    if category_code is None or grid_code is None:
        return None
    found = reference.responsibility.responsible_department(category_code, grid_code)
    return found.id if found else None


def dispatch_deadline(case: DispatchCase, start: datetime, reference: ReferenceData) -> Deadline:
    """When the case must be (re-)dispatched (派遣时限), counted from ``start``."""
    return step_deadline(ClockStep.DISPATCH, start, case.category_code, case.urgency, reference)


def disposal_deadline(case: DispatchCase, start: datetime, reference: ReferenceData) -> Deadline:
    """The case's disposal time limit counted on the working calendar from ``start``."""
    if case.time_limit_amount is None or case.time_limit_unit is None:
        raise Conflict(f"case {case.case_id} has no disposal time limit: it was not registered")
    limit = WorkingDuration(
        unit=TimeUnit(case.time_limit_unit), amount=Decimal(case.time_limit_amount)
    )
    return deadline_after(ClockStep.DISPOSAL, start, limit, reference)


def _department(ctx: Context, department_id: str | None) -> Department:
    if department_id is None:
        raise _invalid_department("the responsibility matrix suggests no department: name one")
    department = ctx.reference.departments.get(department_id)
    if department is None:
        raise _invalid_department(f"no department {department_id}")
    if department.site != ctx.site:
        raise _invalid_department(
            f"{department_id} ({department.name}) takes dispatches from site {department.site}'s "
            f"command centre, not from {ctx.site}'s"
        )
    return department


def _invalid_department(message: str) -> Invalid:
    return Invalid(("department_id",), message, "invalid_department")


def _invalid_deadline(message: str) -> Invalid:
    return Invalid(("deadline",), message, "invalid_deadline")


def _require_oversight(ctx: Context, department_id: str | None) -> None:
    """An upper-level department (上级专业部门) urges only its subordinates' cases."""
    directory = ctx.reference.departments
    own = ctx.actor.department_id
    if own is None:
        raise Forbidden("the actor's token names no department")
    below = {d.id for d in directory.subordinates(own)} if own in directory else set()
    if department_id not in below:
        raise Forbidden(f"department {department_id} is not under department {own}")
