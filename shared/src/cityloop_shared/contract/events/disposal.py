"""Events of the departments' work (任务处理) and their report back (处理反馈)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import PERSONAL, Attachment, DepartmentId, Reason, Text

from .casefile import ReasonPayload


class DisposalAcceptedPayload(Payload):
    department_id: DepartmentId


class DisposalAccepted(CaseEvent):
    """签收: the department accepts the task."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPOSAL})
    event_type: Literal["disposal.accepted"] = "disposal.accepted"
    payload: DisposalAcceptedPayload


class ReturnRequested(CaseEvent):
    """回退申请: the department says the case is not its responsibility."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPOSAL})
    event_type: Literal["return.requested"] = "return.requested"
    payload: ReasonPayload


class ExtensionRequestedPayload(Payload):
    proposed_deadline: AwareDatetime
    reason: Reason = Field(json_schema_extra=PERSONAL)


class ExtensionRequested(CaseEvent):
    """延期申请: the department asks for more time."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPOSAL})
    event_type: Literal["extension.requested"] = "extension.requested"
    payload: ExtensionRequestedPayload


class SuspensionRequested(CaseEvent):
    """挂账申请: the case cannot be solved within the limit (works, season, funding)."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPOSAL})
    event_type: Literal["suspension.requested"] = "suspension.requested"
    payload: ReasonPayload


class DisposalCompletedPayload(Payload):
    department_id: DepartmentId
    description: Text = Field(json_schema_extra=PERSONAL)
    evidence: tuple[Attachment, ...] = Field(
        default=(), description="Photos of the result", json_schema_extra=PERSONAL
    )


class DisposalCompleted(CaseEvent):
    """处置完成: the department reports the problem handled, with evidence."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.DISPOSAL})
    event_type: Literal["disposal.completed"] = "disposal.completed"
    payload: DisposalCompletedPayload
