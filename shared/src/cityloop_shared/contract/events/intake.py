"""Events of information collection (信息采集)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.deadlines import TIMED_SINCE, Timed
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import (
    PERSONAL,
    Attachment,
    Category,
    Location,
    PublicReporter,
    Reason,
    ReportChannel,
    Text,
)


class CaseReportedPayload(Timed):
    channel: ReportChannel
    category: Category | None = Field(
        default=None, description="Null when the reporter could not tell; set at registration"
    )
    description: Text = Field(json_schema_extra=PERSONAL)
    location: Location
    attachments: tuple[Attachment, ...] = Field(default=(), json_schema_extra=PERSONAL)
    reporter: PublicReporter | None = Field(
        json_schema_extra=PERSONAL,
        default=None,
        description="Personal data of a public reporter; removed by redaction",
    )
    external_id: str | None = Field(
        json_schema_extra=PERSONAL,
        default=None,
        max_length=128,
        description="The channel's own id, e.g. an Open311 token",
    )
    possible_duplicates: tuple[UUID, ...] = Field(
        default=(), description="Recent nearby cases of the same category: flagged, not dropped"
    )


class CaseReported(CaseEvent):
    """上报: a problem reported through one of the four channels; this opens a case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.INTAKE})
    event_type: Literal["case.reported"] = "case.reported"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseReportedPayload


class CaseSelfHandledPayload(Payload):
    category: Category
    description: Text = Field(
        description="The problem, and what the supervisor did about it", json_schema_extra=PERSONAL
    )
    location: Location
    attachments: tuple[Attachment, ...] = Field(
        default=(), description="Photos of the result", json_schema_extra=PERSONAL
    )
    external_id: str | None = Field(default=None, max_length=128, json_schema_extra=PERSONAL)


class CaseSelfHandled(CaseEvent):
    """自处理: a field supervisor reports a minor problem already fixed on the spot. It opens
    and ends a case at once: recorded, counted and evaluated, never dispatched."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.INTAKE})
    event_type: Literal["case.self_handled"] = "case.self_handled"
    payload: CaseSelfHandledPayload


class PublicityDecidedPayload(Payload):
    public: bool = Field(
        description="Shown to the public (Open311) from now on, or withheld from it again"
    )
    reason: Reason | None = Field(default=None, json_schema_extra=PERSONAL)


class PublicityDecided(CaseEvent):
    """案件公开: the supervision centre shows a case to the public or withholds it again. A
    public report is shown unless withheld; a supervisor's, a video patrol's or a leader's
    case only once shown. It moves nothing in the case's lifecycle."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.INTAKE})
    event_type: Literal["publicity.decided"] = "publicity.decided"
    payload: PublicityDecidedPayload
