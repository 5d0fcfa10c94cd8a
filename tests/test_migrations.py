"""Each service's migrations build exactly the tables its code reads and writes.

Revisions are frozen once released, so this fails when a table definition changes without
a new revision that makes the change on databases already running.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, text

from cityloop_deploy.fleet import WORKFLOW_STAGES
from cityloop_shared.service.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings
from cityloop_shared.store.tables import metadata as shared_metadata


def tables_in_use(stage: str) -> MetaData:
    """The shared tables and the service's own, as its code defines them now."""
    in_use = MetaData()
    own: MetaData = importlib.import_module(f"cityloop_{stage}.tables").metadata
    for table in [*shared_metadata.tables.values(), *own.tables.values()]:
        table.to_metadata(in_use)
    return in_use


@pytest.mark.parametrize("stage", WORKFLOW_STAGES)
def test_migrations_build_the_tables_the_service_uses(
    stage: str, postgres_url: str, pg_schema: str
) -> None:
    package = importlib.import_module(f"cityloop_{stage}")
    migrations = Path(package.__path__[0]) / "migrations"
    upgrade(DatabaseSettings(url=postgres_url), pg_schema, migrations)

    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'SET search_path TO "{pg_schema}"'))
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, tables_in_use(stage))
    finally:
        engine.dispose()

    assert differences == []
