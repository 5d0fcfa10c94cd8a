"""Each service's migrations build exactly the tables its code reads and writes, on PostgreSQL
and on SQLite, and carry an existing database's books over to the current shape.

Revisions are frozen once released, so this fails when a table definition changes without a
new revision that makes the change on databases already running.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, Table, create_engine, select, text

from cityloop_deploy.fleet import WORKFLOW_STAGES
from cityloop_shared.adapters.sql.tables import metadata as shared_metadata
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings


def tables_in_use(stage: str) -> MetaData:
    """The shared tables and the service's own, as its code defines them now."""
    in_use = MetaData()
    own: MetaData = importlib.import_module(f"cityloop_{stage}.store").metadata
    for table in [*shared_metadata.tables.values(), *own.tables.values()]:
        table.to_metadata(in_use)
    return in_use


def migrations(stage: str) -> Path:
    return Path(importlib.import_module(f"cityloop_{stage}").__path__[0]) / "migrations"


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database URL and the schema a service's tables go in, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stage.sqlite'}", "main"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    yield postgres_url, request.getfixturevalue("pg_schema")


def connect(url: str, schema: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            yield conn
    finally:
        engine.dispose()


@pytest.mark.parametrize("stage", WORKFLOW_STAGES)
def test_migrations_build_the_tables_the_service_uses(
    stage: str, database: tuple[str, str]
) -> None:
    url, schema = database
    upgrade(DatabaseSettings(url=url), schema, migrations(stage))
    for conn in connect(url, schema):
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, tables_in_use(stage)) == []


NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REGISTERED_AT = NOW - timedelta(hours=1)
NUMBER = "370212E060012026112000001"
CATEGORY = {"standard": "GB/T 47678.5-2026", "kind": "event", "code": "06001"}
"""The registration's category; the public reporter guessed another (a component's)."""
REPORTED_CATEGORY = {"standard": "GB/T 47678.5-2026", "kind": "component", "code": "01002"}


def _case_row(case_id: UUID) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "site": "370212",
        "status": "dispatched",
        "resume_to": None,
        "case_number": NUMBER,
        "channel": "public",
        "category_code": CATEGORY["code"],
        "grid_code": "370212003001001",
        "department_id": "370212-sanitation",
        "deadline": NOW,
        "overdue": False,
        "last_event_id": uuid4(),
        "correlation_id": uuid4(),
        "reported_at": NOW,
        "updated_at": NOW,
        "chain_sequence": 2,
        "chain_hash": "a" * 64,
    }


_OWN_ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "intake": (
        "reports",
        {
            "channel": "public",
            "category_kind": REPORTED_CATEGORY["kind"],
            "category_code": REPORTED_CATEGORY["code"],
            "lon": 120.45,
            "lat": 36.13,
            "grid_code": "370212003001001",
            "address": None,
            "description": "暴露垃圾",
            "media_url": None,
            "token": "t-1",
            "reported_at": NOW,
        },
    ),
    "casefile": (
        "verification_tasks",
        {"supervisor_id": "sv-1", "requested_at": NOW, "confirmed": True},
    ),
    "dispatch": (
        "dispatch_cases",
        {
            "case_number": NUMBER,
            "category_code": CATEGORY["code"],
            "grid_code": "370212003001001",
            "urgency": "urgent",
            "time_limit_amount": 4,
            "time_limit_unit": "working_hours",
            "suggested_department_id": "370212-sanitation",
            "department_id": "370212-sanitation",
            "dispatch_deadline": NOW,
            "deadline": NOW,
        },
    ),
    "disposal": (
        "tasks",
        {
            "department_id": "370212-sanitation",
            "site": "370212",
            "state": "in_hand",
            "deadline": NOW,
            "dispatched_at": NOW,
            "accepted_at": NOW,
            "completed_at": None,
            "rework_count": 0,
            "pending_request": None,
            "updated_at": NOW,
        },
    ),
    "verification": (
        "check_tasks",
        {"supervisor_id": "sv-1", "requested_at": NOW, "due_at": NOW, "result": None, "rounds": 1},
    ),
}
_TIMELINE: list[tuple[str, datetime, dict[str, Any]]] = [
    (
        "case.reported",
        NOW - timedelta(hours=2),
        {"channel": "public", "category": REPORTED_CATEGORY, "description": "暴露垃圾"},
    ),
    (
        "case.registered",
        REGISTERED_AT,
        {
            "case_number": NUMBER,
            "category": CATEGORY,
            "grid_code": "370212003001001",
            "level": "district",
            "urgency": "urgent",
            "time_limit": {"amount": 4, "unit": "working_hours"},
        },
    ),
]
"""What every stage's projection kept of the case's events, each payload as its JSON."""
_CARRIED: dict[str, dict[str, Any]] = {
    # The registration's category is the case's, whatever the reporter guessed.
    "intake": {
        "category_kind": CATEGORY["kind"],
        "category_code": CATEGORY["code"],
        "case_number": NUMBER,
        "department_id": "370212-sanitation",
        "deadline": NOW,
    },
    "casefile": {"category_kind": CATEGORY["kind"], "urgency": "urgent", "level": "district"},
    # A dispatch and a forwarded feedback name the channel and the whole category.
    "dispatch": {
        "channel": "public",
        "category_standard": CATEGORY["standard"],
        "category_kind": CATEGORY["kind"],
        "category_code": CATEGORY["code"],
        "urgency": "urgent",
        "registered_at": REGISTERED_AT,
        "department_id": "370212-sanitation",
        "deadline": NOW,
    },
    "disposal": {
        "case_number": NUMBER,
        "category_code": CATEGORY["code"],
        "grid_code": "370212003001001",
    },
    # What the check, the call-back (回访) and the case's department come from.
    "verification": {
        "case_number": NUMBER,
        "category_code": CATEGORY["code"],
        "grid_code": "370212003001001",
        "channel": "public",
        "department_id": "370212-sanitation",
    },
}
"""What each stage's record of the case takes from the released projection."""
_RECORD_TABLES = {
    "intake": "reports",
    "casefile": "cases",
    "dispatch": "dispatch_cases",
    "disposal": "disposal_cases",
    "verification": "check_tasks",
}


