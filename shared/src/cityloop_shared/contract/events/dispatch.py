"""Events of dispatch (任务派遣) and of the command centre's follow-up."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.deadlines import TIMED_SINCE, Timed
from cityloop_shared.contract.ids import CaseNumber
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import (
    PERSONAL,
    Category,
    DepartmentId,
    GridCode,
    Reason,
    ReportChannel,
    Text,
)

from .casefile import ReasonPayload, TimedReasonPayload


class CaseFacts(Payload):
    """What a stage further on needs to know of the case, carried so it need not follow the
    events that set it (all null in events written before these fields existed)."""

    case_number: CaseNumber | None = None
    category: Category | None = None
    grid_code: GridCode | None = None
    channel: ReportChannel | None = None


class CaseDispatchedPayload(CaseFacts, Timed):
    department_id: DepartmentId
    suggested_department_id: DepartmentId | None = Field(
        default=None, description="What the responsibility matrix suggested"
    )
    deadline: AwareDatetime = Field(description="The clock starts at dispatch")
    instructions: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)


class CaseDispatched(CaseEvent):
    """派遣: to the responsible department; the case enters supervision (督办阶段)."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["case.dispatched"] = "case.dispatched"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseDispatchedPayload


class CaseRedispatchedPayload(Timed):
    department_id: DepartmentId
    previous_department_id: DepartmentId
    deadline: AwareDatetime
    reason: Reason = Field(json_schema_extra=PERSONAL)


class CaseRedispatched(CaseEvent):
    """改派: after an approved return, to another department (a wrong dispatch, 错误派遣)."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["case.redispatched"] = "case.redispatched"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseRedispatchedPayload


class ReturnApproved(CaseEvent):
    """回退 approved: the case waits for re-dispatch."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["return.approved"] = "return.approved"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: TimedReasonPayload


class ReturnRefused(CaseEvent):
    """回退 refused: the department keeps the case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["return.refused"] = "return.refused"
    payload: ReasonPayload


class ExtensionDecidedPayload(Payload):
    approved: bool
    deadline: AwareDatetime = Field(description="The deadline in force after the decision")
    reason: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)


class ExtensionDecided(CaseEvent):
    """延期 decided by the dispatcher."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["extension.decided"] = "extension.decided"
    payload: ExtensionDecidedPayload


class SuspensionApproved(CaseEvent):
    """挂账 approved: the clock stops while the case waits in the problem pool."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["suspension.approved"] = "suspension.approved"
    payload: ReasonPayload


class SuspensionRefused(CaseEvent):
    """挂账 refused: the department goes on with the case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["suspension.refused"] = "suspension.refused"
    payload: ReasonPayload


class SuspensionResumedPayload(Payload):
    deadline: AwareDatetime = Field(description="The deadline after the stopped time is added back")
    reason: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)


class SuspensionResumed(CaseEvent):
    """A suspended case comes back from the problem pool; the clock runs again."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["suspension.resumed"] = "suspension.resumed"
    payload: SuspensionResumedPayload


class FeedbackForwardedPayload(CaseFacts):
    remarks: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    department_id: DepartmentId | None = Field(
        default=None, description="The department that reported the problem handled"
    )


class FeedbackForwarded(CaseEvent):
    """处理反馈: the command centre passes the department's report to the supervision centre."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["feedback.forwarded"] = "feedback.forwarded"
    payload: FeedbackForwardedPayload


class CaseReopenedForReworkPayload(Timed):
    department_id: DepartmentId = Field(description="Always the department that handled it")
    deadline: AwareDatetime
    reason: Reason = Field(json_schema_extra=PERSONAL)


class CaseReopenedForRework(CaseEvent):
    """返工: a failed check sends the case back to the same department."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["case.reopened_for_rework"] = "case.reopened_for_rework"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CaseReopenedForReworkPayload


class FollowUpPayload(Payload):
    message: Text = Field(json_schema_extra=PERSONAL)
    department_id: DepartmentId | None = None


class ReminderSent(CaseEvent):
    """催办: a reminder to the handling department."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["reminder.sent"] = "reminder.sent"
    payload: FollowUpPayload


class SupervisionIssued(CaseEvent):
    """督办: formal supervision of a slow case."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPATCH})
    event_type: Literal["supervision.issued"] = "supervision.issued"
    payload: FollowUpPayload
