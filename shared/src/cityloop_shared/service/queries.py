"""Case queries every service answers from its projection: detail with timeline, and lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import func, select

from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.codec import redact
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.registry import payload_model
from cityloop_shared.contract.sites import SiteLevel, city_of, site_level
from cityloop_shared.contract.values import GridCode
from cityloop_shared.service.auth import CurrentActor, require_site
from cityloop_shared.service.commands import service_runtime
from cityloop_shared.store.tables import CHAIN_HEAD_COLUMNS, cases, timeline

router = APIRouter(prefix="/cases", tags=["cases"])

_CASE = select(*(column for column in cases.columns if column.name not in CHAIN_HEAD_COLUMNS))
"""The case as queries show it: its columns without the service's bookkeeping."""

SEES_PERSONAL_DATA = frozenset({Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF})
"""The supervision centre, which calls reporters back; everyone else sees timelines without
the public's names, phones and emails."""


@router.get("/{case_id}")
async def case_detail(case_id: UUID, actor: CurrentActor, request: Request) -> dict[str, Any]:
    """The case as this service sees it, with its full timeline: who, what, when, why."""
    async with service_runtime(request).engine.connect() as conn:
        row = (await conn.execute(_CASE.where(cases.c.case_id == case_id))).mappings().first()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no case {case_id}")
        require_site(actor, row["site"])
        entries = (
            await conn.execute(
                select(timeline)
                .where(timeline.c.case_id == case_id)
                .order_by(timeline.c.occurred_at, timeline.c.event_id)
            )
        ).mappings()
        shown = dict if actor.role in SEES_PERSONAL_DATA else _without_personal_data
        return {**row, "timeline": [shown(entry) for entry in entries]}


def _without_personal_data(entry: Mapping[Any, Any]) -> dict[str, Any]:
    payload = redact(payload_model(entry["event_type"]).model_validate(entry["payload"]))
    return {**entry, "payload": payload.model_dump(mode="json")}


@router.get("")
async def case_list(
    actor: CurrentActor,
    request: Request,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    grid_code: GridCode | None = None,
    category_code: Annotated[str | None, Query(pattern=r"^\d{4,5}$")] = None,
    department_id: str | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Cases of the actor's site (a city actor sees the whole city), newest first."""
    query = _CASE
    if site_level(actor.site) is SiteLevel.CITY:
        query = query.where(cases.c.site.like(f"{city_of(actor.site)[:4]}%"))
    else:
        query = query.where(cases.c.site == actor.site)
    filters = {
        "status": status_.value if status_ else None,
        "grid_code": grid_code,
        "category_code": category_code,
        "department_id": department_id,
        "overdue": overdue,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(cases.c[column] == value)
    async with service_runtime(request).engine.connect() as conn:
        total = await conn.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await conn.execute(
                query.order_by(cases.c.reported_at.desc()).limit(limit).offset(offset)
            )
        ).mappings()
        return {"total": total, "cases": [dict(row) for row in rows]}
