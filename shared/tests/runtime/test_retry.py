"""Which database failures a command or batch is run again for, on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from cityloop_shared.ports.unit_of_work import Database
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


def dropped_connection() -> DBAPIError:
    return DBAPIError(
        "SELECT 1", None, Exception("server closed the connection"), connection_invalidated=True
    )


def duplicate_key() -> IntegrityError:
    return IntegrityError("INSERT", None, Exception("duplicate key"))


async def test_a_lost_race_on_a_unique_row_is_run_again(database: Database) -> None:
    work = Flaky(duplicate_key())
    assert await retrying(work, database) == "done"
    assert work.calls == 2


async def test_a_dropped_connection_is_run_again_on_a_fresh_one(database: Database) -> None:
    work = Flaky(dropped_connection(), dropped_connection())
    assert await retrying(work, database) == "done"
    assert work.calls == 3


async def test_any_other_error_fails_at_once(database: Database) -> None:
    work = Flaky(DBAPIError("SELECT nonsense", None, Exception("syntax error")))
    with pytest.raises(DBAPIError, match="syntax error"):
        await retrying(work, database)
    assert work.calls == 1


async def test_a_conflict_that_keeps_happening_fails_after_the_last_attempt(
    database: Database,
) -> None:
    work = Flaky(*(duplicate_key() for _ in range(5)))
    with pytest.raises(IntegrityError):
        await retrying(work, database, attempts=5)
    assert work.calls == 5
