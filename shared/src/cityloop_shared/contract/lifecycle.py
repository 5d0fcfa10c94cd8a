"""The case state machine: the one place that says which event may follow which.

Every service refuses a command whose event this machine rejects, and every projection
folds events through it, so no two parts of CityLoop can disagree on a case's status.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class CaseStatus(StrEnum):
    REPORTED = "reported"
    """上报: in intake, not yet accepted."""
    ACCEPTED = "accepted"
    """受理."""
    VERIFYING = "verifying"
    """核实中: the grid's supervisor is confirming a public report."""
    VERIFIED = "verified"
    """核实完成: waiting for the duty chief to register or cancel."""
    REGISTERED = "registered"
    """立案."""
    FORWARDED_TO_CITY = "forwarded_to_city"
    """转市级: with the city duty chief (市值班长), who passes it on or sends it back."""
    WITH_CITY_COMMAND = "with_city_command"
    """批转: the city duty chief passed it to the city command centre, waiting for dispatch."""
    DISPATCHED = "dispatched"
    """派遣: with a department, which has not accepted yet."""
    RETURN_REQUESTED = "return_requested"
    """回退申请 awaiting the dispatcher."""
    AWAITING_REDISPATCH = "awaiting_redispatch"
    """回退 approved: waiting for 改派."""
    IN_DISPOSAL = "in_disposal"
    """处置中: the department has accepted the task."""
    EXTENSION_REQUESTED = "extension_requested"
    """延期申请 awaiting the dispatcher."""
    SUSPENSION_REQUESTED = "suspension_requested"
    """挂账申请 awaiting the dispatcher."""
    SUSPENDED = "suspended"
    """挂账: the clock is stopped."""
    DISPOSED = "disposed"
    """处置完成: reported back to the command centre."""
    FEEDBACK_FORWARDED = "feedback_forwarded"
    """反馈: with the supervision centre, which sends a check."""
    CHECKING = "checking"
    """核查中."""
    CHECK_PASSED = "check_passed"
    """核查通过: waiting for the duty chief to close."""
    REWORK = "rework"
    """核查不通过: going back to the same department."""
    CLOSED = "closed"
    """结案."""
    CANCELLED = "cancelled"
    """注销."""
    VOIDED = "voided"
    """作废."""
    SELF_HANDLED = "self_handled"
    """自处理: a minor problem the supervisor fixed on the spot and reported as fixed."""


S = CaseStatus

TERMINAL: frozenset[CaseStatus] = frozenset({S.CLOSED, S.CANCELLED, S.VOIDED, S.SELF_HANDLED})

_REGISTERED_AND_OPEN: frozenset[CaseStatus] = frozenset(
    {
        S.REGISTERED,
        S.FORWARDED_TO_CITY,
        S.WITH_CITY_COMMAND,
        S.DISPATCHED,
        S.RETURN_REQUESTED,
        S.AWAITING_REDISPATCH,
        S.IN_DISPOSAL,
        S.EXTENSION_REQUESTED,
        S.SUSPENSION_REQUESTED,
        S.SUSPENDED,
        S.DISPOSED,
        S.FEEDBACK_FORWARDED,
        S.CHECKING,
        S.CHECK_PASSED,
        S.REWORK,
    }
)
"""Registered and not yet at an end: where voiding is possible."""

_WITH_DEPARTMENT: frozenset[CaseStatus] = frozenset(
    {
        S.DISPATCHED,
        S.RETURN_REQUESTED,
        S.IN_DISPOSAL,
        S.EXTENSION_REQUESTED,
        S.SUSPENSION_REQUESTED,
        S.SUSPENDED,
    }
)
"""A department holds the case (督办 stage): reminders and supervision reach it. Once it
has reported back, the case is with the supervision centre, and there is nobody to urge."""

_OPEN: frozenset[CaseStatus] = frozenset(CaseStatus) - TERMINAL


class _Resume:
    """Target of a refusal: back to the status the request was made from."""


RESUME = _Resume()

