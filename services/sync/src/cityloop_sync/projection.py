"""The city-level projection of one case (市级案卷视图): its whole history from every site's
topics, folded into where it stands.

A case's events come from several topics (each stage of its district, and of the city once
forwarded), so they are ordered before they are folded: by when they happened, a cause before
what it caused when both happened at one moment. An event the lifecycle does not allow where
the fold stands (a clock's warning read after the case closed) is kept in the timeline and
passed over by the fold, as the case file does with late events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import (
    CaseForwardedToCity,
    CaseRegistered,
    ForwardingAccepted,
    ForwardingReturned,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    SuspensionResumed,
)
from cityloop_shared.contract.events.intake import CaseReported, CaseSelfHandled
from cityloop_shared.contract.events.time_limits import TimeLimitOverdue
from cityloop_shared.contract.history import ordered
from cityloop_shared.contract.lifecycle import CaseState, CaseStatus, IllegalTransition, apply


@dataclass(frozen=True, slots=True)
class CityCase:
    """What the city sees of a case of any of its districts."""

    case_id: UUID
    site: str
    """The district the case was reported at (its case file's site)."""
    handled_by: str
    """The site whose command centre holds the case: the district, or the city once its duty
    chief passed it on (批转)."""
    status: CaseStatus
    reported_at: datetime
    updated_at: datetime
    events: int
    case_number: str | None = None
    channel: str | None = None
    category_code: str | None = None
    grid_code: str | None = None
    level: str | None = None
    urgency: str | None = None
    department_id: str | None = None
    deadline: datetime | None = None
    overdue_steps: tuple[str, ...] = field(default=())
    """Steps whose time limit passed (红灯) and that were not answered by a dispatch since."""

    @property
    def overdue(self) -> bool:
        return bool(self.overdue_steps)


def fold(events: Sequence[CaseEvent]) -> CityCase | None:
    """The case after all of its events known so far; None while none of them opens it."""
    case: CityCase | None = None
    state: CaseState | None = None
    for event in ordered(events):
        try:
            state = apply(state, event.event_type)
        except IllegalTransition:
            continue
        if case is None:
            case = CityCase(
                case_id=event.case_id,
                site=event.site,
                handled_by=event.site,
                status=state.status,
                reported_at=event.occurred_at,
                updated_at=event.occurred_at,
                events=0,
            )
        case = _evolve(case, event, state.status)
    if case is None:
        return None
    return replace(case, events=len(events))


def _evolve(case: CityCase, event: CaseEvent, status: CaseStatus) -> CityCase:
    case = replace(case, status=status, updated_at=max(case.updated_at, event.occurred_at))
    match event:
        case CaseReported(payload=p):
            return replace(
                case,
                channel=p.channel.value,
                category_code=p.category.code if p.category else None,
                grid_code=p.location.grid_code,
            )
        case CaseSelfHandled(payload=p):
            return replace(
                case,
                channel="supervisor",
                category_code=p.category.code,
                grid_code=p.location.grid_code,
            )
        case CaseRegistered(payload=p):
            return replace(
                case,
                case_number=p.case_number,
                category_code=p.category.code,
                grid_code=p.grid_code,
                level=p.level.value,
                urgency=p.urgency.value,
            )
        case CaseForwardedToCity():
            return replace(case, level="city")
        case ForwardingAccepted():
            return replace(case, handled_by=event.site)
        case ForwardingReturned():
            return replace(case, handled_by=case.site)
        case (
            CaseDispatched(payload=p)
            | CaseRedispatched(payload=p)
            | CaseReopenedForRework(payload=p)
        ):
            return replace(
                case, department_id=p.department_id, deadline=p.deadline, overdue_steps=()
            )
        case ExtensionDecided(payload=p) | SuspensionResumed(payload=p):
            steps = tuple(s for s in case.overdue_steps if s != "disposal")
            return replace(case, deadline=p.deadline, overdue_steps=steps)
        case TimeLimitOverdue(payload=p) if p.step.value not in case.overdue_steps:
            return replace(case, overdue_steps=(*case.overdue_steps, p.step.value))
    return case
