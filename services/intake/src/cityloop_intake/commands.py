"""Commands of information collection (信息采集): a report from one of the four channels."""

from __future__ import annotations

from typing import Any, Self

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import Field, model_validator

from cityloop_intake.filing import (
    Refusal,
    dictionary_category,
    event_category,
    file_report,
    locate,
)
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.events.intake import CaseReportedPayload
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.values import (
    Attachment,
    CategoryCode,
    GeoPoint,
    GridCode,
    PublicReporter,
    ReportChannel,
    Text,
)
from cityloop_shared.service.auth import CurrentActor, require_role, require_site
from cityloop_shared.service.commands import Command, IdempotencyKey, run_command, service_runtime
from cityloop_shared.service.runtime import ServiceRuntime
from cityloop_shared.store.ledger import Ledger

router = APIRouter(prefix="/reports", tags=["intake"])

CHANNEL_ROLES = {
    ReportChannel.SUPERVISOR: Role.FIELD_SUPERVISOR,
    ReportChannel.VIDEO: Role.ACCEPTANCE_OPERATOR,
    ReportChannel.PUBLIC: Role.ACCEPTANCE_OPERATOR,
    ReportChannel.LEADER: Role.LEADER,
}
"""Who files each channel's reports: the supervisor from the street (城管通), the centre's
operators for video patrols and the hotline (热线), a leader for what they assign (交办)."""

CATEGORY_REQUIRED = frozenset({ReportChannel.SUPERVISOR, ReportChannel.VIDEO})
"""Supervisors and video operators are trained on the dictionary; the public and leaders
may not know the category, which the duty chief then sets at registration."""


class ReportedLocation(Command):
    lon: float | None = Field(default=None, ge=-180, le=180, description="WGS 84")
    lat: float | None = Field(default=None, ge=-90, le=90, description="WGS 84")
    grid_code: GridCode | None = Field(default=None, description="When there is no point")
    address: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _point_or_grid(self) -> Self:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat come together")
        if self.lon is None and self.grid_code is None:
            raise ValueError("give lon and lat, or grid_code")
        return self

    @property
    def point(self) -> GeoPoint | None:
        if self.lon is None or self.lat is None:
            return None
        return GeoPoint(lon=self.lon, lat=self.lat)


class FileReport(Command):
    channel: ReportChannel
    category_code: CategoryCode | None = Field(
        default=None, description="Required for supervisor and video reports"
    )
    category_kind: CaseKind | None = Field(
        default=None, description="Needed only when the code names both a component and an event"
    )
    description: Text
    location: ReportedLocation
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)
    reporter: PublicReporter | None = Field(
        default=None, description="Only for public reports: name, phone, email (personal data)"
    )
    external_id: str | None = Field(
        default=None, min_length=1, max_length=128, description="The channel's own id"
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def report(
    body: FileReport, actor: CurrentActor, request: Request, key: IdempotencyKey = None
) -> Any:
    """上报: a report opens a case, flagged when it looks like one already open nearby."""
    require_role(actor, CHANNEL_ROLES[body.channel])
    runtime = service_runtime(request)
    require_site(actor, runtime.site)
    try:
        payload = _payload(runtime, body)
    except Refusal as refusal:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {"loc": ["body", *refusal.field], "msg": refusal.message, "type": refusal.kind}
            ],
        ) from None

    async def decide(ledger: Ledger) -> dict[str, Any]:
        event = await file_report(runtime, ledger, actor, payload)
        return {
            "case_id": event.case_id,
            "event_id": event.event_id,
            "grid_code": event.payload.location.grid_code,
            "possible_duplicates": event.payload.possible_duplicates,
        }

    return await run_command(runtime, actor, key, body, decide, status_code=status.HTTP_201_CREATED)


def _payload(runtime: ServiceRuntime, body: FileReport) -> CaseReportedPayload:
    if body.category_code is None and body.channel in CATEGORY_REQUIRED:
        raise Refusal(
            ("category_code",),
            f"a {body.channel.value} report names its category",
            "missing_category",
        )
    if body.reporter is not None and body.channel is not ReportChannel.PUBLIC:
        raise Refusal(("reporter",), "only a public report names a reporter", "reporter_not_public")
    category = (
        dictionary_category(runtime, body.category_code, body.category_kind, ("category_code",))
        if body.category_code is not None
        else None
    )
    location = locate(
        runtime,
        point=body.location.point,
        grid_code=body.location.grid_code,
        address=body.location.address,
        point_field=("location",),
        grid_field=("location", "grid_code"),
    )
    return CaseReportedPayload(
        channel=body.channel,
        category=event_category(category) if category else None,
        description=body.description,
        location=location,
        attachments=body.attachments,
        reporter=body.reporter,
        external_id=body.external_id,
    )
