"""Which failures a command or batch is run again for, on each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio
from psycopg import errors
from psycopg_pool import PoolTimeout
from sqlalchemy.exc import DBAPIError

from cityloop_shared.adapters.postgres import PostgresDatabase
from cityloop_shared.ports.unit_of_work import Database, RecordConflict
from cityloop_shared.runtime.service import retrying
from cityloop_shared.settings import DatabaseSettings


class Flaky:
    """Fails with the given errors, in order, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def dropped_connection(database: Database) -> Exception:
    """What each backend's driver raises when the server closed the connection."""
    if database.dialect == "postgresql":
        return psycopg.OperationalError(
            "consuming input failed: server closed the connection unexpectedly"
        )
    return DBAPIError("SELECT 1", None, Exception("closed"), connection_invalidated=True)


async def test_a_lost_race_on_a_unique_row_is_run_again(database: Database) -> None:
    work = Flaky(RecordConflict("duplicate key"))
    assert await retrying(work, database) == "done"
    assert work.calls == 2


async def test_a_dropped_connection_is_run_again_on_a_fresh_one(database: Database) -> None:
    work = Flaky(dropped_connection(database), dropped_connection(database))
    assert await retrying(work, database) == "done"
    assert work.calls == 3


async def test_any_other_error_fails_at_once(database: Database) -> None:
    work = Flaky(ValueError("syntax error"))
    with pytest.raises(ValueError, match="syntax error"):
        await retrying(work, database)
    assert work.calls == 1


async def test_a_conflict_that_keeps_happening_fails_after_the_last_attempt(
    database: Database,
) -> None:
    work = Flaky(*(RecordConflict("duplicate key") for _ in range(5)))
    with pytest.raises(RecordConflict):
        await retrying(work, database, attempts=5)
    assert work.calls == 5


@pytest_asyncio.fixture
async def postgres() -> AsyncIterator[PostgresDatabase]:
    """A PostgreSQL adapter that never connects: it only judges errors here."""
    database = PostgresDatabase(DatabaseSettings(), "unused")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    "error",
    [
        errors.DeadlockDetected("deadlock detected"),
        errors.SerializationFailure("could not serialize access due to concurrent update"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CrashShutdown("terminating connection because of crash of another server process"),
        errors.ConnectionFailure("could not receive data from client"),
        psycopg.OperationalError("the connection is closed"),
    ],
    ids=type,
)
async def test_a_transaction_postgres_rolled_back_or_whose_session_ended_is_run_again(
    postgres: PostgresDatabase, error: Exception
) -> None:
    work = Flaky(error)
    assert await retrying(work, postgres) == "done"
    assert work.calls == 2


@pytest.mark.parametrize(
    "error",
    [
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.DiskFull("could not extend file: No space left on device"),
        errors.TooManyConnections("sorry, too many clients already"),
        errors.PipelineAborted("pipeline aborted"),
        PoolTimeout("couldn't get a connection after 30.00 sec"),
    ],
    ids=type,
)
async def test_other_operational_errors_of_postgres_fail_at_once(
    postgres: PostgresDatabase, error: Exception
) -> None:
    work = Flaky(error)
    with pytest.raises(type(error)):
        await retrying(work, postgres)
    assert work.calls == 1
