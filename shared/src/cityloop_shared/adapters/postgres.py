"""PostgreSQL: each stage in a schema of its own, through psycopg directly.

The statements are SQLAlchemy Core, as on every backend, compiled once each to psycopg's
SQL; connections come from psycopg's own pool with the stage's schema on their search path.
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
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import JSON, Table, make_url
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from cityloop_shared.adapters.sql.database import SqlDatabase, on_conflict_update
from cityloop_shared.adapters.sql.executor import Executor
from cityloop_shared.adapters.sql.unit_of_work import SqlReader, SqlUnitOfWork
from cityloop_shared.ports.unit_of_work import RecordConflict, Row
from cityloop_shared.settings import DatabaseSettings

Connection = psycopg.AsyncConnection[DictRow]


class PostgresDatabase(SqlDatabase):
    """Connections are not checked on checkout: that would be one more round trip for every
    command and batch. A connection the server dropped fails its transaction instead, the
    pool replaces it, and the work is run again (:meth:`lost_connection`)."""

    dialect = "postgresql"

    def __init__(self, settings: DatabaseSettings, schema: str) -> None:
        url = make_url(settings.url)
        conninfo = make_conninfo(
            host=url.host or "",
            port=url.port or 5432,
            user=url.username or "",
            password=url.password or "",
            dbname=url.database or "",
        )
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            conninfo,
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
            configure=_keep_prepared,
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
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    uow = SqlUnitOfWork(PsycopgExecutor(conn), self)
                    try:
                        yield uow
                        await uow.flush()
                    except BaseException:
                        await conn.execute("ROLLBACK")
                        raise
                    await conn.execute("COMMIT")
            except psycopg.IntegrityError as taken:
                # A write's failure surfaces when the pipeline is synced, at its end.
                raise RecordConflict(str(taken)) from taken

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[SqlReader]:
        async with (await self._connections()).connection() as conn:
            yield SqlReader(PsycopgExecutor(conn))

    def lost_connection(self, error: BaseException) -> bool:
        return isinstance(error, psycopg.OperationalError)

    def upsert(self, table: Table, key: tuple[str, ...]) -> Executable:
        return _upsert(table, key)

    async def dispose(self) -> None:
        await self.pool.close()


async def _keep_prepared(conn: Connection) -> None:
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
        self._grouping = False

    async def rows(self, statement: Executable, parameters: Row | None) -> Sequence[Row]:
        sql = _compiled(statement, None)
        cursor = await self._conn.execute(sql.text, sql.bound(parameters))
        return await cursor.fetchall()

    async def scalar(self, statement: Executable, parameters: Row | None) -> Any:
        found = await self.rows(statement, parameters)
        return next(iter(found[0].values())) if found else None

    async def execute(self, statement: Executable, rows: Sequence[Row] | None) -> None:
        table = getattr(statement, "table", None)
        if self._grouping and rows and len(rows) == 1 and isinstance(table, Table):
            if any(member is table for _, _, member in self._group):
                await self._send_group()
            self._group.append((_compiled(statement, tuple(rows[0])), rows[0], table))
            return
        await self._send_group()
        try:
            if not rows:
                await self._conn.execute(
                    _compiled(statement, None).text, _compiled(statement, None).bound(None)
                )
                return
            sql = _compiled(statement, tuple(rows[0]))
            if len(rows) == 1:
                await self._conn.execute(sql.text, sql.bound(rows[0]))
                return
            async with self._conn.cursor() as cursor:
                await cursor.executemany(sql.text, [sql.bound(row) for row in rows])
        except psycopg.IntegrityError as taken:
            raise RecordConflict(str(taken)) from taken

    @contextlib.asynccontextmanager
    async def pipelined(self) -> AsyncIterator[None]:
        """The whole transaction is one pipeline already (:meth:`PostgresDatabase.begin`):
        the writes go with its ``COMMIT``; here they are grouped."""
        self._grouping = True
        try:
            yield
            await self._send_group()
        finally:
            self._grouping = False

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


_CACHE: dict[tuple[int, tuple[str, ...] | None], tuple[Executable, Compiled]] = {}


def _compiled(statement: Executable, keys: tuple[str, ...] | None) -> Compiled:
    """The statement as psycopg's SQL, compiled once (for an insert: once per set of columns)."""
    found = _CACHE.get((id(statement), keys))
    if found is not None and found[0] is statement:
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
    if len(_CACHE) > 4096:
        _CACHE.clear()  # statements built per query (filters) should not pile up
    _CACHE[id(statement), keys] = (statement, result)
    return result


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.lru_cache(maxsize=1024)
def _together(parts: tuple[Compiled, ...]) -> str:
    """One statement of several writes, each a ``WITH`` part with its parameters prefixed."""
    renamed = [_PLACEHOLDER.sub(f"%(w{n}_\\1)s", part.text) for n, part in enumerate(parts)]
    return "WITH " + ", ".join(f"w{n} AS ({text})" for n, text in enumerate(renamed)) + " SELECT 1"


@functools.cache
def _upsert(table: Table, key: tuple[str, ...]) -> Executable:
    return on_conflict_update(pg_insert, table, key)
