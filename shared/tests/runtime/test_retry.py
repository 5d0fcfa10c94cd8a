"""Which failures a command or batch is run again for, on each backend."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from cityloop_shared.ports.unit_of_work import Database, RecordConflict
from cityloop_shared.runtime.service import retrying


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
        return psycopg.OperationalError("server closed the connection unexpectedly")
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
