"""One transaction of a stage, and the database that opens them.

Everything a transaction decides is gathered and written at its end, in one round of
statements; a read flushes what was gathered first, so it sees it. A crash at any moment
leaves all of it or none.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.sql import Executable

from cityloop_shared.ports.answers import AnswerBook
from cityloop_shared.ports.clocks import ClockStore
from cityloop_shared.ports.recorder import Recorder
from cityloop_shared.ports.states import CaseStates
from cityloop_shared.ports.tracker import Tracker
from cityloop_shared.stage.record import CaseRecord

R = TypeVar("R", bound=CaseRecord)
Row = Mapping[str, Any]
Write = tuple[Executable, list[Row] | None]
"""A statement and the rows it is executed for (None: executed once, as it is)."""


class RecordConflict(Exception):
    """A write took a place another transaction holds: the same case's next event, an event
    applied already, a key answered already. Running the work again settles it."""


class Reader(ABC):
    """Reads outside a transaction: the queries of lists and work queues."""

    @abstractmethod
    async def rows(self, statement: Executable, parameters: Row | None = None) -> Sequence[Row]: ...

    @abstractmethod
    async def scalar(self, statement: Executable, parameters: Row | None = None) -> Any: ...


class UnitOfWork(Reader):
    recorder: Recorder
    tracker: Tracker
    clocks: ClockStore
    answers: AnswerBook

    @abstractmethod
    def states(self, table: Table, record: type[R]) -> CaseStates[R]:
        """The stage's records, kept in ``table`` (one column a field)."""

    @abstractmethod
    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        """Rows for one of the stage's own tables, written at the flush."""

    @abstractmethod
    def upsert(self, table: Table, key: Sequence[str], row: Row) -> None:
        """A whole row written at the flush: inserted, or replacing the row with its key."""

    @abstractmethod
    def write(self, statement: Executable, parameters: Row | None = None) -> None:
        """Any other write to the stage's own tables, at the flush, in order."""

    @abstractmethod
    async def flush(self) -> None: ...


class Database(ABC):
    """A stage's database: PostgreSQL (a schema of its own) or SQLite (a file of its own)."""

    dialect: str

    @abstractmethod
    def begin(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work on a new transaction: committed when the block ends, rolled back
        when it raises."""

    @abstractmethod
    def reading(self) -> AbstractAsyncContextManager[Reader]: ...

    @abstractmethod
    def is_transient(self, error: BaseException) -> bool:
        """Whether the work may succeed when run again: a concurrent writer took the same key,
        the connection broke, or the database rolled the transaction back to settle a
        deadlock or a serialization conflict."""

    @abstractmethod
    async def dispose(self) -> None: ...
