"""A stage's database over SQLAlchemy's async engine; the backends say what differs."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.unit_of_work import SqlReader, SqlUnitOfWork
from cityloop_shared.ports.unit_of_work import Database

READING = "cityloop_reading"
"""Marks a connection that only reads: a backend may begin its transactions more lightly."""


class SqlDatabase(Database):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self.engine.begin() as conn:
            uow = SqlUnitOfWork(conn, self)
            yield uow
            await uow.flush()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlReader]:
        async with self.engine.connect() as conn:
            yield SqlReader(await conn.execution_options(**{READING: True}))

    def is_transient(self, error: BaseException) -> bool:
        if not isinstance(error, DBAPIError):
            return False
        return isinstance(error, IntegrityError) or error.connection_invalidated

    async def dispose(self) -> None:
        await self.engine.dispose()

    @abstractmethod
    def upsert(self, table: Table, key: tuple[str, ...]) -> Executable:
        """``INSERT … ON CONFLICT (key) DO UPDATE`` of every other column, built once."""

    @abstractmethod
    def pipelined(self, conn: AsyncConnection) -> contextlib.AbstractAsyncContextManager[None]:
        """How a flush's writes are sent: back to back where the driver can."""


def on_conflict_update(insert: Any, table: Table, key: Sequence[str]) -> Executable:
    """The upsert both backends spell alike, from their own ``insert`` construct."""
    statement = insert(table)
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name not in key
        },
    )
    return upsert
