"""Where the command centre keeps its records, and its work queue (派遣队列)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, and_, select

from cityloop_dispatch.decisions import suggested_department
from cityloop_shared.adapters.sql.tables import Moment, case_record_columns, clocks
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.values import ClockStep
from cityloop_shared.ports.unit_of_work import Reader
from cityloop_shared.reference.bundle import ReferenceData

metadata = MetaData()

dispatch_cases = Table(
    "dispatch_cases",
    metadata,
    *case_record_columns(),
    Column("case_number", String(32)),
    Column("category_standard", String(64)),
    Column("category_kind", String(16)),
    Column("category_code", String(5)),
    Column("grid_code", String(15)),
    Column("channel", String(16)),
    Column("urgency", String(16), nullable=False),
    Column("time_limit_amount", Integer),
    Column("time_limit_unit", String(16)),
    Column("registered_at", Moment),
    Column("department_id", String(64)),
    Column("deadline", Moment),
    Column("suspended_at", Moment),
    Column("request", String(16), index=True),
    Column("request_reason", String(2000)),
    Column("proposed_deadline", Moment),
    Column("requested_by", String(128)),
    Column("requested_at", Moment),
)

_AWAITING = (
    select(dispatch_cases, clocks.c.deadline.label("dispatch_deadline"))
    .outerjoin(
        clocks,
        and_(
            clocks.c.case_id == dispatch_cases.c.case_id,
            clocks.c.step == ClockStep.DISPATCH.value,
        ),
    )
    .where(
        dispatch_cases.c.status.in_(
            [CaseStatus.REGISTERED, CaseStatus.WITH_CITY_COMMAND, CaseStatus.AWAITING_REDISPATCH]
        )
    )
    .order_by(clocks.c.deadline, dispatch_cases.c.case_id)
)
_PENDING = (
    select(dispatch_cases)
    .where(dispatch_cases.c.request.is_not(None))
    .order_by(dispatch_cases.c.requested_at, dispatch_cases.c.case_id)
)


async def queue(reader: Reader, reference: ReferenceData) -> dict[str, list[dict[str, Any]]]:
    """Cases awaiting (re-)dispatch, the nearest dispatch deadline first, each with when it
    was registered and the matrix's suggestion; and departments' requests awaiting a
    decision, oldest first."""
    awaiting = [
        {
            "case_id": row["case_id"],
            "case_number": row["case_number"],
            "status": row["status"],
            "category_code": row["category_code"],
            "grid_code": row["grid_code"],
            "urgency": row["urgency"],
            "registered_at": row["registered_at"],
            "suggested_department_id": suggested_department(
                row["category_code"], row["grid_code"], reference
            ),
            "department_id": row["department_id"],
            "dispatch_deadline": row["dispatch_deadline"],
        }
        for row in await reader.rows(_AWAITING)
    ]
    pending = [
        {
            "case_id": row["case_id"],
            "case_number": row["case_number"],
            "status": row["status"],
            "kind": row["request"],
            "reason": row["request_reason"],
            "proposed_deadline": row["proposed_deadline"],
            "requested_by": row["requested_by"],
            "requested_at": row["requested_at"],
            "department_id": row["department_id"],
            "deadline": row["deadline"],
        }
        for row in await reader.rows(_PENDING)
    ]
    return {"awaiting_dispatch": awaiting, "pending_decisions": pending}
