"""Engines bound to one service's schema."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cityloop_shared.settings import DatabaseSettings


def service_engine(settings: DatabaseSettings, schema: str) -> AsyncEngine:
    """An engine whose unqualified tables live in ``schema`` (PostgreSQL) or the file (SQLite).

    Connections are not pinged on checkout: that would be one more round trip for every
    command and batch. A connection the server dropped fails its transaction instead, the
    pool is refreshed, and :func:`~cityloop_shared.service.runtime.retry_transient` runs the
    work again.
    """
    if settings.url.startswith("sqlite"):
        return create_async_engine(settings.url)
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_overflow,
        execution_options={"schema_translate_map": {None: schema}},
    )
