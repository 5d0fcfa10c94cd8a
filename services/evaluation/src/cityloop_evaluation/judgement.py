"""What a case's events say for evaluation (综合评价): the case's facts and each timed step
round, who had it, when it was due and when it ended.

A pure fold of the case's whole history (every site's events of it, in the order they
happened), so a replay of the log judges every case the same again. Deadlines come from the
events that started each step; an event from before they were carried (schema version 1)
has its deadline computed as its stage computed it then, from the reference data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.contract.events.casefile import (
    CaseAccepted,
    CaseCancelled,
    CaseForwardedToCity,
    CaseRegistered,
    CaseVoided,
    ForwardingAccepted,
    ForwardingReturned,
    VerificationReported,
    VerificationRequested,
)
from cityloop_shared.contract.events.deadlines import Timed
from cityloop_shared.contract.events.dispatch import (
    CaseDispatched,
    CaseRedispatched,
    CaseReopenedForRework,
    ExtensionDecided,
    ReturnApproved,
    SuspensionApproved,
    SuspensionResumed,
)
from cityloop_shared.contract.events.disposal import DisposalCompleted
from cityloop_shared.contract.events.intake import CaseReported, CaseSelfHandled
from cityloop_shared.contract.events.verification import (
    CaseClosed,
    CheckFailed,
    CheckPassed,
    CheckRequested,
    SatisfactionRecorded,
)
from cityloop_shared.contract.history import ordered
from cityloop_shared.contract.lifecycle import CaseState, IllegalTransition, apply
from cityloop_shared.contract.sites import SiteLevel, site_level
from cityloop_shared.contract.values import CaseLevel, ClockStep, Urgency
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.stage.deadlines import step_deadline


class Outcome(StrEnum):
    """How a step round ended."""

    DONE = "done"
    """The step's work was done (accepted, registered, dispatched, handled, checked…)."""
    RETURNED = "returned"
    """回退: the department gave the case back; the dispatch that sent it was wrong."""
    PASSED_ON = "passed_on"
    """The case left the step another way: forwarded to the city, cancelled, voided."""


@dataclass(frozen=True, slots=True)
class StepRound:
    """One run of a step's clock: who had it, from when, due when, and how it ended."""

    step: ClockStep
    round: int
    site: str
    started_at: datetime
    due_at: datetime | None
    provisional: bool = False
    actor_id: str | None = None
    """Who the step is evaluated on: the operator, duty chief or dispatcher who did it, the
    supervisor the task went to."""
    department_id: str | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    reworked: bool = False
    """A disposal round whose result failed its check (返工)."""
    wrong_dispatch: bool = False
    """A dispatch round whose department gave the case back (错误派遣)."""
    suspended: timedelta = timedelta()
    """Working time the round stood suspended (挂账), left out of its handling time."""

    @property
    def on_time(self) -> bool | None:
        """None while it runs or when it had no deadline; suspended time is already in the
        deadline (a resumption moves it)."""
        if self.ended_at is None or self.due_at is None:
            return None
        return self.ended_at <= self.due_at


@dataclass(frozen=True, slots=True)
class CaseJudgement:
    """A case as evaluation counts it."""

    case_id: UUID
    site: str
    """Where the case was reported (its district, or the city for its own)."""
    reported_at: datetime
    channel: str | None = None
    reported_by: str | None = None
    category_kind: str | None = None
    category_code: str | None = None
    grid_code: str | None = None
    urgency: Urgency = Urgency.ORDINARY
    self_handled: bool = False
    accepted_at: datetime | None = None
    verified: bool | None = None
    registered_at: datetime | None = None
    registered_by: str | None = None
    level: str | None = None
    dispatched_at: datetime | None = None
    department_id: str | None = None
    handled_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    cancelled_at: datetime | None = None
    voided_at: datetime | None = None
    overall_due_at: datetime | None = None
    """整体时限 from registration, moved by the working time the case stood suspended."""
    returns: int = 0
    extensions: int = 0
    suspensions: int = 0
    reworks: int = 0
    suspended_at: datetime | None = None
    """Since when the case stands suspended, if it does."""
    suspended: timedelta = timedelta()
    handling: timedelta | None = None
    """Working time from the first dispatch to the last report of the problem handled, less
    the time suspended."""
    satisfaction: int | None = None
    rounds: tuple[StepRound, ...] = field(default=())

    @property
    def handled_on_time(self) -> bool | None:
        """Every round of handling done by its deadline: a late first round stays late after
        rework (返工) or re-dispatch. None before any was done."""
        done = [
            r for r in self.rounds if r.step is ClockStep.DISPOSAL and r.outcome is Outcome.DONE
        ]
        return all(r.on_time for r in done) if done else None

    @property
    def closed_on_time(self) -> bool | None:
        if self.closed_at is None or self.overall_due_at is None:
            return None
        return self.closed_at <= self.overall_due_at


