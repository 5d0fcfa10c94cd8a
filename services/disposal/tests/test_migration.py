"""Revision 0003 carries a running disposal database's task lists into the new shape.

The released service closed a department's completed task when the case closed (结案); now a
completed task stays ``completed`` and ``closed`` means the case was voided (作废) while with
the department. A database of the released shape must read the same way after the upgrade.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import Connection, MetaData, Table, create_engine, text

import cityloop_disposal
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings

MIGRATIONS = Path(cityloop_disposal.__path__[0]) / "migrations"
STREET_1 = "370212-street-001"
STREET_2 = "370212-street-002"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
_numbers = iter(range(1, 100))


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database URL and the schema disposal's tables go in, on each backend it runs on."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'disposal.sqlite'}", "main"
        return
    yield request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema")


def connect(url: str, schema: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            yield conn
    finally:
        engine.dispose()


def insert(conn: Connection, name: str, row: dict[str, Any]) -> None:
    """A row of a table as the released revision made it (read from the database itself)."""
    table = Table(name, MetaData(), autoload_with=conn)
    if conn.dialect.name == "sqlite":
        # SQLAlchemy keeps a UUID on SQLite as 32 hex digits; the reflected column is text.
        row = {key: value.hex if isinstance(value, UUID) else value for key, value in row.items()}
    conn.execute(table.insert(), row)


def old_case(conn: Connection, status: str, *tasks: tuple[str, str]) -> UUID:
    """A case of the released projection and its tasks ``(department, state)``, oldest first."""
    case_id = uuid4()
    insert(
        conn,
        "cases",
        {
            "case_id": case_id,
            "site": "370212",
            "status": status,
            "resume_to": None,
            "case_number": f"370212E0600120261120{next(_numbers):05d}",
            "channel": "supervisor",
            "category_code": "06001",
            "grid_code": "370212003001001",
            "department_id": tasks[-1][0],
            "deadline": T0 + timedelta(days=2),
            "overdue": False,
            "last_event_id": uuid4(),
            "correlation_id": uuid4(),
            "reported_at": T0,
            "updated_at": T0,
            "chain_sequence": 2,
            "chain_hash": "a" * 64,
        },
    )
    for hours, (department_id, state) in enumerate(tasks, start=1):
        at = T0 + timedelta(hours=hours)
        insert(
            conn,
            "tasks",
            {
                "case_id": case_id,
                "department_id": department_id,
                "site": "370212",
                "state": state,
                "deadline": T0 + timedelta(days=2),
                "dispatched_at": at,
                "accepted_at": at if state != "returned" else None,
                "completed_at": at if state == "closed" else None,
                "rework_count": 0,
                "pending_request": None,
                "updated_at": at,
            },
        )
    return case_id


def test_a_task_closed_with_its_case_is_completed_after_the_upgrade(
    database: tuple[str, str],
) -> None:
    url, schema = database
    settings = DatabaseSettings(url=url)
    upgrade(settings, schema, MIGRATIONS, revision="0002")
    for conn in connect(url, schema):
        closed = old_case(conn, "closed", (STREET_1, "closed"))
        voided = old_case(conn, "voided", (STREET_1, "closed"))
        handed_on = old_case(conn, "closed", (STREET_1, "returned"), (STREET_2, "closed"))
        in_hand = old_case(conn, "in_disposal", (STREET_1, "in_hand"))

    upgrade(settings, schema, MIGRATIONS)

    for conn in connect(url, schema):
        listed = {
            (UUID(str(case_id)), department_id): state
            for case_id, department_id, state in conn.execute(
                text("SELECT case_id, department_id, state FROM tasks")
            ).all()
        }
        held = {
            UUID(str(case_id)): (department_id, task_state, case_number)
            for case_id, department_id, task_state, case_number in conn.execute(
                text("SELECT case_id, department_id, task_state, case_number FROM disposal_cases")
            ).all()
        }
    assert listed == {
        (closed, STREET_1): "completed",
        (voided, STREET_1): "closed",
        (handed_on, STREET_1): "returned",
        (handed_on, STREET_2): "completed",
        (in_hand, STREET_1): "in_hand",
    }
    assert {case_id: held[case_id][:2] for case_id in held} == {
        closed: (STREET_1, "completed"),
        voided: (STREET_1, "closed"),
        handed_on: (STREET_2, "completed"),
        in_hand: (STREET_1, "in_hand"),
    }
    # The case's facts come along from the released projection, for the list to show.
    assert all(number and number.startswith("370212E06001") for *_, number in held.values())
