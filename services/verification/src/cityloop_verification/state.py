"""A case's check (核查任务) as the verification stage keeps it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import CaseVoided
from cityloop_shared.contract.events.dispatch import FeedbackForwarded
from cityloop_shared.contract.events.verification import (
    CheckFailed,
    CheckPassed,
    CheckRequested,
    SatisfactionRecorded,
)
from cityloop_shared.contract.values import ReportChannel
from cityloop_shared.stage.record import CaseRecord


class CheckResult(StrEnum):
    """How a check round ended; a pending round has no result."""

    PASSED = "passed"
    FAILED = "failed"
    VOIDED = "voided"
    """The case was voided while the check was pending."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckCase(CaseRecord):
    """A case whose handling was reported back: what the check needs to know of it, and its
    current round. Each forwarded feedback opens the next round, so ``rounds`` counts how
    often the result had to be checked (rework makes it grow)."""

    case_number: str | None = None
    category_code: str | None = None
    grid_code: str | None = None
    channel: ReportChannel | None = None
    department_id: str | None = None
    supervisor_id: str | None = None
    requested_at: datetime | None = None
    due_at: datetime | None = None
    result: CheckResult | None = None
    rounds: int = 0
    satisfaction_recorded_at: datetime | None = None


def evolve(case: CheckCase, event: CaseEvent) -> CheckCase:
    replace = dataclasses.replace
    match event:
        case FeedbackForwarded(payload=p):
            return replace(
                case,
                case_number=p.case_number or case.case_number,
                category_code=p.category.code if p.category else case.category_code,
                grid_code=p.grid_code or case.grid_code,
                channel=p.channel or case.channel,
                department_id=p.department_id,
            )
        case CheckRequested(payload=p):
            return replace(
                case,
                supervisor_id=p.supervisor_id,
                requested_at=event.occurred_at,
                due_at=p.due_at,
                result=None,
                rounds=case.rounds + 1,
            )
        case CheckPassed():
            return replace(case, result=CheckResult.PASSED)
        case CheckFailed():
            return replace(case, result=CheckResult.FAILED)
        case CaseVoided() if case.supervisor_id is not None and case.result is None:
            return replace(case, result=CheckResult.VOIDED)
        case SatisfactionRecorded():
            return replace(case, satisfaction_recorded_at=event.occurred_at)
    return case
