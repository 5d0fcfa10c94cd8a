"""The storage ports' contract on SQLite: the stage's tables in a file of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from sqlalchemy import create_engine

from cityloop_shared.adapters.sqlite import SQLiteDatabase
from cityloop_shared.settings import DatabaseSettings
from cityloop_shared.testing.contracts import StorageContract, create_tables


class TestSQLiteStorage(StorageContract):
    @pytest_asyncio.fixture
    async def database(self, tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
        file = tmp_path / "stage.sqlite"
        engine = create_engine(f"sqlite:///{file}")
        with engine.begin() as conn:
            create_tables(conn)
        engine.dispose()
        database = SQLiteDatabase(DatabaseSettings(url=f"sqlite+aiosqlite:///{file}"))
        try:
            yield database
        finally:
            await database.dispose()
