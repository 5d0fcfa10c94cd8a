"""How a unit of work's statements reach its database: a backend gives an executor."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy.sql import Executable

from cityloop_shared.ports.unit_of_work import Row


class Executor(ABC):
    """Runs SQLAlchemy Core statements on one connection, in the transaction it is in."""

    @abstractmethod
    async def rows(self, statement: Executable, parameters: Row | None) -> Sequence[Row]: ...

    @abstractmethod
    async def scalar(self, statement: Executable, parameters: Row | None) -> Any: ...

    @abstractmethod
    async def execute(self, statement: Executable, rows: Sequence[Row] | None) -> None:
        """A write, once with no rows or once for each row; a taken place is
        :class:`~cityloop_shared.ports.unit_of_work.RecordConflict`."""

    @abstractmethod
    def grouping(self) -> AbstractAsyncContextManager[None]:
        """Writes made inside may be sent together, where the backend can; all are sent when
        it ends."""