def judge(history: Sequence[CaseEvent], reference: ReferenceData) -> CaseJudgement | None:
    """The case after its events known so far; None while none of them opens it."""
    case: CaseJudgement | None = None
    state: CaseState | None = None
    for event in ordered(history):
        try:
            state = apply(state, event.event_type)
        except IllegalTransition:
            # Read late or from another copy (a clock's warning after the close): the
            # history keeps it, the judgement passes over it, as the case file does.
            continue
        if case is None:
            case = CaseJudgement(
                case_id=event.case_id, site=event.site, reported_at=event.occurred_at
            )
        case = _Judge(case, reference).apply(event)
    return case


class _Judge:
    """One event's effect on the judgement."""

    def __init__(self, case: CaseJudgement, reference: ReferenceData) -> None:
        self.case = case
        self.reference = reference

    def apply(self, event: CaseEvent) -> CaseJudgement:
        case = self.case
        at = event.occurred_at
        actor = event.actor.id
        match event:
            case CaseReported(payload=p):
                case = replace(
                    case,
                    channel=p.channel.value,
                    reported_by=actor,
                    category_kind=p.category.kind.value if p.category else None,
                    category_code=p.category.code if p.category else None,
                    grid_code=p.location.grid_code,
                )
                self.case = case
                return self._start(ClockStep.ACCEPTANCE, event, p)
            case CaseSelfHandled(payload=p):
                return replace(
                    case,
                    channel="supervisor",
                    reported_by=actor,
                    self_handled=True,
                    category_kind=p.category.kind.value,
                    category_code=p.category.code,
                    grid_code=p.location.grid_code,
                    handled_at=at,
                    closed_at=at,
                    closed_by=actor,
                )
            case CaseAccepted(payload=p):
                self.case = replace(case, accepted_at=at, urgency=p.urgency)
                self._end(ClockStep.ACCEPTANCE, at, actor_id=actor)
                if p.needs_verification:
                    return self.case
                return self._start(ClockStep.REGISTRATION, event, p)
            case VerificationRequested(payload=p):
                return self._start(ClockStep.VERIFICATION, event, p, actor_id=p.supervisor_id)
            case VerificationReported(payload=p):
                self.case = replace(case, verified=p.confirmed)
                self._end(ClockStep.VERIFICATION, at)
                return self._start(ClockStep.REGISTRATION, event, p)
            case CaseRegistered(payload=p):
                self.case = replace(
                    case,
                    registered_at=at,
                    registered_by=actor,
                    level=p.level.value,
                    urgency=p.urgency,
                    category_kind=p.category.kind.value,
                    category_code=p.category.code,
                    grid_code=p.grid_code,
                )
                self._end(ClockStep.REGISTRATION, at, actor_id=actor)
                self.case = replace(
                    self.case, overall_due_at=self._due(ClockStep.OVERALL, event, p)[0]
                )
                # A city department's problem registered at a district waits for forwarding.
                forwarded = (
                    p.level is CaseLevel.CITY and site_level(event.site) is SiteLevel.DISTRICT
                )
                return self._start(
                    ClockStep.FORWARDING if forwarded else ClockStep.DISPATCH, event, p
                )
            case CaseForwardedToCity(payload=p):
                self._end(ClockStep.FORWARDING, at, actor_id=actor)
                self._end(ClockStep.DISPATCH, at, outcome=Outcome.PASSED_ON)
                return self._start(ClockStep.CITY_ACCEPTANCE, event, p)
            case ForwardingAccepted(payload=p) | ForwardingReturned(payload=p):
                self._end(ClockStep.CITY_ACCEPTANCE, at, actor_id=actor)
                return self._start(ClockStep.DISPATCH, event, p)
            case CaseDispatched(payload=p) | CaseRedispatched(payload=p):
                self.case = replace(
                    case, dispatched_at=case.dispatched_at or at, department_id=p.department_id
                )
                self._end(ClockStep.DISPATCH, at, actor_id=actor)
                return self._start(ClockStep.DISPOSAL, event, p, department_id=p.department_id)
            case CaseReopenedForRework(payload=p):
                self.case = replace(case, reworks=case.reworks + 1)
                return self._start(ClockStep.DISPOSAL, event, p, department_id=p.department_id)
            case ReturnApproved(payload=p):
                self.case = replace(case, returns=case.returns + 1)
                self._end(ClockStep.DISPOSAL, at, outcome=Outcome.RETURNED)
                self._mark(ClockStep.DISPATCH, wrong_dispatch=True)
                return self._start(ClockStep.DISPATCH, event, p)
            case ExtensionDecided(payload=p) if p.approved:
                self.case = replace(case, extensions=case.extensions + 1)
                return self._move(ClockStep.DISPOSAL, p.deadline)
            case SuspensionApproved():
                return replace(case, suspensions=case.suspensions + 1, suspended_at=at)
            case SuspensionResumed(payload=p):
                return self._resume(at, p.deadline)
            case DisposalCompleted():
                self._end(ClockStep.DISPOSAL, at)
                return self._handled(at)
            case CheckRequested(payload=p):
                return self._start(ClockStep.CHECK, event, p, actor_id=p.supervisor_id)
            case CheckPassed():
                return self._end(ClockStep.CHECK, at)
            case CheckFailed():
                self._end(ClockStep.CHECK, at)
                return self._mark(ClockStep.DISPOSAL, reworked=True)
            case CaseClosed():
                return replace(case, closed_at=at, closed_by=actor)
            case CaseCancelled():
                self.case = replace(case, cancelled_at=at)
                return self._end_all(at)
            case CaseVoided():
                self.case = replace(case, voided_at=at)
                return self._end_all(at)
            case SatisfactionRecorded(payload=p):
                return replace(case, satisfaction=p.score)
        return case

    # --- rounds --------------------------------------------------------------------------
    def _due(
        self, step: ClockStep, event: CaseEvent, payload: Timed
    ) -> tuple[datetime | None, bool]:
        carried = payload.due(step)
        if carried is not None:
            return carried.due_at, carried.provisional
        computed = step_deadline(
            step, event.occurred_at, self.case.category_code, self.case.urgency, self.reference
        )
        return computed.due_at, computed.provisional

    def _start(
        self,
        step: ClockStep,
        event: CaseEvent,
        payload: Timed,
        *,
        actor_id: str | None = None,
        department_id: str | None = None,
    ) -> CaseJudgement:
        due_at, provisional = self._due(step, event, payload)
        number = 1 + sum(1 for r in self.case.rounds if r.step is step)
        started = StepRound(
            step=step,
            round=number,
            site=event.site,
            started_at=event.occurred_at,
            due_at=due_at,
            provisional=provisional,
            actor_id=actor_id,
            department_id=department_id,
        )
        self.case = replace(self.case, rounds=(*self.case.rounds, started))
        return self.case

    def _open(self, step: ClockStep) -> int | None:
        for index in range(len(self.case.rounds) - 1, -1, -1):
            found = self.case.rounds[index]
            if found.step is step:
                return index if found.ended_at is None else None
        return None

    def _update(self, index: int, changed: StepRound) -> CaseJudgement:
        rounds = list(self.case.rounds)
        rounds[index] = changed
        self.case = replace(self.case, rounds=tuple(rounds))
        return self.case

    def _end(
        self,
        step: ClockStep,
        at: datetime,
        *,
        actor_id: str | None = None,
        outcome: Outcome = Outcome.DONE,
    ) -> CaseJudgement:
        index = self._open(step)
        if index is None:
            return self.case
        running = self.case.rounds[index]
        return self._update(
            index,
            replace(running, ended_at=at, outcome=outcome, actor_id=actor_id or running.actor_id),
        )

    def _end_all(self, at: datetime) -> CaseJudgement:
        for step in ClockStep:
            self._end(step, at, outcome=Outcome.PASSED_ON)
        return self.case

    def _move(self, step: ClockStep, due_at: datetime) -> CaseJudgement:
        index = self._open(step)
        if index is None:
            return self.case
        return self._update(index, replace(self.case.rounds[index], due_at=due_at))

    def _resume(self, at: datetime, deadline: datetime) -> CaseJudgement:
        since = self.case.suspended_at
        if since is None:
            return self.case
        stood = self.reference.calendar.working_time_between(since, at)
        overall = self.case.overall_due_at
        self.case = replace(
            self.case,
            suspended_at=None,
            suspended=self.case.suspended + stood,
            overall_due_at=(
                self.reference.calendar.add_working_time(overall, stood) if overall else None
            ),
        )
        index = self._open(ClockStep.DISPOSAL)
        if index is None:
            return self.case
        running = self.case.rounds[index]
        return self._update(
            index, replace(running, due_at=deadline, suspended=running.suspended + stood)
        )

    def _handled(self, at: datetime) -> CaseJudgement:
        first = self.case.dispatched_at
        handling = None
        if first is not None:
            worked = self.reference.calendar.working_time_between(first, at)
            handling = max(worked - self.case.suspended, timedelta())
        self.case = replace(self.case, handled_at=at, handling=handling)
        return self.case

    def _mark(
        self, step: ClockStep, *, reworked: bool = False, wrong_dispatch: bool = False
    ) -> CaseJudgement:
        """Flag the step's last round: its result failed its check, or its department gave
        the case back (a wrong dispatch)."""
        for index in range(len(self.case.rounds) - 1, -1, -1):
            found = self.case.rounds[index]
            if found.step is step:
                return self._update(
                    index,
                    replace(
                        found,
                        reworked=found.reworked or reworked,
                        wrong_dispatch=found.wrong_dispatch or wrong_dispatch,
                    ),
                )
        return self.case
