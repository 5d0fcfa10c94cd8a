"""An old casefile database brought to the new shape (revision 0003), on both backends: what
the verification tasks, the voiding requests of open cases, the reports and the registrations
said moves onto the case rows, which load as case files, each case's last change kept as its
``last_occurred_at``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

import cityloop_casefile
from cityloop_casefile.state import CaseFile
from cityloop_casefile.store import cases
from cityloop_shared.adapters import open_database
from cityloop_shared.contract.ids import CaseKind, new_id
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.values import CaseLevel, Urgency
from cityloop_shared.runtime.migrations import upgrade
from cityloop_shared.settings import DatabaseSettings

MIGRATIONS = Path(cityloop_casefile.__path__[0]) / "migrations"
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MOMENT = sa.DateTime(timezone=True)
REGISTRATION = {
    "case_number": "370212C010022026112000001",
    "category": {"standard": "GB/T 47678.5-2026", "kind": "component", "code": "01002"},
    "grid_code": "370212003001001",
    "level": "city",
    "urgency": "urgent",
    "time_limit": {"amount": 2, "unit": "working_hours"},
}
"""A case.registered payload as written before the reshape (no channel yet)."""
REPORTED_EVENT = {
    "channel": "public",
    "category": {"standard": "GB/T 47678.5-2026", "kind": "event", "code": "06001"},
    "description": "暴露垃圾",
}
"""A case.reported payload whose reporter named the category (an event's)."""


async def test_an_old_postgresql_case_file_is_converted(postgres_url: str, pg_schema: str) -> None:
    settings = DatabaseSettings(url=postgres_url, schema_name=pg_schema)
    await check_conversion(settings, settings, pg_schema)


async def test_an_old_sqlite_case_file_is_converted(tmp_path: Path) -> None:
    """SQLite alters a table by copying it (Alembic's batch mode): the rows must survive."""
    file = tmp_path / "casefile.sqlite"
    await check_conversion(
        DatabaseSettings(url=f"sqlite:///{file}"),
        DatabaseSettings(url=f"sqlite+aiosqlite:///{file}"),
        None,
    )


async def check_conversion(
    migrating: DatabaseSettings, serving: DatabaseSettings, schema: str | None
) -> None:
    """Cases in every situation 0003 reads, written as revision 0002 kept them, then loaded
    through the new store after the upgrade."""
    upgrade(migrating, schema or "casefile", MIGRATIONS, revision="0002")
    reported, awaiting, verified, unverified, voiding, closed = (new_id() for _ in range(6))
    engine = sa.create_engine(migrating.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(_old_cases(schema)),
                [
                    _old_case(reported, "reported", changed=1),
                    _old_case(awaiting, "accepted", changed=2),
                    _old_case(verified, "verified", changed=3),
                    _old_case(unverified, "registered", changed=4),
                    _old_case(voiding, "dispatched", changed=5),
                    _old_case(closed, "closed", changed=6),
                ],
            )
            # The registration alone says how urgent the case is and its level; its kind is
            # the reporter's until then.
            conn.execute(
                sa.insert(_old_timeline(schema)),
                [
                    _old_entry(reported, "case.reported", REPORTED_EVENT),
                    _old_entry(awaiting, "case.accepted", {"needs_verification": True}),
                    _old_entry(unverified, "case.reported", REPORTED_EVENT),
                    _old_entry(unverified, "case.accepted", {"needs_verification": False}),
                    _old_entry(unverified, "case.registered", REGISTRATION),
                ],
            )
            # Accepted for verification, the task not sent yet: its row has no supervisor.
            conn.execute(
                sa.insert(_old_table("verification_tasks", schema, "supervisor_id", "confirmed")),
                [
                    {"case_id": awaiting, "supervisor_id": None, "confirmed": None},
                    {"case_id": verified, "supervisor_id": "sv-370212-03", "confirmed": True},
                ],
            )
            # The released service left a request pending when its case closed.
            conn.execute(
                sa.insert(_old_table("void_requests", schema, "requested_by", "reason")),
                [
                    {
                        "case_id": case,
                        "requested_by": "op-1",
                        "reason": "重复立案",
                        "requested_at": AT,
                    }
                    for case in (voiding, closed)
                ],
            )

        upgrade(migrating, schema or "casefile", MIGRATIONS)

        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names(schema=schema))
    finally:
        engine.dispose()
    database = open_database(serving, schema or "casefile")
    try:
        async with database.begin() as uow:
            found = await uow.states(cases, CaseFile).load(
                [reported, awaiting, verified, unverified, voiding, closed]
            )
    finally:
        await database.dispose()

    assert {"verification_tasks", "void_requests"}.isdisjoint(tables)
    assert len(found) == 6
    registered = found[unverified]
    # The registration's kind, not the reporter's.
    assert (registered.urgency, registered.level, registered.category_kind) == (
        Urgency.URGENT,
        CaseLevel.CITY,
        CaseKind.COMPONENT,
    )
    assert found[reported].category_kind is CaseKind.EVENT
    assert found[awaiting].category_kind is None
    # Not registered: the urgency is the acceptance's, which had none before 0003.
    assert {found[case].urgency for case in (reported, awaiting, verified, voiding)} == {
        Urgency.ORDINARY
    }
    assert {found[case].level for case in (reported, awaiting, verified, voiding)} == {None}
    # Not accepted yet: whether it needs verification is still to be judged.
    assert found[reported].needs_verification is None
    # Still to be verified: its registration must keep waiting for the supervisor.
    assert (found[awaiting].needs_verification, found[awaiting].verified) == (True, None)
    assert (
        found[verified].status,
        found[verified].needs_verification,
        found[verified].verifier_id,
        found[verified].verified,
    ) == (CaseStatus.VERIFIED, True, "sv-370212-03", True)
    assert (found[unverified].needs_verification, found[unverified].verified) == (False, None)
    assert (
        found[voiding].void_requested_by,
        found[voiding].void_reason,
        found[voiding].void_requested_at,
    ) == ("op-1", "重复立案", AT)
    assert found[verified].void_requested_by is None
    # Nothing is left to decide once the case closed.
    assert (
        found[closed].void_requested_by,
        found[closed].void_reason,
        found[closed].void_requested_at,
    ) == (None, None, None)
    # Each case's own last change (the old updated_at), not another case's.
    assert [
        found[case].last_occurred_at
        for case in (reported, awaiting, verified, unverified, voiding, closed)
    ] == [AT + timedelta(minutes=changed) for changed in range(1, 7)]


