"""Checking and closing (核查结案): the grid's supervisor checks the result on site, the duty
chief closes the case, the public reporter is called back (回访)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field, ValidationInfo, field_validator

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseVoided
from cityloop_shared.contract.events.dispatch import FeedbackForwarded
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CaseClosedPayload,
    CheckFailed,
    CheckFailedPayload,
    CheckPassed,
    CheckRequested,
    CheckRequestedPayload,
    CheckResultPayload,
    SatisfactionRecorded,
    SatisfactionRecordedPayload,
)
from cityloop_shared.contract.values import Attachment, ClockStep, Reason, ReportChannel
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.auth import require_site
from cityloop_shared.stage import clocks as clock
from cityloop_shared.stage.deadlines import step_deadline
from cityloop_shared.stage.decisions import (
    Command,
    Conflict,
    Context,
    Decision,
    Draft,
    Forbidden,
)
from cityloop_verification.state import CheckCase


class Check(Command):
    passed: bool
    remarks: str | None = Field(default=None, max_length=2000)
    reason: Reason | None = Field(
        default=None, validate_default=True, description="Why the check failed; only then"
    )
    attachments: tuple[Attachment, ...] = ()

    @field_validator("remarks")
    @classmethod
    def _remarks_of_a_pass(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A failed check's event carries its reason, not remarks: refuse rather than drop them.
        if value is not None and info.data.get("passed") is False:
            raise ValueError("a failed check gives its reason, not remarks")
        return value

    @field_validator("reason")
    @classmethod
    def _reason_of_a_failure(cls, value: str | None, info: ValidationInfo) -> str | None:
        passed = info.data.get("passed")
        if passed is False and value is None:
            raise ValueError("a failed check needs the reason: what is still wrong on site")
        if passed is True and value is not None:
            raise ValueError("a passed check has no reason; give remarks")
        return value


class Close(Command):
    remarks: str | None = Field(default=None, max_length=2000)


class Satisfaction(Command):
    score: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    remarks: str | None = Field(default=None, max_length=2000)


def check(case: CheckCase, command: Check, ctx: Context) -> Decision:
    """核查反馈: the supervisor the task went to says whether the problem is solved on site.

    The task itself lets its supervisor act: a city case's check is entrusted to the district
    supervisor of the grid, who is not of the city's site.
    """
    if case.supervisor_id != ctx.actor.id:
        require_site(ctx.actor, case.site)
        if case.supervisor_id is None:
            raise Conflict("no check was requested for this case")
        raise Forbidden(f"the check task went to supervisor {case.supervisor_id}")
    if command.passed:
        passed = CheckResultPayload(remarks=command.remarks, attachments=command.attachments)
        return Decision([Draft(CheckPassed, passed)], {"round": case.rounds})
    assert command.reason is not None, "the command's validator requires it"
    failed = CheckFailedPayload(reason=command.reason, attachments=command.attachments)
    return Decision([Draft(CheckFailed, failed)], {"round": case.rounds})


def close(case: CheckCase, command: Close, ctx: Context) -> Decision:
    """结案 by the duty chief, once the check has confirmed the result."""
    return Decision([Draft(CaseClosed, CaseClosedPayload(remarks=command.remarks))])


def record_satisfaction(case: CheckCase, command: Satisfaction, ctx: Context) -> Decision:
    """回访: the public reporter of a closed case is called back, once, for their satisfaction."""
    ctx.require(case, SatisfactionRecorded)
    if case.channel is not ReportChannel.PUBLIC:
        channel = case.channel.value if case.channel else "an unknown channel"
        raise Conflict(f"only a public reporter is called back (回访); this case came by {channel}")
    if case.satisfaction_recorded_at is not None:
        raise Conflict(
            "the reporter's satisfaction was recorded at "
            f"{case.satisfaction_recorded_at.isoformat()}"
        )
    payload = SatisfactionRecordedPayload(score=command.score, remarks=command.remarks)
    return Decision([Draft(SatisfactionRecorded, payload)])


def react(case: CheckCase, event: CaseEvent, reference: ReferenceData) -> Sequence[Draft]:
    """Forwarded feedback sends the grid's supervisor to check the result on site, due within
    the check's time limit counted from the feedback; at the city, the district's supervisor
    of the grid, entrusted with the check."""
    if not isinstance(event, FeedbackForwarded):
        return []
    supervisor = reference.supervisors.supervisor_for(case.grid_code or "")
    if supervisor is None:
        # Reference data gives every known grid a supervisor; a case outside them waits at
        # feedback_forwarded rather than being sent to nobody. No check list shows it: the
        # service logs it (``check.no_supervisor``).
        return []
    due = step_deadline(ClockStep.CHECK, event.occurred_at, case.category_code, None, reference)
    # 委托核查: a case the city handled is checked by its district's supervisor.
    entrusted = supervisor.site if supervisor.site != case.site else None
    payload = CheckRequestedPayload(
        supervisor_id=supervisor.id,
        due_at=due.due_at,
        entrusted_to_site=entrusted,
        deadlines=(due,),
    )
    return [Draft(CheckRequested, payload)]


def time(
    case: CheckCase, event: CaseEvent, reference: ReferenceData
) -> Sequence[clock.ClockChange]:
    """核查 runs from the task to the supervisor's answer."""
    at = event.occurred_at
    match event:
        case CheckRequested(payload=p) if p.due_at is not None:
            return [clock.Start(ClockStep.CHECK, at, p.due_at)]
        case CheckPassed() | CheckFailed() | CaseVoided():
            return [clock.Stop(ClockStep.CHECK, at)]
    return []
