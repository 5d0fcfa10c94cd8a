"""What disposal does when an event arrives: each department's task list follows the case.

Dispatch, re-dispatch and rework put a task on a department's list; the dispatcher's
decisions move its deadline or state; a return, a voiding or a closing takes it off.
Reactions only write, so their writes wait for the batch's flush.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from cityloop_disposal.tables import TaskState, is_open, tasks
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
from cityloop_shared.contract.events.verification import CaseClosed
from cityloop_shared.store.ledger import Ledger
from cityloop_shared.store.upserts import upsert


async def react(ledger: Ledger, event: CaseEvent) -> None:
    match event:
        case CaseDispatched(payload=p) | CaseRedispatched(payload=p):
            await _assign(ledger, event, p.department_id, p.deadline, rework=False)
        case CaseReopenedForRework(payload=p):
            await _assign(ledger, event, p.department_id, p.deadline, rework=True)
        case ReturnApproved():
            await _update_open_task(ledger, event, state=TaskState.RETURNED.value)
        case CaseVoided() | CaseClosed():
            await _update_open_task(ledger, event, state=TaskState.CLOSED.value)
        case ReturnRefused() | SuspensionRefused():
            await _update_open_task(ledger, event)
        case ExtensionDecided(payload=p):
            # The payload carries the deadline in force after the decision, approved or not.
            await _update_open_task(ledger, event, deadline=p.deadline)
        case SuspensionApproved():
            await _update_open_task(ledger, event, state=TaskState.SUSPENDED.value)
        case SuspensionResumed(payload=p):
            await _update_open_task(
                ledger, event, state=TaskState.IN_HAND.value, deadline=p.deadline
            )


async def _assign(
    ledger: Ledger, event: CaseEvent, department_id: str, deadline: datetime, *, rework: bool
) -> None:
    """The department's task awaits acceptance again, counted as rework when sent back."""
    statement = upsert(
        ledger.conn.dialect.name, tasks, ("case_id", "department_id"), adding=("rework_count",)
    )
    ledger.write_later(
        statement,
        {
            "case_id": event.case_id,
            "department_id": department_id,
            "site": event.site,
            "state": TaskState.AWAITING_ACCEPTANCE.value,
            "deadline": deadline,
            "dispatched_at": event.occurred_at,
            "accepted_at": None,
            "completed_at": None,
            "rework_count": int(rework),
            "pending_request": None,
            "updated_at": event.occurred_at,
        },
    )


async def _update_open_task(ledger: Ledger, event: CaseEvent, **values: Any) -> None:
    """Every decision on a request answers it, so the pending request is cleared too."""
    ledger.write_later(
        update(tasks)
        .where(tasks.c.case_id == event.case_id, is_open())
        .values(pending_request=None, updated_at=event.occurred_at, **values)
    )
