"""The city-level projection over HTTP: every case of every district, by district, status,
category, department, grid and overdue, each with its whole timeline; statistics by
district, department or status.

The city supervision centre (监督中心), the command centre and leaders of the city see every
case at any time (市监督中心都能随时对每个具体案卷的办理进度进行监督); a district's centre
sees its own; a department the cases dispatched to it, an upper-level department
(上级专业部门) those of the departments below it, across levels. Field supervisors and the
public see none of it (:mod:`cityloop_shared.runtime.visibility`). The timelines carry no
payloads, so nothing of the public's personal data.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from sqlalchemy import ColumnElement, String, case, cast, func, literal, select

from cityloop_shared.contract.actors import Actor
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.values import ClockStep, GridCode
from cityloop_shared.ports.unit_of_work import Database
from cityloop_shared.reference.bundle import ReferenceData
from cityloop_shared.runtime.auth import CurrentActor
from cityloop_shared.runtime.paging import Offset
from cityloop_shared.runtime.visibility import CaseColumns, visible_cases
from cityloop_shared.stage.decisions import Forbidden, Invalid, NotFound
from cityloop_sync.store import city_cases, city_timeline

router = APIRouter(tags=["city projection"])

GROUPS = {
    "site": city_cases.c.site,
    "department_id": city_cases.c.department_id,
    "status": city_cases.c.status,
    "category_code": city_cases.c.category_code,
}


def _database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def _reference(request: Request) -> ReferenceData:
    reference: ReferenceData = request.app.state.reference
    return reference


_COLUMNS = CaseColumns(site=city_cases.c.site, department_id=city_cases.c.department_id)


def visible(actor: Actor, reference: ReferenceData) -> ColumnElement[bool]:
    """The cases the actor may see."""
    return visible_cases(actor, reference, _COLUMNS)


@router.get("/cases")
async def city_case_list(
    actor: CurrentActor,
    request: Request,
    district: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    category_code: Annotated[str | None, Query(pattern=r"^\d{4,5}$")] = None,
    department_id: Annotated[str | None, Query(max_length=64)] = None,
    grid_code: GridCode | None = None,
    overdue: bool | None = None,
    handled_by: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    overdue_step: ClockStep | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Cases of every district the actor sees, newest first. ``overdue_step=dispatch`` lists
    the cases a command centre let pass their dispatch time limit: the supervision centre's
    watch on dispatching (监督中心对指挥中心派遣的监督)."""
    query = select(city_cases).where(visible(actor, _reference(request)))
    filters = {
        "site": district,
        "status": status_.value if status_ else None,
        "category_code": category_code,
        "department_id": department_id,
        "grid_code": grid_code,
        "overdue": overdue,
        "handled_by": handled_by,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(city_cases.c[column] == value)
    if overdue_step is not None:
        steps = cast(city_cases.c.overdue_steps, String)
        query = query.where(steps.like(f'%"{overdue_step.value}"%'))
    async with _database(request).reading() as reader:
        total = await reader.scalar(select(func.count()).select_from(query.subquery()))
        rows = await reader.rows(
            query.order_by(city_cases.c.reported_at.desc(), city_cases.c.case_id)
            .limit(limit)
            .offset(offset)
        )
    return {"total": total, "cases": [dict(row) for row in rows]}


@router.get("/cases/{case_id}")
async def city_case(case_id: UUID, actor: CurrentActor, request: Request) -> dict[str, Any]:
    """One case with its whole timeline across the sites, in the order it happened."""
    seen = visible(actor, _reference(request))
    query = select(city_cases, seen.label("seen")).where(city_cases.c.case_id == case_id)
    async with _database(request).reading() as reader:
        found = await reader.rows(query)
        if not found:
            raise NotFound(f"the city projection holds no case {case_id}")
        shown = dict(found[0])
        if not shown.pop("seen"):
            raise Forbidden(f"case {case_id} is not among the cases {actor.id} may see")
        entries = await reader.rows(
            select(
                *(c for c in city_timeline.columns if c.name != "body"),
            )
            .where(city_timeline.c.case_id == case_id)
            .order_by(city_timeline.c.occurred_at, city_timeline.c.logged_at)
        )
    return {**shown, "timeline": [dict(entry) for entry in entries]}


@router.get("/statistics")
async def statistics(
    actor: CurrentActor,
    request: Request,
    by: Annotated[str, Query(description="site, department_id, status or category_code")] = "site",
) -> dict[str, Any]:
    """Counts of the cases the actor sees: all, open, closed, overdue, by one column."""
    column = GROUPS.get(by)
    if column is None:
        raise Invalid(
            ("by",), f"group by one of {', '.join(GROUPS)}", "invalid_group", where="query"
        )
    closed = city_cases.c.status == CaseStatus.CLOSED.value
    ended = city_cases.c.status.in_(
        [CaseStatus.CLOSED.value, CaseStatus.CANCELLED.value, CaseStatus.VOIDED.value]
    )
    query = (
        select(
            column.label("key"),
            func.count().label("cases"),
            func.sum(_flag(~ended)).label("open"),
            func.sum(_flag(closed)).label("closed"),
            func.sum(_flag(city_cases.c.overdue)).label("overdue"),
        )
        .where(visible(actor, _reference(request)))
        .group_by(column)
        .order_by(column)
    )
    async with _database(request).reading() as reader:
        rows = await reader.rows(query)
    return {
        "by": by,
        "groups": [{k: (v or 0) if k != "key" else v for k, v in r.items()} for r in rows],
    }


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, literal(1)), else_=literal(0))
