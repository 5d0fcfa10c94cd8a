"""The dispatch service's own tables, beside the shared ones."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid

metadata = MetaData()

dispatch_cases = Table(  # 派遣案卷: registered cases this command centre dispatches
    "dispatch_cases",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("case_number", String(32), nullable=False),
    Column("category_code", String(5), nullable=False),
    Column("grid_code", String(15), nullable=False),
    Column("urgency", String(16), nullable=False),
    # The disposal time limit (处置时限) set at registration: every dispatch, re-dispatch
    # and rework counts it afresh from its own moment.
    Column("time_limit_amount", Integer, nullable=False),
    Column("time_limit_unit", String(16), nullable=False),
    Column("suggested_department_id", String(64)),
    Column("department_id", String(64)),
    Column("dispatch_deadline", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True)),
)
"""``department_id`` is the department holding the case (after a return, the one that gave it
back, until re-dispatch); ``deadline`` is the disposal deadline in force."""


class RequestKind(StrEnum):
    """What a department asks the dispatcher to decide."""

    RETURN = "return"
    """回退: not its responsibility."""
    EXTENSION = "extension"
    """延期: more time, with a proposed deadline."""
    SUSPENSION = "suspension"
    """挂账: into the problem pool, the clock stopped."""


pending_requests = Table(  # 待审批: a department's request awaiting the dispatcher
    "pending_requests",
    metadata,
    # The lifecycle allows one open request per case at a time.
    Column("case_id", Uuid, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("reason", String(2000), nullable=False),
    Column("proposed_deadline", DateTime(timezone=True)),
    Column("requested_by", String(128), nullable=False),
    Column("department_id", String(64)),
    Column("requested_at", DateTime(timezone=True), nullable=False),
)
