"""Events of information collection (信息采集)."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import (
    Attachment,
    Category,
    Location,
    PublicReporter,
    ReportChannel,
    Text,
)


class CaseReportedPayload(Payload):
    channel: ReportChannel
    category: Category | None = Field(
        default=None, description="Null when the reporter could not tell; set at registration"
    )
    description: Text
    location: Location
    attachments: tuple[Attachment, ...] = ()
    reporter: PublicReporter | None = Field(
        default=None, description="Personal data of a public reporter; removed by redaction"
    )
    external_id: str | None = Field(
        default=None, max_length=128, description="The channel's own id, e.g. an Open311 token"
    )
    possible_duplicates: tuple[UUID, ...] = Field(
        default=(), description="Recent nearby cases of the same category: flagged, not dropped"
    )


class CaseReported(CaseEvent):
    """上报: a problem reported through one of the four channels; this opens a case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.INTAKE})
    event_type: Literal["case.reported"] = "case.reported"
    payload: CaseReportedPayload
