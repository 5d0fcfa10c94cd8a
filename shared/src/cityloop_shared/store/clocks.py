"""Time-limit clocks (时限): state in the owning service's database, fired by a repeatable scan.

A clock runs on the working calendar from the start of a step to its deadline. The scan
emits a yellow warning once 80 % of the working time is used and a red overdue event once
the deadline passes, each exactly once: the flag is set in the transaction that journals
the event. A suspended clock does not run; on resumption the working time left at
suspension is added to the moment of resumption.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, bindparam, or_, select, update
from sqlalchemy.sql import Executable

from cityloop_shared.contract.values import ClockStep
from cityloop_shared.store.ledger import Ledger
from cityloop_shared.store.tables import clocks
from cityloop_shared.store.upserts import upsert

WARNING_SHARE = 0.8

# Statements are built once: building one costs about as much Python as executing it.
_THIS_CLOCK = and_(clocks.c.case_id == bindparam("c_case_id"), clocks.c.step == bindparam("c_step"))
_ROW = select(clocks).where(_THIS_CLOCK)
_STOP = update(clocks).where(_THIS_CLOCK, clocks.c.stopped_at.is_(None))

AddWorkingTime = Callable[[datetime, timedelta], datetime]
WorkingTimeBetween = Callable[[datetime, datetime], timedelta]


@dataclass(frozen=True, slots=True)
class DueSignal:
    case_id: UUID
    step: ClockStep
    deadline: datetime
    overdue: bool
    """False: the yellow warning is due; True: the red overdue event is."""


class Clocks:
    """The clocks table as seen from one ledger's transaction, on one working calendar.

    Changes are written with the ledger's own writes at its next flush, in the order they
    were made; a read flushes first, so it sees them.
    """

    def __init__(self, ledger: Ledger, add: AddWorkingTime, between: WorkingTimeBetween) -> None:
        self._ledger = ledger
        self._add = add
        self._between = between

    def start(self, case_id: UUID, step: ClockStep, at: datetime, deadline: datetime) -> None:
        """Start (or restart) a step's clock towards ``deadline``."""
        self._ledger.write_later(
            upsert(self._ledger.conn.dialect.name, clocks, ("case_id", "step")),
            {
                "case_id": case_id,
                "step": step.value,
                "started_at": at,
                "deadline": deadline,
                "warn_at": self._warn_at(at, deadline),
                "suspended_at": None,
                "stopped_at": None,
                "warned": False,
                "overdue": False,
            },
        )

    async def move_deadline(self, case_id: UUID, step: ClockStep, deadline: datetime) -> None:
        """A new deadline (an approved extension): warnings and overdue fire again for it."""
        row = await self._row(case_id, step)
        if row is None:
            return
        self._set(
            case_id,
            step,
            deadline=deadline,
            warn_at=self._warn_at(row.started_at, deadline),
            warned=False,
            overdue=False,
        )

    def suspend(self, case_id: UUID, step: ClockStep, at: datetime) -> None:
        self._set(case_id, step, suspended_at=at)

    async def resume(self, case_id: UUID, step: ClockStep, at: datetime) -> datetime | None:
        """Run the clock again from ``at``; its new deadline (None if there was no clock)."""
        row = await self._row(case_id, step)
        if row is None or row.suspended_at is None:
            return row.deadline if row else None
        left = max(self._between(row.suspended_at, row.deadline), timedelta())
        until_warning = max(self._between(row.suspended_at, row.warn_at), timedelta())
        deadline = self._add(at, left)
        self._set(
            case_id,
            step,
            deadline=deadline,
            warn_at=self._add(at, until_warning),
            suspended_at=None,
        )
        return deadline

    def stop(self, case_id: UUID, step: ClockStep, at: datetime) -> None:
        """Stop a running clock; a stopped one keeps the moment it stopped."""
        self._ledger.write_later(_STOP, {**_key(case_id, step), "stopped_at": at})

    async def deadline(self, case_id: UUID, step: ClockStep) -> datetime | None:
        row = await self._row(case_id, step)
        return row.deadline if row else None

    async def due(self, now: datetime, limit: int = 500) -> list[DueSignal]:
        """Signals due at ``now`` on running clocks; repeating the scan finds nothing twice
        once the signals' events were journaled with :meth:`mark_signalled`."""
        running = and_(clocks.c.stopped_at.is_(None), clocks.c.suspended_at.is_(None))
        await self._ledger.flush()
        rows = (
            await self._ledger.conn.execute(
                select(clocks)
                .where(
                    running,
                    or_(
                        and_(clocks.c.warned.is_(False), clocks.c.warn_at <= now),
                        and_(clocks.c.overdue.is_(False), clocks.c.deadline <= now),
                    ),
                )
                .limit(limit)
                # Replicas scanning at once must not both signal one clock.
                .with_for_update(skip_locked=True)
            )
        ).all()
        signals = []
        for row in rows:
            step = ClockStep(row.step)
            if not row.warned and row.warn_at <= now:
                signals.append(DueSignal(row.case_id, step, row.deadline, overdue=False))
            if not row.overdue and row.deadline <= now:
                signals.append(DueSignal(row.case_id, step, row.deadline, overdue=True))
        return signals

    def mark_signalled(self, signal: DueSignal) -> None:
        flag = "overdue" if signal.overdue else "warned"
        self._set(signal.case_id, signal.step, **{flag: True})

    def _warn_at(self, start: datetime, deadline: datetime) -> datetime:
        return self._add(start, self._between(start, deadline) * WARNING_SHARE)

    async def _row(self, case_id: UUID, step: ClockStep) -> Row[Any] | None:
        await self._ledger.flush()
        return (await self._ledger.conn.execute(_ROW, _key(case_id, step))).first()

    def _set(self, case_id: UUID, step: ClockStep, **values: object) -> None:
        self._ledger.write_later(_update(frozenset(values)), {**_key(case_id, step), **values})


def _key(case_id: UUID, step: ClockStep) -> dict[str, object]:
    return {"c_case_id": case_id, "c_step": step.value}


@functools.cache
def _update(columns: frozenset[str]) -> Executable:
    return update(clocks).where(_THIS_CLOCK).values({c: bindparam(c) for c in columns})
