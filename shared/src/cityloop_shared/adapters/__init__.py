"""Adapters of the storage ports: the SQL they share (:mod:`.sql`, SQLAlchemy Core), and one
module per backend for what differs — :mod:`.postgres` (a schema of its own, pipelined
writes, row locks) and :mod:`.sqlite` (a file of its own, one writer at a time).

:func:`open_database` picks the backend from the database URL; services never name one.
"""

from __future__ import annotations

from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.settings import DatabaseSettings


def open_database(settings: DatabaseSettings, schema: str) -> Database:
    """The database of a stage: ``schema`` names its PostgreSQL schema (ignored by SQLite,
    whose file is the stage's alone)."""
    if settings.url.startswith("sqlite"):
        from cityloop_shared.adapters.sqlite import SQLiteDatabase

        return SQLiteDatabase(settings)
    from cityloop_shared.adapters.postgres import PostgresDatabase

    return PostgresDatabase(settings, schema)
