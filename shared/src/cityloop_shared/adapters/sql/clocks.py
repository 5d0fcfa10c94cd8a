"""The clocks table in SQL."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.tables import clocks
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.ports.clocks import Clock, ClockStore, DueSignal
from cityloop_shared.ports.unit_of_work import Row

if TYPE_CHECKING:
    from cityloop_shared.adapters.sql.unit_of_work import SqlUnitOfWork

_THIS_CLOCK = and_(clocks.c.case_id == bindparam("c_case_id"), clocks.c.step == bindparam("c_step"))
_CLOCK = select(clocks).where(_THIS_CLOCK)
_STOP = update(clocks).where(_THIS_CLOCK, clocks.c.stopped_at.is_(None))
_DUE = (
    select(clocks)
    .where(
        clocks.c.stopped_at.is_(None),
        clocks.c.suspended_at.is_(None),
        or_(
            and_(clocks.c.warned.is_(False), clocks.c.warn_at <= bindparam("now")),
            and_(clocks.c.overdue.is_(False), clocks.c.deadline <= bindparam("now")),
        ),
    )
    .order_by(clocks.c.warn_at)
    .limit(bindparam("limit"))
    # Replicas scanning at once must not both signal one clock.
    .with_for_update(skip_locked=True)
)


def _clock(row: Row) -> Clock:
    values = {column.name: row[column.name] for column in clocks.columns}
    return Clock(**{**values, "step": ClockStep(values["step"])})


def _key(case_id: UUID, step: ClockStep) -> dict[str, Any]:
    return {"c_case_id": case_id, "c_step": step.value}


@functools.cache
def _update(columns: frozenset[str]) -> Executable:
    return update(clocks).where(_THIS_CLOCK).values({c: bindparam(c) for c in columns})


class SqlClockStore(ClockStore):
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    async def clock(self, case_id: UUID, step: ClockStep) -> Clock | None:
        rows = await self._uow.rows(_CLOCK, _key(case_id, step))
        return _clock(rows[0]) if rows else None

    def start(self, clock: Clock) -> None:
        row = {field.name: getattr(clock, field.name) for field in dataclasses.fields(Clock)}
        self._uow.upsert(clocks, ("case_id", "step"), {**row, "step": clock.step.value})

    def stop(self, case_id: UUID, step: ClockStep, at: datetime) -> None:
        self._uow.write(_STOP, {**_key(case_id, step), "stopped_at": at})

    def suspend(self, case_id: UUID, step: ClockStep, at: datetime) -> None:
        self._set(case_id, step, suspended_at=at)

    def resume(self, case_id: UUID, step: ClockStep, deadline: datetime, warn_at: datetime) -> None:
        self._set(case_id, step, deadline=deadline, warn_at=warn_at, suspended_at=None)

    def move(self, case_id: UUID, step: ClockStep, deadline: datetime, warn_at: datetime) -> None:
        self._set(case_id, step, deadline=deadline, warn_at=warn_at, warned=False, overdue=False)

    async def due(self, now: datetime, limit: int = 500) -> list[DueSignal]:
        signals = []
        for row in await self._uow.rows(_DUE, {"now": now, "limit": limit}):
            clock = _clock(row)
            if not clock.warned and clock.warn_at <= now:
                signals.append(
                    DueSignal(clock.case_id, clock.step, clock.deadline, False, clock.warn_at)
                )
            if not clock.overdue and clock.deadline <= now:
                signals.append(
                    DueSignal(clock.case_id, clock.step, clock.deadline, True, clock.deadline)
                )
        return signals

    def mark_signalled(self, signal: DueSignal) -> None:
        self._set(signal.case_id, signal.step, **{"overdue" if signal.overdue else "warned": True})

    def _set(self, case_id: UUID, step: ClockStep, **values: object) -> None:
        self._uow.write(_update(frozenset(values)), {**_key(case_id, step), **values})
