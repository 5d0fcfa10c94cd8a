"""The casefile service's own tables, beside the shared ones."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, Uuid

metadata = MetaData()

verification_tasks = Table(  # 核实任务
    "verification_tasks",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    # Written at acceptance of a report that needs verification; the supervisor and time
    # are set when the task is sent, ``confirmed`` when the supervisor reports.
    Column("supervisor_id", String(128)),
    Column("requested_at", DateTime(timezone=True)),
    Column("confirmed", Boolean),
)

void_requests = Table(
    "void_requests",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("requested_by", String(128), nullable=False),
    Column("reason", String(2000), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)

case_number_sequences = Table(
    "case_number_sequences",
    metadata,
    Column("day", Date, primary_key=True),
    Column("last_sequence", Integer, nullable=False),
)
