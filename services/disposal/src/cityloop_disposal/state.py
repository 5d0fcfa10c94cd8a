"""A department's task on a case (处置任务), as the disposal stage keeps it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseVoided
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    ReturnApproved,
    ReturnRefused,
    SuspensionApproved,
    SuspensionRefused,
    SuspensionResumed,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalCompleted,
    ExtensionRequested,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.stage.record import CaseRecord


class TaskState(StrEnum):
    """Where a dispatched case stands on its department's list."""

    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    """待签收: dispatched, re-dispatched or sent back for rework."""
    IN_HAND = "in_hand"
    """处置中: accepted (签收) and being handled."""
    SUSPENDED = "suspended"
    """挂账: in the problem pool, the clock stopped."""
    COMPLETED = "completed"
    """处置完成: reported back; the department's part is done unless the check fails."""
    RETURNED = "returned"
    """回退: the return was approved; the case left this department."""
    CLOSED = "closed"
    """作废: the case ended while with the department."""


TO_DO: tuple[TaskState, ...] = (
    TaskState.AWAITING_ACCEPTANCE,
    TaskState.IN_HAND,
    TaskState.SUSPENDED,
)
"""A department's to-do list (待办): the tasks it still has to act on."""


class PendingRequest(StrEnum):
    """A request of the department the dispatcher has not decided yet."""

    RETURN = "return"
    EXTENSION = "extension"
    SUSPENSION = "suspension"


@dataclass(frozen=True, slots=True, kw_only=True)
class DisposalCase(CaseRecord):
    """The case's task with the department that holds it now.

    A case returned and re-dispatched leaves a returned task with the first department and
    opens one with the next; a rework reopens the same department's task.
    """

    department_id: str | None = None
    task_state: TaskState | None = None
    deadline: datetime | None = None
    dispatched_at: datetime | None = None
    accepted_at: datetime | None = None
    completed_at: datetime | None = None
    rework_count: int = 0
    pending_request: PendingRequest | None = None
    case_number: str | None = None
    category_code: str | None = None
    grid_code: str | None = None


def evolve(case: DisposalCase, event: CaseEvent) -> DisposalCase:
    replace = dataclasses.replace
    at = event.occurred_at
    match event:
        case CaseDispatched(payload=p):
            return replace(
                _assigned(case, p.department_id, p.deadline, at, rework_count=0),
                case_number=p.case_number,
                category_code=p.category.code if p.category else None,
                grid_code=p.grid_code,
            )
        case CaseRedispatched(payload=p):
            return _assigned(case, p.department_id, p.deadline, at, rework_count=0)
        case CaseReopenedForRework(payload=p):
            return _assigned(case, p.department_id, p.deadline, at, case.rework_count + 1)
        case DisposalAccepted():
            return replace(case, task_state=TaskState.IN_HAND, accepted_at=at)
        case ReturnRequested():
            return replace(case, pending_request=PendingRequest.RETURN)
        case ExtensionRequested():
            return replace(case, pending_request=PendingRequest.EXTENSION)
        case SuspensionRequested():
            return replace(case, pending_request=PendingRequest.SUSPENSION)
        case ReturnApproved():
            return replace(case, task_state=TaskState.RETURNED, pending_request=None)
        case ReturnRefused() | SuspensionRefused():
            return replace(case, pending_request=None)
        case ExtensionDecided(payload=p):
            # The payload carries the deadline in force after the decision, approved or not.
            return replace(case, deadline=p.deadline, pending_request=None)
        case SuspensionApproved():
            return replace(case, task_state=TaskState.SUSPENDED, pending_request=None)
        case SuspensionResumed(payload=p):
            return replace(case, task_state=TaskState.IN_HAND, deadline=p.deadline)
        case DisposalCompleted():
            return replace(case, task_state=TaskState.COMPLETED, completed_at=at)
        case CaseVoided():
            return replace(case, task_state=TaskState.CLOSED, pending_request=None)
    return case


def _assigned(
    case: DisposalCase, department_id: str, deadline: datetime, at: datetime, rework_count: int
) -> DisposalCase:
    """The department's task awaits acceptance (again), counted as rework when sent back."""
    return dataclasses.replace(
        case,
        department_id=department_id,
        task_state=TaskState.AWAITING_ACCEPTANCE,
        deadline=deadline,
        dispatched_at=at,
        accepted_at=None,
        completed_at=None,
        rework_count=rework_count,
        pending_request=None,
    )
