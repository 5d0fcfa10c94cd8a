"""Where the city-level projection is kept: each case as the city sees it, every event of it
read from any site's topic, and how far each topic has been read.

The positions are written in the transaction that applies what was read, so a crash at any
moment re-reads from the last position written and applies nothing twice; an event read
again from another copy (a re-sent record) is known by its id and changes nothing.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Integer, MetaData, String, Table, Uuid

from cityloop_shared.adapters.sql.tables import Moment
from cityloop_shared.runtime.timeline import timeline_tables

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

TIMELINE = timeline_tables(metadata, "city_timeline")
city_timeline = TIMELINE.timeline
positions = TIMELINE.positions
