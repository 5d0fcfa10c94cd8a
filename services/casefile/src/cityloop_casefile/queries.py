"""The case queries of the site: a case with its whole timeline, and lists by every filter."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from sqlalchemy import ColumnElement, bindparam, func, select

from cityloop_casefile.store import cases, timeline
from cityloop_shared.adapters.sql.tables import tracking
from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.values import CaseLevel, GridCode
from cityloop_shared.runtime.auth import CurrentActor
from cityloop_shared.runtime.commands import service_runtime
from cityloop_shared.runtime.paging import Offset
from cityloop_shared.runtime.service import ServiceRuntime
from cityloop_shared.runtime.visibility import (
    CASE_READERS,
    CaseColumns,
    payload_for,
    require_reader,
    visible_cases,
)
from cityloop_shared.stage.decisions import Forbidden, NotFound

router = APIRouter(prefix="/cases", tags=["cases"])

_BOOKKEEPING = frozenset(
    {"chain_sequence", "chain_hash", "last_event_id", "last_occurred_at", "resume_to"}
)
_CASE = select(
    *(column for column in cases.columns if column.name not in _BOOKKEEPING),
    cases.c.last_occurred_at.label("updated_at"),
)
"""The case as queries show it: the case file without the stage's bookkeeping, with when it
last changed."""
_ONE = _CASE.where(cases.c.case_id == bindparam("case_id"))
_TIMELINE = (
    select(timeline)
    .join(tracking, tracking.c.event_id == timeline.c.event_id)
    .where(timeline.c.case_id == bindparam("case_id"))
    # When it happened; of one moment, in the order casefile applied them, so a reaction,
    # which takes its cause's moment, comes after its cause.
    .order_by(timeline.c.occurred_at, tracking.c.position)
)

_COLUMNS = CaseColumns(
    site=cases.c.site,
    department_id=cases.c.department_id,
    grid_code=cases.c.grid_code,
    status=cases.c.status,
    verifier_id=cases.c.verifier_id,
)


def _seen(actor: Actor, runtime: ServiceRuntime) -> ColumnElement[bool]:
    """The cases of the site the actor sees, after refusing one who reads none of them."""
    require_reader(actor, runtime.site, CASE_READERS)
    return visible_cases(actor, runtime.reference, _COLUMNS)


@router.get("/{case_id}")
async def case_detail(case_id: UUID, actor: CurrentActor, request: Request) -> dict[str, Any]:
    """The case file, with its full timeline: who, what, when, why. The public's personal
    data only for the supervision centre."""
    runtime = service_runtime(request)
    seen = _seen(actor, runtime)
    async with runtime.database.reading() as reader:
        found = await reader.rows(_ONE.add_columns(seen.label("seen")), {"case_id": case_id})
        if not found:
            # Worded as every stage's commands answer for a case they do not hold.
            raise NotFound(f"casefile holds no case {case_id}")
        case = dict(found[0])
        if not case.pop("seen"):
            raise Forbidden(f"case {case_id} is not among the cases {actor.id} may see")
        entries = await reader.rows(_TIMELINE, {"case_id": case_id})
    return {
        **case,
        "timeline": [
            {**entry, "payload": payload_for(actor, entry["event_type"], entry["payload"])}
            for entry in entries
        ],
    }


@router.get("")
async def case_list(
    actor: CurrentActor,
    request: Request,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    grid_code: GridCode | None = None,
    category_code: Annotated[str | None, Query(pattern=r"^\d{4,5}$")] = None,
    department_id: str | None = None,
    overdue: bool | None = None,
    level: CaseLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The cases of the site the actor sees, newest first: the centres and leaders every one
    (a city actor the whole city's), a department those dispatched to it or below it, a
    field supervisor those waiting for them on site.

    ``level=city&status=registered`` lists the cases registered as a city department's that
    the district has not forwarded yet."""
    runtime = service_runtime(request)
    query = _CASE.where(_seen(actor, runtime))
    filters = {
        "status": status_.value if status_ else None,
        "grid_code": grid_code,
        "category_code": category_code,
        "department_id": department_id,
        "overdue": overdue,
        "level": level.value if level else None,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(cases.c[column] == value)
    async with runtime.database.reading() as reader:
        total = await reader.scalar(select(func.count()).select_from(query.subquery()))
        rows = await reader.rows(
            query.order_by(cases.c.reported_at.desc(), cases.c.case_id).limit(limit).offset(offset)
        )
    return {"total": total, "cases": [dict(row) for row in rows]}
