"""PostgreSQL: each stage in a schema of its own, writes sent in psycopg's pipeline mode."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator

import psycopg
from psycopg import AsyncConnection as PsycopgConnection
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql import Executable

from cityloop_shared.adapters.sql.database import SqlDatabase, on_conflict_update
from cityloop_shared.settings import DatabaseSettings


class PostgresDatabase(SqlDatabase):
    """Connections are not pinged on checkout: that would be one more round trip for every
    command and batch. A connection the server dropped fails its transaction instead, the
    pool is refreshed, and the work is run again (:meth:`is_transient`)."""

    def __init__(self, settings: DatabaseSettings, schema: str) -> None:
        super().__init__(
            create_async_engine(
                settings.url,
                pool_size=settings.pool_size,
                max_overflow=settings.pool_overflow,
                execution_options={"schema_translate_map": {None: schema}},
            )
        )

    def upsert(self, table: Table, key: tuple[str, ...]) -> Executable:
        return _upsert(table, key)

    @contextlib.asynccontextmanager
    async def pipelined(self, conn: AsyncConnection) -> AsyncIterator[None]:
        """Send the writes back to back and read the server's answers once, at the end.

        A failed statement still fails the block (and so the transaction). Only for writes:
        SQLAlchemy cannot read rows from a statement whose answer has not arrived yet.
        """
        driver = (await conn.get_raw_connection()).driver_connection
        if not isinstance(driver, PsycopgConnection):
            yield
            return
        try:
            async with driver.pipeline():
                yield
        except psycopg.Error as error:
            # A statement's failure can surface only when the pipeline ends, from psycopg
            # itself; callers (and retries) expect SQLAlchemy's exceptions, as for any write.
            raise DBAPIError.instance(None, None, error, psycopg.Error) from error


@functools.cache
def _upsert(table: Table, key: tuple[str, ...]) -> Executable:
    return on_conflict_update(pg_insert, table, key)
