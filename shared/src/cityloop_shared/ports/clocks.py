"""Time-limit clocks (时限): state in the owning stage's database, fired by a repeatable scan.

A clock runs on the working calendar from the start of a step to its deadline. The scan
finds a yellow warning due once 80 % of the working time is used and a red overdue once the
deadline passes; each is signalled once, for the flag is set in the transaction that
journals its event. A suspended clock does not run; on resumption the working time left at
suspension counts from the moment of resumption.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cityloop_shared.contract.values import ClockStep

WARNING_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Clock:
    case_id: UUID
    step: ClockStep
    started_at: datetime
    deadline: datetime
    warn_at: datetime
    suspended_at: datetime | None
    stopped_at: datetime | None
    warned: bool
    overdue: bool


@dataclass(frozen=True, slots=True)
class DueSignal:
    case_id: UUID
    step: ClockStep
    deadline: datetime
    overdue: bool
    """False: the yellow warning is due; True: the red overdue event is."""
    due_at: datetime
    """When it fell due: the warning mark or the deadline."""


class ClockStore(ABC):
    """The clocks of a stage's cases; writes wait for the unit of work's flush."""

    @abstractmethod
    async def clock(self, case_id: UUID, step: ClockStep) -> Clock | None: ...

    @abstractmethod
    def start(self, clock: Clock) -> None:
        """Start the clock, or start it again from scratch."""

    @abstractmethod
    def stop(self, case_id: UUID, step: ClockStep, at: datetime) -> None:
        """Stop a running clock; a stopped one keeps the moment it stopped."""

    @abstractmethod
    def suspend(self, case_id: UUID, step: ClockStep, at: datetime) -> None: ...

    @abstractmethod
    def resume(self, case_id: UUID, step: ClockStep, deadline: datetime, warn_at: datetime) -> None:
        """Run a suspended clock again towards new marks."""

    @abstractmethod
    def move(self, case_id: UUID, step: ClockStep, deadline: datetime, warn_at: datetime) -> None:
        """New marks for a clock: the warning and the overdue may fire again."""

    @abstractmethod
    async def due(self, now: datetime, limit: int = 500) -> list[DueSignal]:
        """Signals due at ``now`` on running clocks, skipping clocks another scan holds."""

    @abstractmethod
    def mark_signalled(self, signal: DueSignal) -> None:
        """The signal's event is decided: the scan will not find it again."""
