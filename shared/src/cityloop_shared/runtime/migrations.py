"""Each service's schema is migrated by Alembic from the service's own ``migrations/`` folder.

A service's ``migrations/env.py`` is one call to :func:`run_env`; its first revision creates
the shared tables (:mod:`cityloop_shared.adapters.sql.tables`) and its own.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, create_engine, make_url, text

from cityloop_shared.settings import DatabaseSettings


def upgrade(
    settings: DatabaseSettings, schema: str, migrations: Path, revision: str = "head"
) -> None:
    """Bring ``schema`` to ``revision`` (the newest by default); safe to run at every start."""
    url = make_url(settings.url)
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite")  # Alembic runs on the standard library's driver
    engine = create_engine(url)
    is_sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.begin() as conn:
            if not is_sqlite:
                # Replicas starting together must not migrate at the same time.
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                # Alembic's ALTERs name tables without a schema: they must land in this one.
                conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            config = Config()
            config.set_main_option("script_location", str(migrations))
            config.attributes["connection"] = conn
            config.attributes["schema"] = None if is_sqlite else schema
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def run_env() -> None:
    """The body of every service's ``migrations/env.py``."""
    connection: Connection = context.config.attributes["connection"]
    schema: str | None = context.config.attributes["schema"]
    context.configure(
        connection=connection.execution_options(schema_translate_map={None: schema}),
        version_table_schema=schema,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
