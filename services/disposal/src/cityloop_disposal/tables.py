"""The disposal service's own tables, beside the shared ones: each department's tasks."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

metadata = MetaData()


class TaskState(StrEnum):
    """Where a dispatched case stands on its department's to-do list (待办)."""

    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    """待签收: dispatched, re-dispatched or sent back for rework."""
    IN_HAND = "in_hand"
    """处置中: accepted (签收) and being handled."""
    SUSPENDED = "suspended"
    """挂账: in the problem pool, the clock stopped."""
    COMPLETED = "completed"
    """处置完成: reported back, waiting for the check."""
    RETURNED = "returned"
    """回退: the return was approved; the case left this department."""
    CLOSED = "closed"
    """结案 or 作废: the case ended."""


class PendingRequest(StrEnum):
    """A request of the department the dispatcher has not decided yet."""

    RETURN = "return"
    EXTENSION = "extension"
    SUSPENSION = "suspension"


ENDED: tuple[TaskState, ...] = (TaskState.RETURNED, TaskState.CLOSED)
"""States in which a task has left the department's list."""

tasks = Table(  # 处置任务
    "tasks",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    # A case returned and re-dispatched leaves a returned task with the first department
    # and opens one with the next; a rework reopens the same department's task.
    Column("department_id", String(64), primary_key=True),
    Column("site", String(6), nullable=False),
    Column("state", String(32), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("dispatched_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("rework_count", Integer, nullable=False, default=0),
    Column("pending_request", String(16)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("tasks_department_state", tasks.c.department_id, tasks.c.state)


def is_open() -> ColumnElement[bool]:
    """The task still on its department's list; a case has at most one."""
    return tasks.c.state.not_in([state.value for state in ENDED])
