"""The journal in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import bindparam, insert, select, update

from cityloop_shared.adapters.sql.tables import journal
from cityloop_shared.contract.codec import decode, encode
from cityloop_shared.contract.envelope import CaseEvent, event_hash
from cityloop_shared.ports.recorder import JournalEntry, Recorder
from cityloop_shared.ports.unit_of_work import Row, Write

if TYPE_CHECKING:
    from cityloop_shared.adapters.sql.unit_of_work import SqlUnitOfWork

# Statements are built once: building one costs about as much Python as executing it.
_APPEND = insert(journal).inline()
"""No position read back: one cached statement for any number of rows."""
_CASE_EVENTS = (
    select(journal.c.body)
    .where(journal.c.case_id == bindparam("case_id"))
    .order_by(journal.c.sequence)
)
_ENTRIES = (
    select(journal)
    .where(journal.c.position > bindparam("after"))
    .order_by(journal.c.position)
    .limit(bindparam("limit"))
)
_UNPUBLISHED = (
    select(journal)
    .where(journal.c.published_at.is_(None))
    .order_by(journal.c.position)
    .limit(bindparam("limit"))
)
_PUBLISHED = (
    update(journal)
    .where(journal.c.position.in_(bindparam("positions", expanding=True)))
    .values(published_at=bindparam("at"))
)


def _entry(row: Row) -> JournalEntry:
    return JournalEntry(**{column.name: row[column.name] for column in journal.columns})


class SqlRecorder(Recorder):
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._rows: list[Row] = []

    def append(self, events: Sequence[CaseEvent], topic: str) -> None:
        self._rows.extend(
            {
                "event_id": event.event_id,
                "case_id": event.case_id,
                "sequence": event.sequence,
                "event_type": event.event_type,
                "event_hash": event_hash(event),
                "topic": topic,
                "body": encode(event).decode(),
                "occurred_at": event.occurred_at,
            }
            for event in events
        )

    def pending(self) -> list[Write]:
        rows, self._rows = self._rows, []
        return [(_APPEND, rows)] if rows else []

    async def case_events(self, case_id: UUID) -> list[CaseEvent]:
        rows = await self._uow.rows(_CASE_EVENTS, {"case_id": case_id})
        return [decode(row["body"]) for row in rows]

    async def entries(self, after: int = 0, limit: int = 1000) -> list[JournalEntry]:
        return [_entry(r) for r in await self._uow.rows(_ENTRIES, {"after": after, "limit": limit})]

    async def unpublished(self, limit: int) -> list[JournalEntry]:
        return [_entry(row) for row in await self._uow.rows(_UNPUBLISHED, {"limit": limit})]

    def mark_published(self, positions: Sequence[int], at: datetime) -> None:
        self._uow.write(_PUBLISHED, {"positions": list(positions), "at": at})
