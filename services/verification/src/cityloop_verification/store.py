"""Where checks are kept, and the supervisors' and the centre's list of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, Integer, MetaData, String, Table, func, select

from cityloop_shared.adapters.sql.tables import Moment, case_record_columns
from cityloop_shared.ports.unit_of_work import Reader

metadata = MetaData()

check_tasks = Table(  # 核查任务
    "check_tasks",
    metadata,
    *case_record_columns(),
    Column("case_number", String(32)),
    Column("category_code", String(5)),
    Column("grid_code", String(15)),
    Column("channel", String(16)),
    Column("department_id", String(64)),
    Column("supervisor_id", String(128), index=True),
    Column("requested_at", Moment),
    Column("due_at", Moment),
    Column("result", String(16)),
    Column("rounds", Integer, nullable=False),
    Column("satisfaction_recorded_at", Moment),
)

_LISTED = [
    c for c in check_tasks.columns if c.name not in ("chain_sequence", "chain_hash", "resume_to")
]


async def check_list(
    reader: Reader,
    *,
    seen: ColumnElement[bool],
    supervisor_id: str | None,
    pending: bool | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """The check tasks the asker sees (``seen``), soonest due first."""
    query = select(*_LISTED).where(check_tasks.c.supervisor_id.is_not(None), seen)
    if supervisor_id is not None:
        query = query.where(check_tasks.c.supervisor_id == supervisor_id)
    if pending is not None:
        result = check_tasks.c.result
        query = query.where(result.is_(None) if pending else result.is_not(None))
    total = await reader.scalar(select(func.count()).select_from(query.subquery()))
    rows = await reader.rows(
        query.order_by(check_tasks.c.due_at, check_tasks.c.case_id).limit(limit).offset(offset)
    )
    return {"total": total, "checks": [dict(row) for row in rows]}
