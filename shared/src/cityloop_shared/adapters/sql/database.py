"""What every SQL backend of a stage's database shares; the backends say what differs."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.sql import Executable

from cityloop_shared.ports.unit_of_work import Database, RecordConflict

READING = "cityloop_reading"
"""Marks a connection that only reads: a backend may begin its transactions more lightly."""


class SqlDatabase(Database):
    def is_transient(self, error: BaseException) -> bool:
        return isinstance(error, RecordConflict) or self.lost_connection(error)

    @abstractmethod
    def lost_connection(self, error: BaseException) -> bool:
        """Whether the database dropped the connection (its transaction rolled back)."""

    @abstractmethod
    def upsert(self, table: Table, key: tuple[str, ...]) -> Executable:
        """``INSERT … ON CONFLICT (key) DO UPDATE`` of every other column, built once."""


def on_conflict_update(insert: Any, table: Table, key: Sequence[str]) -> Executable:
    """The upsert both backends spell alike, from their own ``insert`` construct."""
    statement = insert(table)
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name not in key
        },
    )
    return upsert
