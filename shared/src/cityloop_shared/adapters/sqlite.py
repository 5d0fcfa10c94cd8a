"""SQLite: each stage in a file of its own, through SQLAlchemy and aiosqlite; one writer at
a time, taken when a transaction begins, so two transactions never deadlock upgrading a read
to a write."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from sqlalchemy import event, make_url
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.database import READING, SqlDatabase
from cityloop_shared.adapters.sql.executor import Executor
from cityloop_shared.adapters.sql.unit_of_work import SqlReader, SqlUnitOfWork
from cityloop_shared.ports.unit_of_work import RecordConflict, Row
from cityloop_shared.settings import DatabaseSettings

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another to finish before its transaction fails."""


class SQLiteDatabase(SqlDatabase):
    dialect = "sqlite"
    dialect_insert = staticmethod(sqlite_insert)

    def __init__(self, settings: DatabaseSettings) -> None:
        url = make_url(settings.url).set(drivername="sqlite+aiosqlite")
        self.engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(self.engine.sync_engine, "connect", _configure)
        event.listen(self.engine.sync_engine, "begin", _begin_immediate)

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self.engine.begin() as conn:
            uow = SqlUnitOfWork(SQLAlchemyExecutor(conn), self)
            yield uow
            await uow.flush()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlReader]:
        async with self.engine.connect() as conn:
            reader = await conn.execution_options(**{READING: True})
            yield SqlReader(SQLAlchemyExecutor(reader))

    def lost_transaction(self, error: BaseException) -> bool:
        # One writer at a time, taken at BEGIN: no deadlock to break; a busy database
        # waited out BUSY_TIMEOUT_MS already.
        return isinstance(error, DBAPIError) and error.connection_invalidated

    async def dispose(self) -> None:
        await self.engine.dispose()


class SQLAlchemyExecutor(Executor):
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def rows(self, statement: Executable, parameters: Row | None) -> Sequence[Row]:
        result = await self._conn.execute(statement, dict(parameters) if parameters else None)
        return cast(Sequence[Row], result.mappings().all())

    async def scalar(self, statement: Executable, parameters: Row | None) -> Any:
        return await self._conn.scalar(statement, dict(parameters) if parameters else None)

    async def execute(self, statement: Executable, rows: Sequence[Row] | None) -> None:
        try:
            await self._conn.execute(statement, [dict(row) for row in rows] if rows else None)
        except IntegrityError as taken:
            raise RecordConflict(str(taken.orig)) from taken

    @contextlib.asynccontextmanager
    async def grouping(self) -> AsyncIterator[None]:
        """An in-process database has no round trips to save."""
        yield


def _configure(dbapi_connection: Any, _: Any) -> None:
    # SQLAlchemy, not the driver, says when a transaction begins (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_immediate(conn: Any) -> None:
    # A reader takes no lock: in WAL mode it reads the last commit while a writer writes.
    conn.exec_driver_sql(
        "BEGIN" if conn.get_execution_options().get(READING) else "BEGIN IMMEDIATE"
    )
