"""Engines bound to one service's schema."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import psycopg
from psycopg import AsyncConnection as PsycopgConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from cityloop_shared.settings import DatabaseSettings


def service_engine(settings: DatabaseSettings, schema: str) -> AsyncEngine:
    """An engine whose unqualified tables live in ``schema`` (PostgreSQL) or the file (SQLite).

    Connections are not pinged on checkout: that would be one more round trip for every
    command and batch. A connection the server dropped fails its transaction instead, the
    pool is refreshed, and :func:`~cityloop_shared.service.runtime.retry_transient` runs the
    work again.
    """
    if settings.url.startswith("sqlite"):
        return create_async_engine(settings.url)
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_overflow,
        execution_options={"schema_translate_map": {None: schema}},
    )


@contextlib.asynccontextmanager
async def pipelined(conn: AsyncConnection) -> AsyncIterator[None]:
    """Send writes back to back and read the server's answers once, at the end.

    On PostgreSQL the connection enters psycopg's pipeline mode for the block; a failed
    statement still fails the block (and so the transaction). Only for writes: SQLAlchemy
    cannot read rows from a statement whose answer has not arrived yet. Every round trip
    costs both processes CPU, and a command or a batch ends in several writes.
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
