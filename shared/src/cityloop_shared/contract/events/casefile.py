"""Events of case building (案卷建立): acceptance, verification, registration and its ends."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.deadlines import TIMED_SINCE, Timed
from cityloop_shared.contract.ids import CaseNumber
from cityloop_shared.contract.sites import SiteCode
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import (
    PERSONAL,
    Attachment,
    CaseLevel,
    Category,
    GridCode,
    Reason,
    ReportChannel,
    TimeLimit,
    Urgency,
)


class CaseAcceptedPayload(Timed):
    needs_verification: bool = Field(
        description="Public reports are verified on site; supervisor and video reports are not"
    )
    urgency: Urgency = Field(
        default=Urgency.ORDINARY,
        description="As the acceptance operator judges it: sets the registration time limit",
    )


class CaseAccepted(CaseEvent):
    """受理: the acceptance operator takes the report into the system."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["case.accepted"] = "case.accepted"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseAcceptedPayload


class VerificationRequestedPayload(Timed):
    supervisor_id: str = Field(min_length=1, max_length=128)
    due_at: AwareDatetime | None = None


class VerificationRequested(CaseEvent):
    """核实任务: the grid's supervisor is sent to confirm a public report on site."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["verification.requested"] = "verification.requested"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: VerificationRequestedPayload


class VerificationReportedPayload(Timed):
    confirmed: bool
    remarks: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    attachments: tuple[Attachment, ...] = Field(default=(), json_schema_extra=PERSONAL)


class VerificationReported(CaseEvent):
    """核实反馈: the supervisor says whether the problem is there."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["verification.reported"] = "verification.reported"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: VerificationReportedPayload


class CaseRegisteredPayload(Timed):
    case_number: CaseNumber
    category: Category
    grid_code: GridCode
    level: CaseLevel
    urgency: Urgency = Urgency.ORDINARY
    time_limit: TimeLimit = Field(description="The disposal time limit (处置时限)")
    channel: ReportChannel | None = Field(
        default=None, description="How the problem was reported (null in events before v1.1)"
    )


class CaseRegistered(CaseEvent):
    """立案: the duty chief registers a component or event case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["case.registered"] = "case.registered"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseRegisteredPayload


class ReasonPayload(Payload):
    reason: Reason = Field(json_schema_extra=PERSONAL)


class TimedReasonPayload(ReasonPayload, Timed):
    """A reason, on an event that starts a clock."""


class CaseCancelled(CaseEvent):
    """注销 / 不予立案: the report does not meet the registration conditions."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["case.cancelled"] = "case.cancelled"
    payload: ReasonPayload


class VoidRequested(CaseEvent):
    """作废申请: a centre role asks the duty chief to void a registered case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["void.requested"] = "void.requested"
    payload: ReasonPayload


class VoidRefusedPayload(Payload):
    reason: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)


class VoidRefused(CaseEvent):
    """作废 refused by the duty chief: the case goes on."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["void.refused"] = "void.refused"
    payload: VoidRefusedPayload


class CaseVoidedPayload(Payload):
    reason: Reason = Field(json_schema_extra=PERSONAL)
    requested_by: str = Field(min_length=1, max_length=128)
    approved_by: str = Field(min_length=1, max_length=128, description="The duty chief")


class CaseVoided(CaseEvent):
    """作废: a registered case is voided with the duty chief's approval."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["case.voided"] = "case.voided"
    payload: CaseVoidedPayload


class CaseForwardedToCityPayload(Timed):
    city_site: SiteCode
    reason: Reason = Field(json_schema_extra=PERSONAL)
    case_number: CaseNumber | None = Field(
        default=None, description="The district's case number (null in events before v1.2)"
    )
    category: Category | None = None
    grid_code: GridCode | None = None
    urgency: Urgency = Urgency.ORDINARY
    time_limit: TimeLimit | None = Field(
        default=None, description="The disposal time limit set at the district's registration"
    )
    channel: ReportChannel | None = None


class CaseForwardedToCity(CaseEvent):
    """转市级: the district duty chief judges the problem a city department's and hands it to
    the city duty chief (市值班长), with what the city needs to dispatch it. The city's
    stages meet the case by this event: it is the first of the case at the city site."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["case.forwarded_to_city"] = "case.forwarded_to_city"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseForwardedToCityPayload


class ForwardingAcceptedPayload(Timed):
    remarks: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)


class ForwardingAccepted(CaseEvent):
    """批转: the city duty chief accepts a forwarded case and passes it to the city command
    centre (市指挥中心) for dispatch to a city department."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["forwarding.accepted"] = "forwarding.accepted"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: ForwardingAcceptedPayload


class ForwardingReturned(CaseEvent):
    """退回: the city duty chief sends a forwarded case back to its district, with the reason;
    the district's command centre dispatches it."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.CASEFILE})
    event_type: Literal["forwarding.returned"] = "forwarding.returned"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: TimedReasonPayload
