"""Information collection (信息采集): a report from one of the four channels opens a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Self
from uuid import UUID

from pydantic import Field, model_validator

from cityloop_intake.filing import event_category, locate
from cityloop_intake.state import Report
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.events.intake import (
    CaseReported,
    CaseReportedPayload,
    CaseSelfHandled,
    CaseSelfHandledPayload,
    PublicityDecided,
    PublicityDecidedPayload,
)
from cityloop_shared.contract.events.verification import (
    SatisfactionRecorded,
    SatisfactionRecordedPayload,
    SatisfactionSource,
)
from cityloop_shared.contract.ids import CaseKind
from cityloop_shared.contract.values import (
    Attachment,
    CategoryCode,
    ClockStep,
    GeoPoint,
    GridCode,
    PublicReporter,
    Reason,
    ReportChannel,
    Text,
)
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.lookup import known_category
from cityloop_shared.stage.deadlines import step_deadline
from cityloop_shared.stage.decisions import Command, Conflict, Context, Decision, Draft, Invalid

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
    self_handled: bool = Field(
        default=False,
        description="自处理: a supervisor's minor problem already fixed on the spot; "
        "it is recorded and evaluated, never dispatched",
    )


@dataclass(frozen=True, slots=True)
class Filing:
    """A report with the open cases it may repeat, read in its transaction."""

    command: FileReport
    possible_duplicates: tuple[UUID, ...]


def channel_roles(command: FileReport) -> set[Role]:
    return {CHANNEL_ROLES[command.channel]}


def report_payload(
    command: FileReport,
    reference: ReferenceData,
    site: str,
    now: datetime,
    possible_duplicates: tuple[UUID, ...] = (),
) -> CaseReportedPayload:
    """The report as its event says it, or :class:`Invalid` naming the field that cannot be."""
    if command.category_code is None and command.channel in CATEGORY_REQUIRED:
        raise Invalid(
            ("category_code",),
            f"a {command.channel.value} report names its category",
            "missing_category",
        )
    if command.reporter is not None and command.channel is not ReportChannel.PUBLIC:
        raise Invalid(("reporter",), "only a public report names a reporter", "reporter_not_public")
    category = (
        known_category(
            reference.categories, command.category_code, command.category_kind, ("category_code",)
        )
        if command.category_code is not None
        else None
    )
    location = locate(
        reference,
        site,
        point=command.location.point,
        grid_code=command.location.grid_code,
        address=command.location.address,
    )
    return CaseReportedPayload(
        channel=command.channel,
        category=event_category(category) if category else None,
        description=command.description,
        location=location,
        attachments=command.attachments,
        reporter=command.reporter,
        external_id=command.external_id,
        possible_duplicates=possible_duplicates,
        deadlines=(
            step_deadline(
                ClockStep.ACCEPTANCE, now, category.code if category else None, None, reference
            ),
        ),
    )


def report(case: None, filing: Filing, ctx: Context) -> Decision:
    """上报: a report opens a case, flagged when it looks like one already open nearby; 自处理:
    a supervisor's report of a problem fixed on the spot opens and ends one at once."""
    command = filing.command
    payload = report_payload(command, ctx.reference, ctx.site, ctx.now, filing.possible_duplicates)
    if command.self_handled:
        return _self_handled(command, payload)
    return Decision(
        [Draft(CaseReported, payload)],
        {
            "grid_code": payload.location.grid_code,
            "possible_duplicates": payload.possible_duplicates,
        },
    )


def _self_handled(command: FileReport, report: CaseReportedPayload) -> Decision:
    if command.channel is not ReportChannel.SUPERVISOR:
        raise Invalid(
            ("self_handled",),
            "only a field supervisor reports a problem as handled on the spot (自处理)",
            "self_handled_not_supervisor",
        )
    assert report.category is not None, "a supervisor's report names its category"
    payload = CaseSelfHandledPayload(
        category=report.category,
        description=report.description,
        location=report.location,
        attachments=report.attachments,
        external_id=report.external_id,
    )
    return Decision(
        [Draft(CaseSelfHandled, payload)],
        {"grid_code": payload.location.grid_code, "self_handled": True},
    )


class ReporterFeedback(Command):
    score: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    remarks: str | None = Field(default=None, max_length=2000)


def reporter_feedback(report: Report, feedback: ReporterFeedback, ctx: Context) -> Decision:
    """The public reporter's own word on how the report was dealt with, once its case is
    closed: heard like a call-back (回访), for external evaluation. A later word replaces an
    earlier one in the evaluation."""
    ctx.require(report, SatisfactionRecorded)
    payload = SatisfactionRecordedPayload(
        score=feedback.score, remarks=feedback.remarks, source=SatisfactionSource.OPEN311
    )
    return Decision([Draft(SatisfactionRecorded, payload)], {"score": feedback.score})


PUBLICITY_ROLES = frozenset({Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF})
"""The supervision centre decides what the public sees: its operators, or its duty chief."""


class Publicity(Command):
    public: bool = Field(description="Show the case to the public (Open311), or withhold it")
    reason: Reason | None = Field(default=None, description="Why, for the case file")


def publicity(report: Report, command: Publicity, ctx: Context) -> Decision:
    """案件公开: show a case to the public, or withhold it again. Saying what already holds
    is refused, so the case file records only changes."""
    ctx.require(report, PublicityDecided)
    if report.shown_to_public == command.public:
        already = "shown to" if command.public else "withheld from"
        raise Conflict(f"the case is already {already} the public")
    payload = PublicityDecidedPayload(public=command.public, reason=command.reason)
    return Decision([Draft(PublicityDecided, payload)], {"public": command.public})
