"""The tracking table (the inbox) and the parked events in SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import (
    String,
    Text,
    Uuid,
    bindparam,
    delete,
    insert,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)

from cityloop_shared.adapters.sql.tables import Moment, parked, tracking
from cityloop_shared.contract.codec import encode
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.ports.tracker import Applied, Known, Parked, Tracker
from cityloop_shared.ports.unit_of_work import Row, Write

if TYPE_CHECKING:
    from cityloop_shared.adapters.sql.unit_of_work import SqlUnitOfWork

_TRACK = insert(tracking).inline()
_PARK = insert(parked)
_UNPARK = delete(parked).where(parked.c.event_id == bindparam("unparked_id"))
_LOOKUP = union_all(
    select(
        tracking.c.event_id,
        literal(False).label("waiting"),
        # Typed nulls: the union's rows are read with the first select's column types.
        type_coerce(null(), Uuid).label("case_id"),
        type_coerce(null(), String).label("source"),
        type_coerce(null(), Text).label("body"),
        type_coerce(null(), Moment).label("parked_at"),
    ).where(tracking.c.event_id.in_(bindparam("event_ids", expanding=True))),
    select(
        parked.c.event_id,
        literal(True),
        parked.c.case_id,
        parked.c.source,
        parked.c.body,
        parked.c.parked_at,
    ).where(parked.c.case_id.in_(bindparam("case_ids", expanding=True))),
)
"""One read: which asked ids were applied, and what is parked for the batch's cases."""
_KNOWS_CASE = select(tracking.c.position).where(tracking.c.case_id == bindparam("case_id")).limit(1)
_HISTORY = (
    select(tracking)
    .where(tracking.c.position > bindparam("after"))
    .order_by(tracking.c.position)
    .limit(bindparam("limit"))
)


class SqlTracker(Tracker):
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._tracked: list[Row] = []
        self._parked: list[Row] = []
        self._unparked: list[Row] = []

    async def lookup(self, event_ids: Collection[UUID], case_ids: Collection[UUID]) -> Known:
        rows = await self._uow.rows(
            _LOOKUP, {"event_ids": list(event_ids), "case_ids": list(case_ids)}
        )
        applied: set[UUID] = set()
        waiting: list[Parked] = []
        for row in rows:
            if not row["waiting"]:
                applied.add(row["event_id"])
                continue
            waiting.append(
                Parked(
                    event_id=row["event_id"],
                    case_id=row["case_id"],
                    source=row["source"],
                    body=row["body"],
                    parked_at=row["parked_at"],
                )
            )
        waiting.sort(key=lambda p: (p.parked_at, p.event_id))
        return Known(applied, waiting)

    async def knows_case(self, case_id: UUID) -> bool:
        return await self._uow.scalar(_KNOWS_CASE, {"case_id": case_id}) is not None

    def track(self, event: CaseEvent, source: str, at: datetime) -> None:
        self._tracked.append(
            {
                "event_id": event.event_id,
                "case_id": event.case_id,
                "event_type": event.event_type,
                "source": source,
                "applied_at": at,
            }
        )

    def park(self, event: CaseEvent, source: str, at: datetime) -> None:
        self._parked.append(
            {
                "event_id": event.event_id,
                "case_id": event.case_id,
                "source": source,
                "body": encode(event).decode(),
                "parked_at": at,
            }
        )

    def unpark(self, event_id: UUID) -> None:
        self._unparked.append({"unparked_id": event_id})

    def pending(self) -> list[Write]:
        writes: list[Write] = []
        for statement, rows in (
            (_TRACK, self._tracked),
            (_PARK, self._parked),
            (_UNPARK, self._unparked),
        ):
            if rows:
                writes.append((statement, rows))
        self._tracked, self._parked, self._unparked = [], [], []
        return writes

    async def history(self, after: int = 0, limit: int = 1000) -> list[Applied]:
        rows = await self._uow.rows(_HISTORY, {"after": after, "limit": limit})
        return [
            Applied(**{column.name: row[column.name] for column in tracking.columns})
            for row in rows
        ]
