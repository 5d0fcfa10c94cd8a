"""Events of checking and closing (核查结案), and the public's call-back."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from cityloop_shared.contract.envelope import CaseEvent, Payload
from cityloop_shared.contract.events.deadlines import TIMED_SINCE, Timed
from cityloop_shared.contract.sites import SiteCode
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import PERSONAL, Attachment, Reason


class CheckRequestedPayload(Timed):
    supervisor_id: str = Field(min_length=1, max_length=128)
    due_at: AwareDatetime | None = None
    entrusted_to_site: SiteCode | None = Field(
        default=None,
        description="委托核查: the district whose supervisor the city entrusts with the check",
    )


class CheckRequested(CaseEvent):
    """核查任务: the grid's supervisor is sent to check the result on site; for a case the
    city handled, the district's supervisor, entrusted by the city (委托核查)."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.VERIFICATION})
    event_type: Literal["check.requested"] = "check.requested"
    schema_version: int = Field(default=TIMED_SINCE, ge=1)
    payload: CheckRequestedPayload


class CheckResultPayload(Payload):
    remarks: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    attachments: tuple[Attachment, ...] = Field(default=(), json_schema_extra=PERSONAL)


class CheckPassed(CaseEvent):
    """核查通过: the result matches the department's report."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.VERIFICATION})
    event_type: Literal["check.passed"] = "check.passed"
    payload: CheckResultPayload


class CheckFailedPayload(Payload):
    reason: Reason = Field(json_schema_extra=PERSONAL)
    attachments: tuple[Attachment, ...] = Field(default=(), json_schema_extra=PERSONAL)


class CheckFailed(CaseEvent):
    """核查不通过: the problem is still there; the case goes back to dispatch."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.VERIFICATION})
    event_type: Literal["check.failed"] = "check.failed"
    payload: CheckFailedPayload


class CaseClosedPayload(Payload):
    remarks: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)


class CaseClosed(CaseEvent):
    """结案: the duty chief closes the case after a passed check."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.VERIFICATION})
    event_type: Literal["case.closed"] = "case.closed"
    payload: CaseClosedPayload


class SatisfactionSource(StrEnum):
    """How the public's satisfaction was heard."""

    CALLBACK = "callback"
    """回访: the centre calls the reporter back (the hotline)."""
    OPEN311 = "open311"
    """The reporter's own feedback through an Open311 client."""


class SatisfactionRecordedPayload(Payload):
    score: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    remarks: str | None = Field(default=None, max_length=2000, json_schema_extra=PERSONAL)
    source: SatisfactionSource = SatisfactionSource.CALLBACK


class SatisfactionRecorded(CaseEvent):
    """回访 or the reporter's feedback: the public's satisfaction with a closed case, for
    external evaluation (外部评价)."""

    emitted_by: ClassVar[frozenset[Stage]] = frozenset({Stage.VERIFICATION, Stage.INTAKE})
    event_type: Literal["satisfaction.recorded"] = "satisfaction.recorded"
    payload: SatisfactionRecordedPayload
