"""The storage ports' contract on PostgreSQL: the stage's tables in a schema of its own; and
what the PostgreSQL adapter itself promises about its connections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, func, select, text

from cityloop_shared.adapters.postgres import PostgresDatabase, libpq_url
from cityloop_shared.ports.tracker import OWN
from cityloop_shared.ports.unit_of_work import RecordConflict, UnitOfWork
from cityloop_shared.runtime.service import retrying
from cityloop_shared.settings import DatabaseSettings
from cityloop_shared.testing.contracts import NOON, StorageContract, chain, create_tables

BACKEND_PID = select(func.pg_backend_pid())


@pytest.fixture
def stage_schema(postgres_url: str, pg_schema: str) -> str:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f'SET LOCAL search_path TO "{pg_schema}"'))
        create_tables(conn)
    engine.dispose()
    return pg_schema


class TestPostgresStorage(StorageContract):
    @pytest_asyncio.fixture
    async def database(
        self, postgres_url: str, stage_schema: str
    ) -> AsyncIterator[PostgresDatabase]:
        database = PostgresDatabase(DatabaseSettings(url=postgres_url), stage_schema)
        try:
            yield database
        finally:
            await database.dispose()


@pytest_asyncio.fixture
async def one_connection(postgres_url: str, stage_schema: str) -> AsyncIterator[PostgresDatabase]:
    """A database whose every transaction runs on the same pooled connection, while it lasts."""
    database = PostgresDatabase(DatabaseSettings(url=postgres_url, pool_size=1), stage_schema)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("where", "failure"),
    [
        ("at the commit", RecordConflict),
        ("at a read", RecordConflict),
        ("in the work", RuntimeError),
    ],
)
async def test_a_failed_transaction_ends_quietly_and_its_connection_serves_the_next(
    one_connection: PostgresDatabase,
    caplog: pytest.LogCaptureFixture,
    where: str,
    failure: type[Exception],
) -> None:
    event = chain(1)[0]
    async with one_connection.begin() as uow:
        uow.tracker.track(event, OWN, NOON)
        connection = await uow.scalar(BACKEND_PID)

    async def fail(uow: UnitOfWork) -> None:
        if where == "in the work":
            raise RuntimeError("the decision failed")
        uow.tracker.track(event, OWN, NOON)  # applied already
        if where == "at a read":
            await uow.tracker.knows_case(event.case_id)

    caplog.set_level(logging.WARNING, logger="psycopg")
    with pytest.raises(failure):
        async with one_connection.begin() as uow:
            await fail(uow)
    # psycopg warns of a pipeline left with unread results (the statements a failed one
    # aborted), and the pool of a connection given back in a transaction.
    assert [record.getMessage() for record in caplog.records] == []
    async with one_connection.begin() as uow:
        assert await uow.scalar(BACKEND_PID) == connection
        assert await uow.tracker.knows_case(event.case_id)


async def test_sessions_run_in_utc_whatever_the_servers_or_the_clients_default(
    postgres_url: str, stage_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq hands PGTZ to the server as the session's time zone: a client host set to local
    # time must not change what the stage reads.
    monkeypatch.setenv("PGTZ", "Asia/Shanghai")
    database = PostgresDatabase(DatabaseSettings(url=postgres_url, pool_size=1), stage_schema)
    try:
        async with database.begin() as uow:
            assert await uow.scalar(text("SHOW TimeZone")) == "UTC"
            # No column type converts this one: it comes back as psycopg read it.
            moment = await uow.scalar(text("SELECT TIMESTAMPTZ '2026-11-26 20:00:00+08'"))
    finally:
        await database.dispose()
    assert moment == NOON
    assert moment.utcoffset() == timedelta(0)


async def test_a_transaction_whose_connection_was_ended_runs_again_on_another(
    one_connection: PostgresDatabase, postgres_url: str
) -> None:
    event = chain(1)[0]
    connections: list[int] = []

    async def work() -> bool:
        async with one_connection.begin() as uow:
            connections.append(await uow.scalar(BACKEND_PID))
            if len(connections) == 1:
                await _terminate(postgres_url, connections[0])
            uow.tracker.track(event, OWN, NOON)
            return await uow.tracker.knows_case(event.case_id)

    assert await retrying(work, one_connection)
    assert len(connections) == 2
    assert connections[0] != connections[1]


async def _terminate(postgres_url: str, backend_pid: int) -> None:
    """End a session as an administrator or a server shutdown would, and wait until it has."""
    async with await psycopg.AsyncConnection.connect(
        libpq_url(postgres_url), autocommit=True
    ) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s, 5000)", [backend_pid])
