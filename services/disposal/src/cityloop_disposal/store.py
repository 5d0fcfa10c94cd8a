"""Where the departments' tasks are kept: the task each case has now, and every department's
list of tasks (待办), returned ones included."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    func,
    select,
)

from cityloop_disposal.state import TO_DO, DisposalCase, TaskState
from cityloop_shared.adapters.sql.tables import Moment, case_record_columns
from cityloop_shared.contract.envelope import CaseEvent
from cityloop_shared.ports.unit_of_work import Reader, UnitOfWork

metadata = MetaData()

disposal_cases = Table(
    "disposal_cases",
    metadata,
    *case_record_columns(),
    Column("department_id", String(64)),
    Column("task_state", String(32)),
    Column("deadline", Moment),
    Column("dispatched_at", Moment),
    Column("accepted_at", Moment),
    Column("completed_at", Moment),
    Column("rework_count", Integer, nullable=False),
    Column("pending_request", String(16)),
    Column("case_number", String(32)),
    Column("category_code", String(5)),
    Column("grid_code", String(15)),
)

tasks = Table(  # 处置任务
    "tasks",
    metadata,
    Column("case_id", Uuid, primary_key=True),
    Column("department_id", String(64), primary_key=True),
    Column("site", String(6), nullable=False),
    Column("state", String(32), nullable=False),
    Column("deadline", Moment, nullable=False),
    Column("dispatched_at", Moment, nullable=False),
    Column("accepted_at", Moment),
    Column("completed_at", Moment),
    Column("rework_count", Integer, nullable=False),
    Column("pending_request", String(16)),
    Column("case_number", String(32)),
    Column("category_code", String(5)),
    Column("grid_code", String(15)),
    Column("updated_at", Moment, nullable=False),
)
Index("tasks_department_state", tasks.c.department_id, tasks.c.state)


def list_task(uow: UnitOfWork, case: DisposalCase, event: CaseEvent) -> None:
    """The department's row of its list follows the task it holds."""
    if case.department_id is None or case.task_state is None:
        return
    assert case.deadline is not None, "a task has a deadline"
    assert case.dispatched_at is not None, "a task was dispatched"
    uow.upsert(
        tasks,
        ("case_id", "department_id"),
        {
            "case_id": case.case_id,
            "department_id": case.department_id,
            "site": case.site,
            "state": case.task_state.value,
            "deadline": case.deadline,
            "dispatched_at": case.dispatched_at,
            "accepted_at": case.accepted_at,
            "completed_at": case.completed_at,
            "rework_count": case.rework_count,
            "pending_request": case.pending_request,
            "case_number": case.case_number,
            "category_code": case.category_code,
            "grid_code": case.grid_code,
            "updated_at": event.occurred_at,
        },
    )


async def task_list(
    reader: Reader,
    *,
    departments: Sequence[str],
    sites: ColumnElement[bool],
    state: TaskState | None,
    now: datetime,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """The departments' tasks, the nearest deadline first: those still to act on, or those in
    ``state``. A task is overdue when its deadline passed while it was still to be done."""
    running = tasks.c.state.in_([TaskState.AWAITING_ACCEPTANCE, TaskState.IN_HAND])
    query = (
        select(
            tasks,
            disposal_cases.c.status.label("case_status"),
            and_(running, tasks.c.deadline < now).label("overdue"),
        )
        .join(disposal_cases, disposal_cases.c.case_id == tasks.c.case_id)
        .where(
            tasks.c.department_id.in_(departments),
            sites,
            tasks.c.state == state.value if state else tasks.c.state.in_(TO_DO),
        )
    )
    total = await reader.scalar(select(func.count()).select_from(query.subquery()))
    rows = await reader.rows(
        query.order_by(tasks.c.deadline, tasks.c.case_id).limit(limit).offset(offset)
    )
    return {"total": total, "tasks": [{**row, "overdue": bool(row["overdue"])} for row in rows]}
