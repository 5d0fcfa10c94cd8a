"""Changes to a stage's time-limit clocks (时限), as plain values derived from events.

A stage says, per event it applies, which of its clocks start, stop, pause or move; the
clock store writes them, and its scan signals the yellow warning and the red overdue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cityloop_shared.contract.sites import SiteLevel
from cityloop_shared.contract.values import ClockStep


@dataclass(frozen=True, slots=True)
class Start:
    """Start (or restart) the step's clock at ``at`` towards ``deadline``."""

    step: ClockStep
    at: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Stop:
    """The step is done (or the case ended): the clock keeps the moment it stopped."""

    step: ClockStep
    at: datetime


@dataclass(frozen=True, slots=True)
class Suspend:
    """挂账: the clock stands still from ``at``."""

    step: ClockStep
    at: datetime


@dataclass(frozen=True, slots=True)
class Resume:
    """The clock runs again from ``at`` towards ``deadline`` (the time left at suspension
    added to ``at``); the warning keeps its distance from the deadline."""

    step: ClockStep
    at: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Move:
    """A new deadline (an approved extension): the warning and the overdue fire again."""

    step: ClockStep
    deadline: datetime


ClockChange = Start | Stop | Suspend | Resume | Move


ONLY_AT: dict[ClockStep, SiteLevel] = {
    ClockStep.FORWARDING: SiteLevel.DISTRICT,
    ClockStep.CITY_ACCEPTANCE: SiteLevel.CITY,
}
"""Steps of one level: both levels' case files see a forwarding, the district's waits for it
and the city's starts from it, and each site signals only its own."""


def at_level(level: SiteLevel, changes: Sequence[ClockChange]) -> list[ClockChange]:
    """The changes a site of ``level`` keeps."""
    return [change for change in changes if ONLY_AT.get(change.step, level) is level]
