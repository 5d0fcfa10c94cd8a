"""Deadlines as events carry them (:class:`Deadline`), computed on the working calendar.

The stage that starts a step's clock computes its deadline once and writes it in the event;
its clock, and every reader after it, take it from there. Events from before deadlines were
carried (schema version 1) fall back to the computation the stage made then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from cityloop_shared.contract.events.deadlines import Timed
from cityloop_shared.contract.values import ClockStep, Deadline, Urgency
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.reference.durations import WorkingDuration


def deadline(
    step: ClockStep,
    start: datetime,
    amount: timedelta | WorkingDuration,
    reference: ReferenceData,
) -> Deadline:
    """``amount`` of working time after ``start``, provisional when the working calendar does
    not cover the years it spans."""
    calendar = reference.calendar
    due_at = calendar.add_working_time(start, amount)
    return Deadline(step=step, due_at=due_at, provisional=calendar.provisional(start, due_at))


def step_deadline(
    step: ClockStep,
    start: datetime,
    category_code: str | None,
    urgency: Urgency | None,
    reference: ReferenceData,
) -> Deadline:
    """The step's deadline from ``start`` on the time limit for the category and urgency."""
    limit = reference.time_limits.limit_for(step, category_code or "*", urgency)
    return deadline(step, start, limit.duration, reference)


def due_at(payload: Timed, step: ClockStep, otherwise: Callable[[], datetime]) -> datetime:
    """The step's deadline the event carries, or ``otherwise()`` for an event without it."""
    carried = payload.due(step)
    return carried.due_at if carried is not None else otherwise()
