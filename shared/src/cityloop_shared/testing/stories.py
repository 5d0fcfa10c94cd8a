"""Case histories written event by event, as the stages would log them, with every time,
actor and deadline given by the writer: fixed event logs for tests and benchmarks.

    story = Story(site="370212", grid="370212001001001", category="01002")
    story.reported(at, by="sv-1", channel=ReportChannel.SUPERVISOR)
    story.registered(at, by="chief-1", dispatch_due=..., overall_due=...)

Each event is caused by the one before it and chained on its stage's stream.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cityloop_shared.contract.actors import Actor, Role
from cityloop_shared.contract.envelope import CaseEvent, ChainLink, Payload
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseAcceptedPayload,
    CaseRegistered,
    CaseRegisteredPayload,
    CaseVoided,
    CaseVoidedPayload,
    ReasonPayload,
    TimedReasonPayload,
    VerificationReported,
    VerificationReportedPayload,
    VerificationRequested,
    VerificationRequestedPayload,
)
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseDispatchedPayload,
    CaseRedispatched,
    CaseRedispatchedPayload,
    CaseReopenedForRework,
    CaseReopenedForReworkPayload,
    ExtensionDecided,
    ExtensionDecidedPayload,
    FeedbackForwarded,
    FeedbackForwardedPayload,
    ReturnApproved,
    SuspensionApproved,
    SuspensionResumed,
    SuspensionResumedPayload,
)
from cityloop_shared.contract.events.disposal import (
    DisposalAccepted,
    DisposalAcceptedPayload,
    DisposalCompleted,
    DisposalCompletedPayload,
    ReturnRequested,
    SuspensionRequested,
)
from cityloop_shared.contract.events.intake import (
    CaseReported,
    CaseReportedPayload,
    CaseSelfHandled,
    CaseSelfHandledPayload,
)
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
from cityloop_shared.contract.ids import CaseKind, case_number, new_id
from cityloop_shared.contract.topics import Stage
from cityloop_shared.contract.values import (
    CaseLevel,
    Category,
    ClockStep,
    Deadline,
    Location,
    ReportChannel,
    TimeLimit,
    TimeUnit,
)


def _due(step: ClockStep, at: datetime | None) -> tuple[Deadline, ...]:
    return () if at is None else (Deadline(step=step, due_at=at),)


class Story:
    """One case's history, told in order."""

    def __init__(
        self,
        *,
        site: str = "370212",
        grid: str = "370212001001001",
        category: str = "01002",
        kind: CaseKind = CaseKind.COMPONENT,
        case_id: UUID | None = None,
        sequence: int = 1,
    ) -> None:
        self.site = site
        self.grid = grid
        self.category = Category(standard="GB/T 47678.5-2026", kind=kind, code=category)
        self.case_id = case_id or new_id()
        self.sequence = sequence
        self.events: list[CaseEvent] = []
        self._links: dict[Stage, ChainLink] = {}

    # --- telling ----------------------------------------------------------------------------
    def _tell(
        self,
        model: type[CaseEvent],
        payload: Payload,
        at: datetime,
        by: str,
        role: Role,
    ) -> CaseEvent:
        stage = next(iter(model.emitted_by))
        event = model.create(
            case_id=self.case_id,
            site=self.site,
            actor=Actor(id=by, role=role, site=self.site),
            payload=payload,
            previous=self._links.get(stage),
            cause=self.events[-1] if self.events else None,
            occurred_at=at,
        )
        self._links[stage] = event.link()
        self.events.append(event)
        return event

    def reported(
        self,
        at: datetime,
        *,
        by: str,
        channel: ReportChannel = ReportChannel.SUPERVISOR,
        acceptance_due: datetime | None = None,
    ) -> Story:
        role = Role.FIELD_SUPERVISOR if channel is ReportChannel.SUPERVISOR else Role.PUBLIC
        payload = CaseReportedPayload(
            channel=channel,
            category=self.category,
            description="问题",
            location=Location(grid_code=self.grid),
            deadlines=_due(ClockStep.ACCEPTANCE, acceptance_due),
        )
        self._tell(CaseReported, payload, at, by, role)
        return self

    def self_handled(self, at: datetime, *, by: str) -> Story:
        payload = CaseSelfHandledPayload(
            category=self.category, description="已当场处理", location=Location(grid_code=self.grid)
        )
        self._tell(CaseSelfHandled, payload, at, by, Role.FIELD_SUPERVISOR)
        return self

    def accepted(
        self,
        at: datetime,
        *,
        by: str,
        verify: bool = False,
        registration_due: datetime | None = None,
    ) -> Story:
        payload = CaseAcceptedPayload(
            needs_verification=verify,
            deadlines=_due(ClockStep.REGISTRATION, registration_due),
        )
        self._tell(CaseAccepted, payload, at, by, Role.ACCEPTANCE_OPERATOR)
        return self

    def verification_requested(
        self, at: datetime, *, by: str, supervisor: str, due: datetime
    ) -> Story:
        payload = VerificationRequestedPayload(
            supervisor_id=supervisor, due_at=due, deadlines=_due(ClockStep.VERIFICATION, due)
        )
        self._tell(VerificationRequested, payload, at, by, Role.ACCEPTANCE_OPERATOR)
        return self

    def verified(self, at: datetime, *, by: str, registration_due: datetime | None = None) -> Story:
        payload = VerificationReportedPayload(
            confirmed=True, deadlines=_due(ClockStep.REGISTRATION, registration_due)
        )
        self._tell(VerificationReported, payload, at, by, Role.FIELD_SUPERVISOR)
        return self

    def registered(
        self,
        at: datetime,
        *,
        by: str,
        dispatch_due: datetime | None = None,
        overall_due: datetime | None = None,
        level: CaseLevel = CaseLevel.DISTRICT,
    ) -> Story:
        payload = CaseRegisteredPayload(
            case_number=case_number(
                self.site, self.category.kind, self.category.code, at.date(), self.sequence
            ),
            category=self.category,
            grid_code=self.grid,
            level=level,
            time_limit=TimeLimit(amount=2, unit=TimeUnit.WORKING_HOURS),
            deadlines=(
                *_due(ClockStep.DISPATCH, dispatch_due),
                *_due(ClockStep.OVERALL, overall_due),
            ),
        )
        self._tell(CaseRegistered, payload, at, by, Role.DUTY_CHIEF)
        return self

    def dispatched(self, at: datetime, *, by: str, department: str, due: datetime) -> Story:
        payload = CaseDispatchedPayload(
            department_id=department, deadline=due, deadlines=_due(ClockStep.DISPOSAL, due)
        )
        self._tell(CaseDispatched, payload, at, by, Role.DISPATCHER)
        return self

    def taken(self, at: datetime, *, department: str) -> Story:
        payload = DisposalAcceptedPayload(department_id=department)
        self._tell(DisposalAccepted, payload, at, department, Role.DEPARTMENT)
        return self

    def return_asked(self, at: datetime, *, department: str) -> Story:
        self._tell(
            ReturnRequested, ReasonPayload(reason="非本单位职责"), at, department, Role.DEPARTMENT
        )
        return self

    def return_approved(self, at: datetime, *, by: str, dispatch_due: datetime) -> Story:
        payload = TimedReasonPayload(
            reason="同意", deadlines=_due(ClockStep.DISPATCH, dispatch_due)
        )
        self._tell(ReturnApproved, payload, at, by, Role.DISPATCHER)
        return self

    def redispatched(
        self, at: datetime, *, by: str, department: str, previous: str, due: datetime
    ) -> Story:
        payload = CaseRedispatchedPayload(
            department_id=department,
            previous_department_id=previous,
            deadline=due,
            reason="改派",
            deadlines=_due(ClockStep.DISPOSAL, due),
        )
        self._tell(CaseRedispatched, payload, at, by, Role.DISPATCHER)
        return self

    def extended(self, at: datetime, *, by: str, to: datetime) -> Story:
        payload = ExtensionDecidedPayload(approved=True, deadline=to)
        self._tell(ExtensionDecided, payload, at, by, Role.DISPATCHER)
        return self

    def suspension_asked(self, at: datetime, *, department: str) -> Story:
        self._tell(
            SuspensionRequested, ReasonPayload(reason="待施工"), at, department, Role.DEPARTMENT
        )
        return self

    def suspended(self, at: datetime, *, by: str) -> Story:
        self._tell(SuspensionApproved, ReasonPayload(reason="纳入问题库"), at, by, Role.DISPATCHER)
        return self

    def resumed(self, at: datetime, *, by: str, deadline: datetime) -> Story:
        payload = SuspensionResumedPayload(deadline=deadline)
        self._tell(SuspensionResumed, payload, at, by, Role.DISPATCHER)
        return self

    def completed(self, at: datetime, *, department: str) -> Story:
        payload = DisposalCompletedPayload(department_id=department, description="已处理")
        self._tell(DisposalCompleted, payload, at, department, Role.DEPARTMENT)
        return self

    def feedback(self, at: datetime, *, department: str) -> Story:
        payload = FeedbackForwardedPayload(department_id=department)
        self._tell(FeedbackForwarded, payload, at, "system", Role.SYSTEM)
        return self

    def check_requested(self, at: datetime, *, supervisor: str, due: datetime) -> Story:
        payload = CheckRequestedPayload(
            supervisor_id=supervisor, due_at=due, deadlines=_due(ClockStep.CHECK, due)
        )
        self._tell(CheckRequested, payload, at, "system", Role.SYSTEM)
        return self

    def check_passed(self, at: datetime, *, supervisor: str) -> Story:
        self._tell(CheckPassed, CheckResultPayload(), at, supervisor, Role.FIELD_SUPERVISOR)
        return self

    def check_failed(self, at: datetime, *, supervisor: str) -> Story:
        payload = CheckFailedPayload(reason="仍未处理")
        self._tell(CheckFailed, payload, at, supervisor, Role.FIELD_SUPERVISOR)
        return self

    def rework(self, at: datetime, *, department: str, due: datetime) -> Story:
        payload = CaseReopenedForReworkPayload(
            department_id=department,
            deadline=due,
            reason="返工",
            deadlines=_due(ClockStep.DISPOSAL, due),
        )
        self._tell(CaseReopenedForRework, payload, at, "system", Role.SYSTEM)
        return self

    def closed(self, at: datetime, *, by: str) -> Story:
        self._tell(CaseClosed, CaseClosedPayload(), at, by, Role.DUTY_CHIEF)
        return self

    def voided(self, at: datetime, *, by: str) -> Story:
        payload = CaseVoidedPayload(reason="重复上报", requested_by=by, approved_by=by)
        self._tell(CaseVoided, payload, at, by, Role.DUTY_CHIEF)
        return self

    def satisfaction(self, at: datetime, *, score: int) -> Story:
        payload = SatisfactionRecordedPayload(score=score)
        self._tell(SatisfactionRecorded, payload, at, "callback", Role.ACCEPTANCE_OPERATOR)
        return self

    def handled(
        self,
        *,
        department: str,
        dispatched: datetime,
        due: datetime,
        done: datetime,
        by: str = "dispatcher-1",
    ) -> Story:
        """Dispatched, taken and reported done: the usual middle of a case."""
        return (
            self.dispatched(dispatched, by=by, department=department, due=due)
            .taken(dispatched, department=department)
            .completed(done, department=department)
            .feedback(done, department=department)
        )
