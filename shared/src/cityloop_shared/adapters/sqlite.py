"""SQLite: each stage in a file of its own; one writer at a time, taken when a transaction
begins, so two transactions never deadlock upgrading a read to a write."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Table, event, make_url
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.database import READING, SqlDatabase, on_conflict_update
from cityloop_shared.settings import DatabaseSettings

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another to finish before its transaction fails."""


class SQLiteDatabase(SqlDatabase):
    def __init__(self, settings: DatabaseSettings) -> None:
        url = make_url(settings.url).set(drivername="sqlite+aiosqlite")
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _configure)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        super().__init__(engine)

    def upsert(self, table: Table, key: tuple[str, ...]) -> Executable:
        return _upsert(table, key)

    @contextlib.asynccontextmanager
    async def pipelined(self, conn: AsyncConnection) -> AsyncIterator[None]:
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


@functools.cache
def _upsert(table: Table, key: tuple[str, ...]) -> Executable:
    return on_conflict_update(sqlite_insert, table, key)
