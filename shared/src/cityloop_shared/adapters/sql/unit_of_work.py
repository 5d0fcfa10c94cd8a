"""One transaction on a SQL connection: the ports' writes gathered, sent at the flush.

Writes go out in one round at the end (and before any read): the stage's records, then the
journal, the inbox and the parked events, each table in one statement however many rows it
has, then the stage's own writes and the clocks' in the order they were made.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, insert
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.answers import SqlAnswerBook
from cityloop_shared.adapters.sql.clocks import SqlClockStore
from cityloop_shared.adapters.sql.executor import Executor
from cityloop_shared.adapters.sql.recorder import SqlRecorder
from cityloop_shared.adapters.sql.states import SqlCaseStates
from cityloop_shared.adapters.sql.tracker import SqlTracker
from cityloop_shared.ports.unit_of_work import Reader, Row, UnitOfWork, Write
from cityloop_shared.stage.record import CaseRecord

if TYPE_CHECKING:
    from cityloop_shared.adapters.sql.database import SqlDatabase

R = TypeVar("R", bound=CaseRecord)


@functools.cache
def _insert(table: Table) -> Executable:
    """One statement a table: consecutive rows go as one, and a backend compiles it once."""
    return insert(table)


class SqlReader(Reader):
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def rows(self, statement: Executable, parameters: Row | None = None) -> Sequence[Row]:
        await self.flush_pending()
        return await self.executor.rows(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Row | None = None) -> Any:
        await self.flush_pending()
        return await self.executor.scalar(statement, parameters)

    async def flush_pending(self) -> None:
        """Nothing to write before a read outside a transaction."""


class SqlUnitOfWork(SqlReader, UnitOfWork):
    recorder: SqlRecorder
    tracker: SqlTracker
    clocks: SqlClockStore
    answers: SqlAnswerBook

    def __init__(self, executor: Executor, database: SqlDatabase) -> None:
        super().__init__(executor)
        self.database = database
        self.recorder = SqlRecorder(self)
        self.tracker = SqlTracker(self)
        self.clocks = SqlClockStore(self)
        self.answers = SqlAnswerBook(self)
        self._states: dict[Table, SqlCaseStates[Any]] = {}
        self._ordered: list[Write] = []

    def states(self, table: Table, record: type[R]) -> SqlCaseStates[R]:
        found = self._states.get(table)
        if found is None:
            found = self._states[table] = SqlCaseStates(self, table, record)
        return found

    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        if rows:
            self.write(_insert(table), *rows)

    def upsert(self, table: Table, key: Sequence[str], row: Row) -> None:
        self.write(self.database.upsert(table, tuple(key)), row)

    def write(self, statement: Executable, *parameters: Row | None) -> None:
        rows = [row for row in parameters if row is not None]
        last = self._ordered[-1] if self._ordered else None
        if rows and last is not None and last[0] is statement and last[1] is not None:
            last[1].extend(rows)  # consecutive writes of one statement go as one
        else:
            self._ordered.append((statement, rows or None))

    async def flush_pending(self) -> None:
        await self.flush()

    async def flush(self) -> None:
        writes = [
            *(state.pending() for state in self._states.values()),
            self.recorder.pending(),
            self.tracker.pending(),
        ]
        batches = [batch for group in writes for batch in group]
        if self._ordered:
            batches.extend(self._ordered)
            self._ordered = []
        if not batches:
            return
        async with self.executor.grouping():
            for statement, rows in batches:
                await self.executor.execute(statement, rows)
