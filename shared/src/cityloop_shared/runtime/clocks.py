"""Clock changes written to the clock store, on the site's working calendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from cityloop_shared.ports.clocks import WARNING_SHARE, Clock, ClockStore
from cityloop_shared.reference.calendar import WorkingCalendar
from cityloop_shared.stage.clocks import ClockChange, Move, Resume, Start, Stop, Suspend


class ClockKeeper:
    """Turns a stage's clock changes into clock rows: where the yellow mark falls is counted
    here, in working time, so every stage's clocks warn alike."""

    def __init__(self, store: ClockStore, calendar: WorkingCalendar) -> None:
        self._store = store
        self._calendar = calendar

    async def apply(self, case_id: UUID, changes: Sequence[ClockChange]) -> None:
        for change in changes:
            match change:
                case Start(step, at, deadline):
                    warn_at = self.warn_at(at, deadline)
                    self._store.start(
                        Clock(case_id, step, at, deadline, warn_at, None, None, False, False)
                    )
                case Stop(step, at):
                    self._store.stop(case_id, step, at)
                case Suspend(step, at):
                    self._store.suspend(case_id, step, at)
                case Resume(step, at, deadline):
                    clock = await self._store.clock(case_id, step)
                    if clock is None or clock.suspended_at is None:
                        continue
                    between = self._calendar.working_time_between
                    until_warning = max(between(clock.suspended_at, clock.warn_at), timedelta())
                    warn_at = self._calendar.add_working_time(at, until_warning)
                    self._store.resume(case_id, step, deadline, warn_at)
                case Move(step, deadline):
                    clock = await self._store.clock(case_id, step)
                    if clock is not None:
                        warn_at = self.warn_at(clock.started_at, deadline)
                        self._store.move(case_id, step, deadline, warn_at)

    def warn_at(self, start: datetime, deadline: datetime) -> datetime:
        used = self._calendar.working_time_between(start, deadline) * WARNING_SHARE
        return self._calendar.add_working_time(start, used)