def _insert(conn: Connection, name: str, row: dict[str, Any]) -> None:
    """A row of a table as the released revision made it (read from the database itself)."""
    table = Table(name, MetaData(), autoload_with=conn)
    if conn.dialect.name == "sqlite":
        # SQLAlchemy keeps a UUID on SQLite as 32 hex digits; the reflected column is text.
        row = {key: value.hex if isinstance(value, UUID) else value for key, value in row.items()}
    conn.execute(table.insert(), row)


@pytest.mark.parametrize("stage", WORKFLOW_STAGES)
def test_a_running_database_keeps_its_books_through_the_reshape(
    stage: str, database: tuple[str, str]
) -> None:
    """A database of the released shape (revision 0002), with a case, its timeline, an
    applied event and a parked one, is upgraded: the case's record, its place in the
    lifecycle, its chain head and what the stage needs of it arrive in the stage's own table,
    and the inbox and parked events keep what they held."""
    url, schema = database
    upgrade(DatabaseSettings(url=url), schema, migrations(stage), revision="0002")
    case_id, applied, waiting = uuid4(), uuid4(), uuid4()
    case = _case_row(case_id)
    table, own = _OWN_ROWS[stage]
    for conn in connect(url, schema):
        _insert(conn, "cases", case)
        _insert(conn, table, {"case_id": case_id, **own})
        for event_type, at, payload in _TIMELINE:
            _insert(
                conn,
                "timeline",
                {
                    "event_id": uuid4(),
                    "case_id": case_id,
                    "event_type": event_type,
                    "actor_id": "chief-1",
                    "actor_role": "duty_chief",
                    "actor_site": "370212",
                    "occurred_at": at,
                    "payload": payload,
                },
            )
        _insert(
            conn,
            "inbox",
            {
                "event_id": applied,
                "case_id": case_id,
                "event_type": "case.dispatched",
                "source": "t/0/1",
                "processed_at": NOW,
            },
        )
        body = json.dumps({"event_id": str(waiting), "case_id": str(case_id)})
        _insert(
            conn,
            "parked",
            {
                "event_id": waiting,
                "awaiting_event_id": uuid4(),
                "source": "t/1/2",
                "body": body,
                "parked_at": NOW,
            },
        )

    upgrade(DatabaseSettings(url=url), schema, migrations(stage))

    for conn in connect(url, schema):
        (record,) = conn.execute(text(f"SELECT * FROM {_RECORD_TABLES[stage]}")).mappings()
        assert UUID(str(record["case_id"])) == case_id
        assert (record["status"], record["chain_sequence"], record["chain_hash"]) == (
            "dispatched",
            2,
            "a" * 64,
        )
        assert UUID(str(record["last_event_id"])) == case["last_event_id"]
        records = tables_in_use(stage).tables[_RECORD_TABLES[stage]]
        carried = conn.execute(select(records)).mappings().one()
        assert {name: carried[name] for name in _CARRIED[stage]} == _CARRIED[stage]
        tracked = conn.execute(text("SELECT event_id, source FROM tracking")).all()
        assert [(UUID(str(e)), s) for e, s in tracked] == [(applied, "t/0/1")]
        parked = conn.execute(text("SELECT event_id, case_id FROM parked")).all()
        assert [(UUID(str(e)), UUID(str(c))) for e, c in parked] == [(waiting, case_id)]
