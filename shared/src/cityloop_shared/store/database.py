"""Engines bound to one service's schema."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cityloop_shared.settings import DatabaseSettings


def service_engine(settings: DatabaseSettings, schema: str) -> AsyncEngine:
    """An engine whose unqualified tables live in ``schema`` (PostgreSQL) or the file (SQLite)."""
    is_sqlite = settings.url.startswith("sqlite")
    return create_async_engine(
        settings.url,
        pool_pre_ping=not is_sqlite,
        execution_options={"schema_translate_map": {None: None if is_sqlite else schema}},
    )
