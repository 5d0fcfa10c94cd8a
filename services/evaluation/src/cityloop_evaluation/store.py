"""Where evaluation keeps what it judged: a row per case, a row per step round, and the
histories they were judged from (with how far each topic was read).

The case and round rows are always a fold of the histories (:func:`judge`), written in the
transaction that read the events, so they can be dropped and rebuilt from the log at will.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

from cityloop_shared.adapters.sql.tables import Moment
from cityloop_shared.runtime.timeline import timeline_tables

metadata = MetaData()

TIMELINE = timeline_tables(metadata)

evaluated_cases = Table(
    "evaluated_cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("site", String(6), nullable=False),
    Column("district", String(6), doc="The grid's district (区): the region at the top"),
    Column("street", String(9), doc="街道: the first 9 digits of the grid code"),
    Column("community", String(12), doc="社区: the first 12 digits"),
    Column("grid_code", String(15)),
    Column("channel", String(16)),
    Column("reported_by", String(128)),
    Column("category_kind", String(16)),
    Column("major", String(2), doc="The category's major class (大类)"),
    Column("category_code", String(5)),
    Column("level", String(16)),
    Column("self_handled", Boolean, nullable=False),
    Column("reported_at", Moment, nullable=False),
    Column("accepted_at", Moment),
    Column("verified", Boolean),
    Column("registered_at", Moment),
    Column("registered_by", String(128)),
    Column("dispatched_at", Moment),
    Column("department_id", String(64)),
    Column("handled_at", Moment),
    Column("handled_on_time", Boolean, doc="Every round of handling on time"),
    Column("closed_at", Moment),
    Column("closed_by", String(128)),
    Column("closed_on_time", Boolean),
    Column("cancelled_at", Moment),
    Column("voided_at", Moment),
    Column("overall_due_at", Moment),
    Column("suspended_at", Moment),
    Column("returns", Integer, nullable=False),
    Column("extensions", Integer, nullable=False),
    Column("suspensions", Integer, nullable=False),
    Column("reworks", Integer, nullable=False),
    Column("handling_minutes", Float, doc="Working minutes, suspended time left out"),
    Column("satisfaction", Integer),
    Index("ix_evaluated_cases_reported_at", "reported_at"),
    Index("ix_evaluated_cases_registered_at", "registered_at"),
)

step_rounds = Table(
    "step_rounds",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("step", String(16), primary_key=True),
    Column("round", Integer, primary_key=True),
    Column("site", String(6), nullable=False),
    Column("district", String(6)),
    Column("actor_id", String(128)),
    Column("department_id", String(64)),
    Column("started_at", Moment, nullable=False),
    Column("due_at", Moment),
    Column("provisional", Boolean, nullable=False),
    Column("ended_at", Moment),
    Column("outcome", String(16)),
    Column("on_time", Boolean),
    Column("reworked", Boolean, nullable=False),
    Column("wrong_dispatch", Boolean, nullable=False),
    Index("ix_step_rounds_step_started_at", "step", "started_at"),
)
