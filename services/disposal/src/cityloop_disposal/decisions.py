"""The departments' decisions (任务处理 + 处理反馈): accept the task, ask the dispatcher for a
return, an extension or a suspension, and report the problem handled."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from cityloop_disposal.state import DisposalCase, TaskState
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
from cityloop_shared.contract.values import Attachment, Reason, Text
from cityloop_shared.stage.decisions import (
    Command,
    Conflict,
    Context,
    Decision,
    Draft,
    Forbidden,
    Invalid,
)


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


def accept(case: DisposalCase, command: Accept, ctx: Context) -> Decision:
    """签收: the department takes the task it was dispatched."""
    department = _own_task(case, ctx)
    return _decided(
        DisposalAccepted, DisposalAcceptedPayload(department_id=department), TaskState.IN_HAND
    )


def request_return(case: DisposalCase, command: WithReason, ctx: Context) -> Decision:
    """回退申请: the case is not this department's responsibility; the dispatcher decides."""
    _own_task(case, ctx)
    return _decided(ReturnRequested, ReasonPayload(reason=command.reason), case.task_state)


def request_extension(case: DisposalCase, command: RequestExtension, ctx: Context) -> Decision:
    """延期申请: more time, to a proposed deadline later than the one in force."""
    _own_task(case, ctx)
    ctx.require(case, ExtensionRequested)
    if case.deadline is not None and command.proposed_deadline <= case.deadline:
        raise Invalid(
            ("proposed_deadline",),
            f"must be after the current deadline {case.deadline.isoformat()}",
            "not_after_deadline",
        )
    payload = ExtensionRequestedPayload(
        proposed_deadline=command.proposed_deadline, reason=command.reason
    )
    return _decided(ExtensionRequested, payload, case.task_state)


def request_suspension(case: DisposalCase, command: WithReason, ctx: Context) -> Decision:
    """挂账申请: the problem cannot be solved within the limit (works, season, funding)."""
    _own_task(case, ctx)
    return _decided(SuspensionRequested, ReasonPayload(reason=command.reason), case.task_state)


def complete(case: DisposalCase, command: Complete, ctx: Context) -> Decision:
    """处置完成: the problem is handled on site; reported back with photos of the result."""
    department = _own_task(case, ctx)
    payload = DisposalCompletedPayload(
        department_id=department, description=command.description, evidence=command.evidence
    )
    return _decided(DisposalCompleted, payload, TaskState.COMPLETED)


def _own_task(case: DisposalCase, ctx: Context) -> str:
    """The department holding the case, if it is the actor's; 409 when none holds it."""
    if ctx.actor.department_id is None:
        raise Forbidden("the actor's token names no department")
    if case.department_id is None or case.task_state in (TaskState.RETURNED, TaskState.CLOSED):
        raise Conflict(f"case {case.case_id} is not with a department")
    if case.department_id != ctx.actor.department_id:
        raise Forbidden(f"the task of case {case.case_id} is with department {case.department_id}")
    return case.department_id


def _decided(
    model: type[DisposalAccepted]
    | type[ReturnRequested]
    | type[ExtensionRequested]
    | type[SuspensionRequested]
    | type[DisposalCompleted],
    payload: DisposalAcceptedPayload
    | ReasonPayload
    | ExtensionRequestedPayload
    | DisposalCompletedPayload,
    state: TaskState | None,
) -> Decision:
    return Decision([Draft(model, payload)], {"task_state": state})