_MOVES: dict[str, dict[CaseStatus | None, CaseStatus | _Resume]] = {
    "case.reported": {None: S.REPORTED},
    "case.self_handled": {None: S.SELF_HANDLED},
    "case.accepted": {S.REPORTED: S.ACCEPTED},
    "verification.requested": {S.ACCEPTED: S.VERIFYING},
    "verification.reported": {S.VERIFYING: S.VERIFIED},
    "case.registered": {S.ACCEPTED: S.REGISTERED, S.VERIFIED: S.REGISTERED},
    "case.cancelled": {s: S.CANCELLED for s in (S.REPORTED, S.ACCEPTED, S.VERIFIED)},
    "case.voided": {s: S.VOIDED for s in _REGISTERED_AND_OPEN},
    # A city site's stages meet a forwarded case first by its forwarding.
    "case.forwarded_to_city": {S.REGISTERED: S.FORWARDED_TO_CITY, None: S.FORWARDED_TO_CITY},
    "forwarding.accepted": {S.FORWARDED_TO_CITY: S.WITH_CITY_COMMAND},
    "forwarding.returned": {S.FORWARDED_TO_CITY: S.REGISTERED},
    "case.dispatched": {S.REGISTERED: S.DISPATCHED, S.WITH_CITY_COMMAND: S.DISPATCHED},
    "return.requested": {S.DISPATCHED: S.RETURN_REQUESTED, S.IN_DISPOSAL: S.RETURN_REQUESTED},
    "return.approved": {S.RETURN_REQUESTED: S.AWAITING_REDISPATCH},
    "return.refused": {S.RETURN_REQUESTED: RESUME},
    "case.redispatched": {S.AWAITING_REDISPATCH: S.DISPATCHED},
    "disposal.accepted": {S.DISPATCHED: S.IN_DISPOSAL},
    "extension.requested": {S.IN_DISPOSAL: S.EXTENSION_REQUESTED},
    "extension.decided": {S.EXTENSION_REQUESTED: S.IN_DISPOSAL},
    "suspension.requested": {S.IN_DISPOSAL: S.SUSPENSION_REQUESTED},
    "suspension.approved": {S.SUSPENSION_REQUESTED: S.SUSPENDED},
    "suspension.refused": {S.SUSPENSION_REQUESTED: S.IN_DISPOSAL},
    "suspension.resumed": {S.SUSPENDED: S.IN_DISPOSAL},
    "disposal.completed": {S.IN_DISPOSAL: S.DISPOSED},
    "feedback.forwarded": {S.DISPOSED: S.FEEDBACK_FORWARDED},
    "check.requested": {S.FEEDBACK_FORWARDED: S.CHECKING},
    "check.passed": {S.CHECKING: S.CHECK_PASSED},
    "check.failed": {S.CHECKING: S.REWORK},
    "case.closed": {S.CHECK_PASSED: S.CLOSED},
    "case.reopened_for_rework": {S.REWORK: S.DISPATCHED},
}

_OBSERVATIONS: dict[str, frozenset[CaseStatus]] = {
    "time_limit.warning": _OPEN,
    "time_limit.overdue": _OPEN,
    "reminder.sent": _WITH_DEPARTMENT,
    "supervision.issued": _WITH_DEPARTMENT,
    "void.requested": _REGISTERED_AND_OPEN,
    "void.refused": _REGISTERED_AND_OPEN,
    "satisfaction.recorded": frozenset({S.CLOSED}),
    # Shown or withheld at any point, an ended case too: a closed request found to carry a
    # reporter's phone number is withdrawn from the public after its end.
    "publicity.decided": frozenset(CaseStatus),
}
"""Events that record something about a case without moving it."""

EVENT_TYPES_IN_LIFECYCLE: frozenset[str] = frozenset(_MOVES) | frozenset(_OBSERVATIONS)

MOVES = MappingProxyType(_MOVES)

_NEVER_ASSUMED = frozenset({"case.forwarded_to_city", "case.self_handled"})
"""Openings a stage never assumes it missed: a city's stage that meets cases by their
forwarding follows it, and a self-handled case has nothing after its report."""


class IllegalTransition(Exception):
    """An event the lifecycle forbids in the case's current status."""

    def __init__(self, status: CaseStatus | None, event_type: str) -> None:
        self.status = status
        self.event_type = event_type
        where = f"a case in status {status.value!r}" if status else "a case that does not exist"
        super().__init__(f"{event_type} is not allowed for {where}")


