"""Where the city-level projection is kept: each case as the city sees it, every event of it
read from any site's topic, and how far each topic has been read.

The positions are written in the transaction that applies what was read, so a crash at any
moment re-reads from the last position written and applies nothing twice; an event read
again from another copy (a re-sent record) is known by its id and changes nothing.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)

from cityloop_shared.adapters.sql.tables import Moment

metadata = MetaData()

city_cases = Table(
    "city_cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("site", String(6), nullable=False, index=True),
    Column("handled_by", String(6), nullable=False),
    Column("status", String(32), nullable=False, index=True),
    Column("reported_at", Moment, nullable=False),
    Column("updated_at", Moment, nullable=False),
    Column("events", Integer, nullable=False),
    Column("case_number", String(32)),
    Column("channel", String(16)),
    Column("category_code", String(5), index=True),
    Column("grid_code", String(15), index=True),
    Column("level", String(16)),
    Column("urgency", String(16)),
    Column("department_id", String(64), index=True),
    Column("deadline", Moment),
    Column("overdue", Boolean, nullable=False, index=True),
    Column("overdue_steps", JSON, nullable=False),
)

city_timeline = Table(
    "city_timeline",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("case_id", Uuid, nullable=False, index=True),
    Column("event_type", String(64), nullable=False),
    Column("site", String(6), nullable=False),
    Column("occurred_at", Moment, nullable=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("logged_at", Moment, nullable=False, doc="When the emitting site's log took it"),
    Column("applied_at", Moment, nullable=False, doc="When the projection showed it"),
    Column("body", Text, nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)
