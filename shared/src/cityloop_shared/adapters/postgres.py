"""PostgreSQL: each stage in a schema of its own, through psycopg directly.

The statements are SQLAlchemy Core, as on every backend, compiled once each to psycopg's
SQL; connections come from psycopg's own pool with the stage's schema on their search path
and UTC as their time zone.
A transaction runs in psycopg's pipeline mode: ``BEGIN`` goes with its first read, and its
writes with ``COMMIT``, so a command costs the database two round trips. Going round
SQLAlchemy's execution and pooling here cuts what a transaction costs the service by more
than half (``bench/``), and a stage runs many of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import JSON, Table, make_url
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from cityloop_shared.adapters.sql.database import SqlDatabase
from cityloop_shared.adapters.sql.executor import Executor
from cityloop_shared.adapters.sql.unit_of_work import SqlReader, SqlUnitOfWork
from cityloop_shared.ports.unit_of_work import RecordConflict, Row
from cityloop_shared.settings import DatabaseSettings

Connection = psycopg.AsyncConnection[DictRow]

CONNECTION_WAIT_SECONDS = 10.0
RECONNECT_GIVE_UP_SECONDS = 5.0


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL as libpq takes it: the driver dropped, everything else kept (its
    query too: ``sslmode``, a socket ``host``, ``connect_timeout``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresDatabase(SqlDatabase):
    """Connections are not checked on checkout: that would be one more round trip for every
    command and batch. A connection the server dropped fails its transaction instead, the
    pool replaces it, and the work is run again (:meth:`lost_transaction`)."""

    dialect = "postgresql"
    dialect_insert = staticmethod(pg_insert)

    def __init__(self, settings: DatabaseSettings, schema: str) -> None:
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            libpq_url(settings.url),
            min_size=settings.pool_size,
            max_size=settings.pool_size + settings.pool_overflow,
            kwargs={
                "options": f"-c search_path={schema}",
                "row_factory": dict_row,
                # Transactions are begun and ended by hand, inside one pipeline.
                "autocommit": True,
                # A stage runs a few dozen statements over and over: each is parsed and
                # planned once per connection, from its second run on.
                "prepare_threshold": 1,
            },
            configure=_configure,
            # While the server is out of reach a request waits this long for a connection,
            # then is answered 503 (runtime.unavailable) rather than left hanging.
            timeout=CONNECTION_WAIT_SECONDS,
            # A connection that cannot be made is given up after this long and made anew on
            # the next demand, its backoff starting over: once the server is back the pool
            # refills within seconds, not after a backoff grown through the whole outage.
            reconnect_timeout=RECONNECT_GIVE_UP_SECONDS,
            open=False,
        )
        self._opening = asyncio.Lock()

    async def _connections(self) -> AsyncConnectionPool[Connection]:
        if self.pool.closed:
            async with self._opening:
                if self.pool.closed:
                    await self.pool.open()
        return self.pool

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[SqlUnitOfWork]:
        async with (await self._connections()).connection() as conn:
            try:
                async with conn.pipeline() as pipeline:
                    await conn.execute("BEGIN")
                    uow = SqlUnitOfWork(PsycopgExecutor(conn), self)
                    try:
                        yield uow
                        await uow.flush()
                        await conn.execute("COMMIT")
                    except BaseException:
                        if not conn.broken:
                            await _roll_back(conn, pipeline)
                        raise
            except psycopg.IntegrityError as taken:
                # A write's failure surfaces at a later statement, or at the sync that
                # carries COMMIT: that leaves the transaction failed, and psycopg rolls it
                # back as the error leaves the pool's connection block.
                raise RecordConflict(str(taken)) from taken

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlReader]:
        async with (await self._connections()).connection() as conn:
            yield SqlReader(PsycopgExecutor(conn))

    def lost_transaction(self, error: BaseException) -> bool:
        if not isinstance(error, psycopg.OperationalError):
            return False
        if error.sqlstate is None:
            # libpq's own errors, when the connection broke; a pipeline aborted by an earlier
            # error and a pool out of connections say so in classes of their own.
            return type(error) is psycopg.OperationalError
        return (
            error.sqlstate in _ROLLED_BACK
            or error.sqlstate in _SESSION_ENDED
            or error.sqlstate.startswith(_CONNECTION_EXCEPTION)
        )

    async def dispose(self) -> None:
        await self.pool.close()


_ROLLED_BACK = frozenset({"40001", "40P01"})
"""Serialization failure, deadlock: the server rolled the transaction back, and running it
again may well succeed. (psycopg's classes for them are not ``TransactionRollback``'s.)"""
_SESSION_ENDED = frozenset({"57P01", "57P02", "57P05"})
"""The server ended the session: an administrator (``pg_terminate_backend``, a shutdown),
another backend's crash, the idle session timeout. Query cancels (57014) are not of them."""
_CONNECTION_EXCEPTION = "08"


async def _roll_back(conn: Connection, pipeline: psycopg.AsyncPipeline) -> None:
    """Queue ``ROLLBACK`` to go with the pipeline's last sync, no round trip of its own."""
    if conn.pgconn.pipeline_status == pq.PipelineStatus.ABORTED:
        # A statement failed: the server skips those after it up to the next sync, and
        # would skip ROLLBACK too. Syncing here takes their results, each "aborted", which
        # leaving the pipeline would take instead, warning of them.
        with contextlib.suppress(psycopg.errors.PipelineAborted):
            await pipeline.sync()
    await conn.execute("ROLLBACK")


