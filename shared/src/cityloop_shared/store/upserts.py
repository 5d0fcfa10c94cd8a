"""``INSERT … ON CONFLICT DO UPDATE`` on PostgreSQL and SQLite alike, built once per table."""

from __future__ import annotations

import functools

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Executable


@functools.cache
def upsert(
    dialect: str, table: Table, key: tuple[str, ...], adding: tuple[str, ...] = ()
) -> Executable:
    """Insert a whole row; if its ``key`` is taken, the new row's values replace the old
    row's, except that columns in ``adding`` add the new value to the old.

    Executed with a value for every column: a column left out would be replaced by NULL.
    """
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(key),
        set_={
            column.name: (
                column + statement.excluded[column.name]
                if column.name in adding
                else statement.excluded[column.name]
            )
            for column in table.columns
            if column.name not in key
        },
    )
