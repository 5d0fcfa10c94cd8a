"""The command centre's record of a case (派遣案卷), and how each event changes it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import (
    CaseForwardedToCity,
    CaseForwardedToCityPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    ForwardingAccepted,
    ForwardingReturned,
)
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
    ExtensionRequested,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.sites import SiteLevel, site_level
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    ReportChannel,
    TimeUnit,
    Urgency,
)
from cityloop_shared.stage.record import CaseRecord


class RequestKind(StrEnum):
    """What a department asks the dispatcher to decide."""

    RETURN = "return"
    """回退: not its responsibility."""
    EXTENSION = "extension"
    """延期: more time, with a proposed deadline."""
    SUSPENSION = "suspension"
    """挂账: into the problem pool, the clock stopped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchCase(CaseRecord):
    """A registered case this command centre dispatches.

    ``department_id`` is the department holding the case (after a return, the one that gave
    it back, until re-dispatch); ``deadline`` is the disposal deadline in force. The lifecycle
    allows one open request of a department per case at a time (``request``).
    """

    case_number: str | None = None
    category_standard: str | None = None
    category_kind: CaseKind | None = None
    category_code: str | None = None
    grid_code: str | None = None
    channel: ReportChannel | None = None
    urgency: Urgency = Urgency.ORDINARY
    # The disposal time limit (处置时限) set at registration: every dispatch, re-dispatch
    # and rework counts it afresh from its own moment.
    time_limit_amount: int | None = None
    time_limit_unit: TimeUnit | None = None
    registered_at: datetime | None = None
    department_id: str | None = None
    deadline: datetime | None = None
    suspended_at: datetime | None = None
    request: RequestKind | None = None
    request_reason: str | None = None
    proposed_deadline: datetime | None = None
    requested_by: str | None = None
    requested_at: datetime | None = None

    @property
    def category(self) -> Category | None:
        if self.category_standard is None or self.category_kind is None or not self.category_code:
            return None
        return Category(
            standard=self.category_standard, kind=self.category_kind, code=self.category_code
        )


_ANSWERED = {
    "request": None,
    "request_reason": None,
    "proposed_deadline": None,
    "requested_by": None,
    "requested_at": None,
}
"""Every decision on a department's request answers it."""


def evolve(case: DispatchCase, event: CaseEvent) -> DispatchCase | None:
    replace = dataclasses.replace
    match event:
        case CaseRegistered(payload=p):
            if p.level is CaseLevel.CITY and site_level(case.site) is SiteLevel.DISTRICT:
                # A city department's problem: the city's command centre dispatches it.
                return None
            return _filed(case, p, registered_at=event.occurred_at)
        case CaseForwardedToCity(payload=p) if p.category and p.time_limit:
            # What the city's command centre dispatches by, and the district's if sent back.
            return _filed(case, p, registered_at=None)
        case ForwardingAccepted() | ForwardingReturned():
            # In the queue of the command centre that now dispatches it: the city's, or the
            # district's when the city sent it back.
            return replace(case, registered_at=event.occurred_at)
        case CaseDispatched(payload=p) | CaseRedispatched(payload=p):
            return replace(case, department_id=p.department_id, deadline=p.deadline, **_ANSWERED)
        case CaseReopenedForRework(payload=p):
            return replace(case, department_id=p.department_id, deadline=p.deadline)
        case ReturnRequested(payload=p) | SuspensionRequested(payload=p):
            kind = (
                RequestKind.RETURN if isinstance(event, ReturnRequested) else RequestKind.SUSPENSION
            )
            return _requested(case, event, kind, p.reason, None)
        case ExtensionRequested(payload=p):
            return _requested(case, event, RequestKind.EXTENSION, p.reason, p.proposed_deadline)
        case ExtensionDecided(payload=p):
            return replace(case, deadline=p.deadline, **_ANSWERED)
        case SuspensionApproved():
            return replace(case, suspended_at=event.occurred_at, **_ANSWERED)
        case SuspensionResumed(payload=p):
            return replace(case, suspended_at=None, deadline=p.deadline)
        case ReturnApproved() | ReturnRefused() | SuspensionRefused() | CaseVoided():
            return replace(case, **_ANSWERED)
    return case


def _filed(
    case: DispatchCase,
    p: CaseRegisteredPayload | CaseForwardedToCityPayload,
    registered_at: datetime | None,
) -> DispatchCase:
    """What a command centre dispatches by, as registered (or, at the city, as forwarded)."""
    assert p.category is not None, "a filed case has its category"
    assert p.time_limit is not None, "a filed case has its disposal time limit"
    return dataclasses.replace(
        case,
        case_number=p.case_number,
        category_standard=p.category.standard,
        category_kind=p.category.kind,
        category_code=p.category.code,
        grid_code=p.grid_code,
        channel=p.channel,
        urgency=p.urgency,
        time_limit_amount=p.time_limit.amount,
        time_limit_unit=p.time_limit.unit,
        registered_at=registered_at,
    )


def _requested(
    case: DispatchCase,
    event: CaseEvent,
    kind: RequestKind,
    reason: str,
    proposed: datetime | None,
) -> DispatchCase:
    return dataclasses.replace(
        case,
        request=kind,
        request_reason=reason,
        proposed_deadline=proposed,
        requested_by=event.actor.id,
        requested_at=event.occurred_at,
    )
