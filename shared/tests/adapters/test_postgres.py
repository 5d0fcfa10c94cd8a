"""The storage ports' contract on PostgreSQL: the stage's tables in a schema of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy import create_engine, text

from cityloop_shared.adapters.postgres import PostgresDatabase
from cityloop_shared.settings import DatabaseSettings
from cityloop_shared.testing.contracts import StorageContract, create_tables


class TestPostgresStorage(StorageContract):
    @pytest_asyncio.fixture
    async def database(self, postgres_url: str, pg_schema: str) -> AsyncIterator[PostgresDatabase]:
        engine = create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(text(f'SET LOCAL search_path TO "{pg_schema}"'))
            create_tables(conn)
        engine.dispose()
        database = PostgresDatabase(DatabaseSettings(url=postgres_url), pg_schema)
        try:
            yield database
        finally:
            await database.dispose()
