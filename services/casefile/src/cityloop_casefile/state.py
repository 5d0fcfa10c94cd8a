"""The case file (案卷): the site's whole record of a case, as every event changes it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    VerificationReported,
    VerificationRequested,
    VoidRefused,
    VoidRequested,
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
from cityloop_shared.contract.events.verification import CaseClosed
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.values import CaseLevel, ClockStep, ReportChannel, Urgency
from cityloop_shared.stage.record import CaseRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseFile(CaseRecord):
    """What the site knows of a case: how it came, where it is, who holds it, its deadline.

    ``verified`` is the supervisor's answer to a verification (核实): None until then. A
    voiding request waits for the duty chief in ``void_requested_by`` and ``void_reason``.
    """

    case_number: str | None = None
    channel: ReportChannel | None = None
    category_kind: CaseKind | None = None
    category_code: str | None = None
    grid_code: str | None = None
    urgency: Urgency = Urgency.ORDINARY
    level: CaseLevel | None = None
    needs_verification: bool | None = None
    verifier_id: str | None = None
    verified: bool | None = None
    department_id: str | None = None
    deadline: datetime | None = None
    overdue: bool = False
    void_requested_by: str | None = None
    void_reason: str | None = None
    void_requested_at: datetime | None = None
    reported_at: datetime | None = None


_OVERDUE_STEPS = frozenset({ClockStep.FORWARDING, ClockStep.CITY_ACCEPTANCE, ClockStep.DISPOSAL})
"""Steps whose red light marks the case overdue until it is next dispatched: where a
registered case waits on somebody to act on it."""


def evolve(case: CaseFile, event: CaseEvent) -> CaseFile:
    replace = dataclasses.replace
    match event:
        case CaseReported(payload=p):
            return replace(
                case,
                channel=p.channel,
                category_kind=p.category.kind if p.category else None,
                category_code=p.category.code if p.category else None,
                grid_code=p.location.grid_code,
                reported_at=event.occurred_at,
            )
        case CaseSelfHandled(payload=p):
            return replace(
                case,
                channel=ReportChannel.SUPERVISOR,
                category_kind=p.category.kind,
                category_code=p.category.code,
                grid_code=p.location.grid_code,
                reported_at=event.occurred_at,
            )
        case CaseAccepted(payload=p):
            return replace(case, needs_verification=p.needs_verification, urgency=p.urgency)
        case VerificationRequested(payload=p):
            return replace(case, verifier_id=p.supervisor_id)
        case VerificationReported(payload=p):
            return replace(case, verified=p.confirmed)
        case CaseRegistered(payload=p):
            return replace(
                case,
                case_number=p.case_number,
                category_kind=p.category.kind,
                category_code=p.category.code,
                grid_code=p.grid_code,
                urgency=p.urgency,
                level=p.level,
            )
        case VoidRequested(payload=p):
            return replace(
                case,
                void_requested_by=event.actor.id,
                void_reason=p.reason,
                void_requested_at=event.occurred_at,
            )
        case VoidRefused() | CaseVoided() | CaseClosed():
            # A request left pending when the case closed has nothing left to decide.
            return replace(case, void_requested_by=None, void_reason=None, void_requested_at=None)
        case (
            CaseDispatched(payload=p)
            | CaseRedispatched(payload=p)
            | CaseReopenedForRework(payload=p)
        ):
            return replace(case, department_id=p.department_id, deadline=p.deadline, overdue=False)
        case ExtensionDecided(payload=p) | SuspensionResumed(payload=p):
            return replace(case, deadline=p.deadline, overdue=False)
        case CaseForwardedToCity(payload=p) if p.category is not None:
            # At the city, the forwarding is the first the case file hears of the case.
            return replace(
                case,
                case_number=case.case_number or p.case_number,
                category_kind=p.category.kind,
                category_code=p.category.code,
                grid_code=case.grid_code or p.grid_code,
                channel=case.channel or p.channel,
                urgency=p.urgency,
                level=CaseLevel.CITY,
                reported_at=case.reported_at or event.occurred_at,
            )
        case TimeLimitOverdue(payload=p) if p.step in _OVERDUE_STEPS:
            return replace(case, overdue=True)
    return case