async def _configure(conn: Connection) -> None:
    # Rows are read by psycopg, not through SQLAlchemy's column types (Moment): a timestamp
    # comes back in the session's time zone, so it is set here, after whatever the server's
    # default or the client's PGTZ made it.
    await conn.execute("SET TimeZone TO 'UTC'")
    # Room for every statement a stage runs, so none is evicted and prepared again.
    conn.prepared_max = 256


class PsycopgExecutor(Executor):
    """Single-row writes of a flush to distinct tables go as one statement (data-modifying
    ``WITH`` parts): a command's record, journal entry, tracking row and answer cost one
    statement's round of work, not four. Writes to a table already in the group, and writes
    of many rows, start a new one, so no statement sees another's rows."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._group: list[tuple[Compiled, Row, Table]] = []
        self._grouped = False

    async def rows(self, statement: Executable, parameters: Row | None) -> Sequence[Row]:
        sql = _compiled(statement, None)
        cursor = await self._conn.execute(sql.text, sql.bound(parameters))
        return await cursor.fetchall()

    async def scalar(self, statement: Executable, parameters: Row | None) -> Any:
        found = await self.rows(statement, parameters)
        return next(iter(found[0].values())) if found else None

    async def execute(self, statement: Executable, rows: Sequence[Row] | None) -> None:
        table = getattr(statement, "table", None)
        if self._grouped and rows and len(rows) == 1 and isinstance(table, Table):
            if any(member is table for _, _, member in self._group):
                await self._send_group()
            self._group.append((_compiled(statement, tuple(rows[0])), rows[0], table))
            return
        # Writes run only in a transaction's pipeline, where a taken place surfaces at a
        # later statement or at the sync: PostgresDatabase.begin makes it a RecordConflict.
        await self._send_group()
        if not rows:
            sql = _compiled(statement, None)
            await self._conn.execute(sql.text, sql.bound(None))
            return
        sql = _compiled(statement, tuple(rows[0]))
        if len(rows) == 1:
            await self._conn.execute(sql.text, sql.bound(rows[0]))
            return
        async with self._conn.cursor() as cursor:
            await cursor.executemany(sql.text, [sql.bound(row) for row in rows])

    @contextlib.asynccontextmanager
    async def grouping(self) -> AsyncIterator[None]:
        """Single-row writes made inside go in groups (see the class), the last as it ends;
        all reach the server with the transaction's ``COMMIT``, for the whole transaction is
        one pipeline (:meth:`PostgresDatabase.begin`)."""
        self._grouped = True
        try:
            yield
            await self._send_group()
        finally:
            self._grouped = False

    async def _send_group(self) -> None:
        group, self._group = self._group, []
        if not group:
            return
        if len(group) == 1:
            ((sql, row, _),) = group
            await self._conn.execute(sql.text, sql.bound(row))
            return
        text = _together(tuple(sql for sql, _, _ in group))
        values = {
            f"w{n}_{name}": value
            for n, (sql, row, _) in enumerate(group)
            for name, value in sql.bound(row).items()
        }
        await self._conn.execute(text, values)


_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
_EXPANDING = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _array(match: re.Match[str]) -> str:
    # A list bound as one array: one statement for any length of list.
    return f"<> ALL(%({match[2]})s)" if match[1] else f"= ANY(%({match[2]})s)"


@dataclass(frozen=True, slots=True, eq=False)
class Compiled:
    text: str
    defaults: dict[str, Any]
    """The values the statement itself binds (literals, lists given to ``in_``)."""
    json: frozenset[str]
    """Parameters of JSON columns: psycopg sends them as JSON, not as text arrays or rows."""

    def bound(self, parameters: Row | None) -> Row:
        if parameters is None:
            return self.defaults
        if not self.defaults and not self.json:
            return parameters
        values = {**self.defaults, **parameters}
        for name in self.json:
            if name in values:
                values[name] = Json(values[name])
        return values


_Key = tuple[int, tuple[str, ...] | None]
"""A statement by identity, and the columns an insert is compiled for."""
_CACHE: OrderedDict[_Key, tuple[Executable, Compiled]] = OrderedDict()
_CACHE_SIZE = 4096
"""Far more than the statements a stage builds once; statements built per query (filters)
come and go, and the least recently used make room."""


def _compiled(statement: Executable, keys: tuple[str, ...] | None) -> Compiled:
    """The statement as psycopg's SQL, compiled once (for an insert: once per set of columns)."""
    key = (id(statement), keys)
    found = _CACHE.get(key)
    if found is not None and found[0] is statement:
        _CACHE.move_to_end(key)
        return found[1]
    assert isinstance(statement, ClauseElement), "a SQLAlchemy Core statement"
    compiled = statement.compile(dialect=_DIALECT, column_keys=list(keys) if keys else None)
    assert isinstance(compiled, SQLCompiler)
    result = Compiled(
        text=_EXPANDING.sub(_array, str(compiled)),
        # The statement's own values; the caller's are bound at each execution.
        defaults={
            name: value
            for name, value in compiled.construct_params(_check=False).items()
            if value is not None
        },
        json=frozenset(
            name for name, bind in compiled.binds.items() if isinstance(bind.type, JSON)
        ),
    )
    _CACHE[key] = (statement, result)
    _CACHE.move_to_end(key)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=1024)
def _together(parts: tuple[Compiled, ...]) -> str:
    """One statement of several writes, each a ``WITH`` part with its parameters prefixed."""
    renamed = [_PLACEHOLDER.sub(f"%(w{n}_\\1)s", part.text) for n, part in enumerate(parts)]
    return "WITH " + ", ".join(f"w{n} AS ({text})" for n, text in enumerate(renamed)) + " SELECT 1"
