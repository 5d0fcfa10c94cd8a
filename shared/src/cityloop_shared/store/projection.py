"""How an event changes the shared case projection (``cases`` and ``timeline``)."""

from __future__ import annotations

from typing import Any

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseRegistered
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    SuspensionResumed,
)
from cityloop_shared.contract.events.intake import CaseReported
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue
from cityloop_shared.contract.values import ClockStep


def case_columns(event: CaseEvent) -> dict[str, Any]:
    """The columns of ``cases`` an event sets besides status and bookkeeping."""
    match event:
        case CaseReported(payload=p):
            return {
                "channel": p.channel.value,
                "category_code": p.category.code if p.category else None,
                "grid_code": p.location.grid_code,
                "reported_at": event.occurred_at,
            }
        case CaseRegistered(payload=p):
            return {
                "case_number": p.case_number,
                "category_code": p.category.code,
                "grid_code": p.grid_code,
            }
        case (
            CaseDispatched(payload=p)
            | CaseRedispatched(payload=p)
            | CaseReopenedForRework(payload=p)
        ):
            return {"department_id": p.department_id, "deadline": p.deadline, "overdue": False}
        case ExtensionDecided(payload=p) | SuspensionResumed(payload=p):
            return {"deadline": p.deadline, "overdue": False}
        case TimeLimitOverdue(payload=p) if p.step is ClockStep.DISPOSAL:
            return {"overdue": True}
    return {}


def timeline_row(event: CaseEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "event_type": event.event_type,
        "actor_id": event.actor.id,
        "actor_role": event.actor.role.value,
        "actor_site": event.actor.site,
        "occurred_at": event.occurred_at,
        "payload": event.payload.model_dump(mode="json"),
    }