def _old_case(case_id: UUID, status: str, changed: int) -> dict[str, Any]:
    """A case row of revision 0002, last changed ``changed`` minutes after ``AT``."""
    return {
        "case_id": case_id,
        "site": "370212",
        "status": status,
        "channel": "public",
        "grid_code": "370212003001001",
        "overdue": False,
        "last_event_id": new_id(),
        "correlation_id": case_id,
        "reported_at": AT,
        "updated_at": AT + timedelta(minutes=changed),
    }


def _old_entry(case_id: UUID, event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": new_id(),
        "case_id": case_id,
        "event_type": event_type,
        "actor_id": "chief-1",
        "actor_role": "duty_chief",
        "actor_site": "370212",
        "occurred_at": AT,
        "payload": payload,
    }


def _old_cases(schema: str | None) -> sa.TableClause:
    return sa.table(
        "cases",
        sa.column("case_id", sa.Uuid),
        sa.column("site", sa.String),
        sa.column("status", sa.String),
        sa.column("channel", sa.String),
        sa.column("grid_code", sa.String),
        sa.column("overdue", sa.Boolean),
        sa.column("last_event_id", sa.Uuid),
        sa.column("correlation_id", sa.Uuid),
        sa.column("reported_at", MOMENT),
        sa.column("updated_at", MOMENT),
        schema=schema,
    )


def _old_timeline(schema: str | None) -> sa.TableClause:
    return sa.table(
        "timeline",
        sa.column("event_id", sa.Uuid),
        sa.column("case_id", sa.Uuid),
        sa.column("event_type", sa.String),
        sa.column("actor_id", sa.String),
        sa.column("actor_role", sa.String),
        sa.column("actor_site", sa.String),
        sa.column("occurred_at", MOMENT),
        sa.column("payload", sa.JSON),
        schema=schema,
    )


def _old_table(name: str, schema: str | None, *columns: str) -> sa.TableClause:
    """verification_tasks or void_requests: the case, a moment, and text or flag columns."""
    typed = {"confirmed": sa.Boolean()}
    return sa.table(
        name,
        sa.column("case_id", sa.Uuid),
        sa.column("requested_at", MOMENT),
        *(sa.column(column, typed.get(column, sa.String())) for column in columns),
        schema=schema,
    )
