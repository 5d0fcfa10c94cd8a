"""The verification service's own tables, beside the shared ones."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid

metadata = MetaData()


class CheckResult(StrEnum):
    """How a check task ended; a pending task has no result."""

    PASSED = "passed"
    FAILED = "failed"
    VOIDED = "voided"
    """The case was voided while the check was pending."""


check_tasks = Table(  # 核查任务
    "check_tasks",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    # One row a case: each forwarded feedback opens the next round on the same row, so
    # ``rounds`` counts how often the result had to be checked (rework makes it grow).
    Column("supervisor_id", String(128), nullable=False, index=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("result", String(16)),
    Column("rounds", Integer, nullable=False),
)
