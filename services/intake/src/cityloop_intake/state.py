"""A report (上报) as intake keeps it: what the reporter said, and what became of it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseRegistered
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    SuspensionResumed,
)
from cityloop_shared.contract.events.intake import (
    CaseReported,
    CaseReportedPayload,
    CaseSelfHandled,
    CaseSelfHandledPayload,
    PublicityDecided,
)
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.values import Category, ReportChannel
from cityloop_shared.stage.record import CaseRecord


@dataclass(frozen=True, slots=True, kw_only=True)
class Report(CaseRecord):
    """The category is the case's current one: the reporter's, until registration sets it.

    A request posted through Open311 keeps the token its client was given (the event's
    external id), to be looked up by. ``published`` is the supervision centre's word on
    showing the case to the public: shown, withheld, or not said (``None``).
    """

    channel: ReportChannel | None = None
    category_kind: CaseKind | None = None
    category_code: str | None = None
    lon: float | None = None
    lat: float | None = None
    grid_code: str | None = None
    address: str | None = None
    description: str | None = None
    media_url: str | None = None
    token: str | None = None
    reported_at: datetime | None = None
    case_number: str | None = None
    department_id: str | None = None
    deadline: datetime | None = None
    published: bool | None = None

    @property
    def shown_to_public(self) -> bool:
        """Open311 lists a case the centre showed, or one the public reported that the centre
        did not withhold: a supervisor's, a video patrol's or a leader's case is the centre's
        own until it is shown."""
        if self.published is not None:
            return self.published
        return self.channel is ReportChannel.PUBLIC


def evolve(report: Report, event: CaseEvent) -> Report:
    replace = dataclasses.replace
    match event:
        case CaseReported(payload=p):
            token = p.external_id if event.actor.role is Role.PUBLIC else None
            return _reported(report, event, p.channel, p.category, p, token)
        case CaseSelfHandled(payload=p):
            return _reported(report, event, ReportChannel.SUPERVISOR, p.category, p, None)
        case CaseRegistered(payload=p):
            return replace(
                report,
                case_number=p.case_number,
                category_kind=p.category.kind,
                category_code=p.category.code,
            )
        case (
            CaseDispatched(payload=p)
            | CaseRedispatched(payload=p)
            | CaseReopenedForRework(payload=p)
        ):
            return replace(report, department_id=p.department_id, deadline=p.deadline)
        case ExtensionDecided(payload=p) | SuspensionResumed(payload=p):
            return replace(report, deadline=p.deadline)
        case PublicityDecided(payload=p):
            return replace(report, published=p.public)
    return report


def _reported(
    report: Report,
    event: CaseEvent,
    channel: ReportChannel,
    category: Category | None,
    said: CaseReportedPayload | CaseSelfHandledPayload,
    token: str | None,
) -> Report:
    """What the reporter said: a report, or a supervisor's problem handled on the spot."""
    point = said.location.point
    return dataclasses.replace(
        report,
        channel=channel,
        category_kind=category.kind if category else None,
        category_code=category.code if category else None,
        lon=point.lon if point else None,
        lat=point.lat if point else None,
        grid_code=said.location.grid_code,
        address=said.location.address,
        description=said.description,
        media_url=str(said.attachments[0].uri) if said.attachments else None,
        token=token,
        reported_at=event.occurred_at,
    )
