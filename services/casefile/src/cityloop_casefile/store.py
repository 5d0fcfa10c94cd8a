"""Where the case file is kept: the case rows, each case's timeline, and the site's case
numbers of the day."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    insert,
    select,
    update,
)

from cityloop_casefile.state import CaseFile
from cityloop_shared.adapters.sql.tables import Moment, case_record_columns
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.ports.unit_of_work import UnitOfWork

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    *case_record_columns(),
    Column("case_number", String(32), unique=True),
    Column("channel", String(16)),
    Column("category_kind", String(16)),
    Column("category_code", String(5), index=True),
    Column("grid_code", String(15), index=True),
    Column("urgency", String(16), nullable=False),
    Column("level", String(16)),
    Column("needs_verification", Boolean),
    Column("verifier_id", String(128)),
    Column("verified", Boolean),
    Column("department_id", String(64), index=True),
    Column("deadline", Moment),
    Column("overdue", Boolean, nullable=False),
    Column("void_requested_by", String(128)),
    Column("void_reason", String(2000)),
    Column("void_requested_at", Moment),
    Column("reported_at", Moment, nullable=False),
)
Index("ix_cases_status", cases.c.status)

timeline = Table(
    "timeline",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("event_type", String(64), nullable=False),
    Column("actor_id", String(128), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("actor_site", String(6), nullable=False),
    Column("occurred_at", Moment, nullable=False),
    Column("payload", JSON, nullable=False),
)
"""Who did what to the case, when, and why (the payload): every event of the case."""

case_number_sequences = Table(
    "case_number_sequences",
    metadata,
    Column("day", Date, primary_key=True),
    Column("last_sequence", Integer, nullable=False),
)

_LAST_SEQUENCE = (
    select(case_number_sequences.c.last_sequence)
    .where(case_number_sequences.c.day == bindparam("day"))
    .with_for_update()
)
_FIRST_OF_DAY = insert(case_number_sequences)
_NEXT_OF_DAY = (
    update(case_number_sequences)
    .where(case_number_sequences.c.day == bindparam("sequence_day"))
    .values(last_sequence=bindparam("last_sequence"))
)


def record_timeline(uow: UnitOfWork, case: CaseFile, event: CaseEvent) -> None:
    uow.insert(timeline, [timeline_entry(event)])


def timeline_entry(event: CaseEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "event_type": event.event_type,
        "actor_id": event.actor.id,
        "actor_role": event.actor.role.value,
        "actor_site": event.actor.site,
        "occurred_at": event.occurred_at,
        "payload": event.payload.model_dump(mode="json"),
    }


async def next_case_sequence(uow: UnitOfWork, day: date) -> int:
    """The site's next case number of the day. The day's row stays locked until the
    transaction ends, which serialises registrations; one refused after this gives its number
    back with its transaction."""
    current = await uow.scalar(_LAST_SEQUENCE, {"day": day})
    if current is None:
        uow.write(_FIRST_OF_DAY, {"day": day, "last_sequence": 1})
        return 1
    uow.write(_NEXT_OF_DAY, {"sequence_day": day, "last_sequence": current + 1})
    return int(current) + 1
