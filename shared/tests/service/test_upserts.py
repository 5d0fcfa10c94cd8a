"""``upsert``: one statement inserts a row or replaces it, adding where asked."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, select

from cityloop_shared.store.upserts import upsert

metadata = MetaData()
tallies = Table(
    "tallies",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("holder", String(16), nullable=False),
    Column("count", Integer, nullable=False),
)


def assert_upserts(engine: Engine) -> None:
    with engine.begin() as conn:
        metadata.create_all(conn)
        statement = upsert(conn.dialect.name, tallies, ("name",), adding=("count",))
        conn.execute(statement, {"name": "rework", "holder": "street-1", "count": 0})
        conn.execute(statement, {"name": "rework", "holder": "street-2", "count": 1})
        conn.execute(statement, {"name": "rework", "holder": "street-2", "count": 1})
        conn.execute(statement, {"name": "other", "holder": "street-9", "count": 5})

    with engine.connect() as conn:
        rows = conn.execute(select(tallies).order_by(tallies.c.name)).all()
    assert rows == [("other", "street-9", 5), ("rework", "street-2", 2)]


def test_a_taken_key_replaces_the_row_and_adds_on_postgresql(
    postgres_url: str, pg_schema: str
) -> None:
    engine = create_engine(
        postgres_url, execution_options={"schema_translate_map": {None: pg_schema}}
    )
    try:
        assert_upserts(engine)
    finally:
        engine.dispose()


def test_a_taken_key_replaces_the_row_and_adds_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'tallies.db'}")
    try:
        assert_upserts(engine)
    finally:
        engine.dispose()
