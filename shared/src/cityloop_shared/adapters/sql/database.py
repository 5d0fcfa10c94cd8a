"""What every SQL backend of a stage's database shares; the backends say what differs."""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table
from sqlalchemy.sql import Executable

from cityloop_shared.ports.unit_of_work import Database, RecordConflict

READING = "cityloop_reading"
"""Marks a connection that only reads: a backend may begin its transactions more lightly."""


class SqlDatabase(Database):
    @staticmethod
    @abstractmethod
    def dialect_insert(table: Table) -> Any:
        """The dialect's own ``insert`` construct, the one with ``on_conflict_do_update``."""

    def is_transient(self, error: BaseException) -> bool:
        return isinstance(error, RecordConflict) or self.lost_transaction(error)

    @abstractmethod
    def lost_transaction(self, error: BaseException) -> bool:
        """Whether the transaction failed for a passing cause: its connection broke, or the
        server rolled it back to settle a deadlock or a serialization conflict."""

    def upsert(self, table: Table, key: tuple[str, ...]) -> Executable:
        """``INSERT … ON CONFLICT (key) DO UPDATE`` of every other column, built once."""
        return _upsert(self.dialect_insert, table, key)


@functools.cache
def _upsert(insert: Callable[[Table], Any], table: Table, key: tuple[str, ...]) -> Executable:
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