@dataclass(frozen=True, slots=True)
class CaseState:
    """A case's position in the lifecycle.

    ``resume_to`` remembers where a pending return request came from, so a refusal goes
    back there: a return may be asked before or after the department accepted the task.
    """

    status: CaseStatus
    resume_to: CaseStatus | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


def allowed(state: CaseState | None, event_type: str) -> bool:
    try:
        apply(state, event_type)
    except IllegalTransition:
        return False
    return True


def apply(state: CaseState | None, event_type: str) -> CaseState:
    """The state after ``event_type``, or :class:`IllegalTransition`."""
    status = state.status if state else None
    observed_in = _OBSERVATIONS.get(event_type)
    if observed_in is not None:
        if state is None or status not in observed_in:
            raise IllegalTransition(status, event_type)
        return state
    target = _MOVES.get(event_type, {}).get(status)
    if target is None:
        raise IllegalTransition(status, event_type)
    if isinstance(target, _Resume):
        if state is None or state.resume_to is None:
            raise IllegalTransition(status, event_type)
        return CaseState(state.resume_to)
    return CaseState(target, resume_to=status if target is S.RETURN_REQUESTED else None)


def fold(event_types: Iterable[str], state: CaseState | None = None) -> CaseState | None:
    for event_type in event_types:
        state = apply(state, event_type)
    return state


class LifecycleView:
    """The one case state machine as a stage sees it that applies only some event types.

    A stage does not see a case move by the events it does not follow: after the last event
    it applied, the case may stand in any state those unseen moves reach from there (the
    stage's *horizon*). An event the stage receives is legal when it is legal somewhere in
    the horizon, for its emitter saw the case there. An event the stage decides is legal only
    when it is legal everywhere in the horizon, so a stage never emits what the case may
    already have moved past. A stage that applies every event type has a horizon of one
    state: the strict machine above.
    """

    def __init__(self, applies: Iterable[str]) -> None:
        self.applies = frozenset(applies)
        self._unseen = [event_type for event_type in _MOVES if event_type not in self.applies]
        self._horizons: dict[CaseState | None, tuple[CaseState | None, ...]] = {}

    def horizon(self, state: CaseState | None) -> tuple[CaseState | None, ...]:
        """Where the case may stand, nearest first, the stage's own view first of all."""
        found = self._horizons.get(state)
        if found is None:
            found = self._horizons[state] = _reach(state, self._unseen)
        return found

    def receive(self, state: CaseState | None, event_type: str) -> CaseState:
        """The state after an event another stage emitted, or :class:`IllegalTransition`."""
        for candidate in self.horizon(state):
            try:
                return apply(candidate, event_type)
            except IllegalTransition:
                continue
        raise IllegalTransition(state.status if state else None, event_type)

    def decide(self, state: CaseState | None, event_type: str) -> CaseState:
        """The state after an event this stage emits, or :class:`IllegalTransition` when the
        case may stand where the event is not allowed."""
        for candidate in self.horizon(state):
            if not allowed(candidate, event_type):
                raise IllegalTransition(state.status if state else None, event_type)
        return apply(state, event_type)

    def allows(self, state: CaseState | None, event_type: str) -> bool:
        try:
            self.decide(state, event_type)
        except IllegalTransition:
            return False
        return True

    def may_follow(self, state: CaseState | None, event_type: str) -> bool:
        """Whether the event can still become legal for the case, by moves yet to come."""
        return any(allowed(candidate, event_type) for candidate in _ahead(state))


@functools.cache
def _ahead(start: CaseState | None) -> tuple[CaseState | None, ...]:
    """Every state the case may still come to, by any moves."""
    return _reach(start, list(_MOVES))


def _reach(start: CaseState | None, moves: list[str]) -> tuple[CaseState | None, ...]:
    """Every state ``moves`` lead to from ``start``, breadth first.

    A case a stage holds nothing of has not come to it by an opening it does not follow
    (``_NEVER_ASSUMED``): such a case opens by its report.
    """
    seen: list[CaseState | None] = [start]
    for state in seen:
        for event_type in moves:
            if state is None and event_type in _NEVER_ASSUMED:
                continue
            try:
                following = apply(state, event_type)
            except IllegalTransition:
                continue
            if following not in seen:
                seen.append(following)
    return tuple(seen)
