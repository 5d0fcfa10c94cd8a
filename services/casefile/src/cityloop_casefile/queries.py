"""The case queries of the site: a case with its whole timeline, and lists by every filter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from sqlalchemy import bindparam, func, select

from cityloop_casefile.store import cases, timeline
from cityloop_shared.adapters.sql.tables import tracking
from cityloop_shared.contract.actors import Role
from cityloop_shared.contract.codec import redact
from cityloop_shared.contract.lifecycle import CaseStatus
from cityloop_shared.contract.registry import payload_model
from cityloop_shared.contract.values import CaseLevel, GridCode
from cityloop_shared.runtime.auth import CurrentActor, require_site, visible_sites
from cityloop_shared.runtime.commands import service_runtime
from cityloop_shared.stage.decisions import NotFound

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

SEES_PERSONAL_DATA = frozenset({Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF})
"""The supervision centre, which calls reporters back; everyone else sees timelines without
the public's names, phones and emails."""


@router.get("/{case_id}")
async def case_detail(case_id: UUID, actor: CurrentActor, request: Request) -> dict[str, Any]:
    """The case file, with its full timeline: who, what, when, why."""
    async with service_runtime(request).database.reading() as reader:
        found = await reader.rows(_ONE, {"case_id": case_id})
        if not found:
            # Worded as every stage's commands answer for a case they do not hold.
            raise NotFound(f"casefile holds no case {case_id}")
        require_site(actor, found[0]["site"])
        entries = await reader.rows(_TIMELINE, {"case_id": case_id})
    shown = dict if actor.role in SEES_PERSONAL_DATA else _without_personal_data
    return {**found[0], "timeline": [shown(entry) for entry in entries]}


def _without_personal_data(entry: Mapping[str, Any]) -> dict[str, Any]:
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
    level: CaseLevel | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Cases of the actor's site (a city actor sees the whole city), newest first.

    ``level=city&status=registered`` lists the cases registered as a city department's that
    the district has not forwarded yet."""
    query = _CASE.where(visible_sites(actor, cases.c.site))
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
    async with service_runtime(request).database.reading() as reader:
        total = await reader.scalar(select(func.count()).select_from(query.subquery()))
        rows = await reader.rows(
            query.order_by(cases.c.reported_at.desc(), cases.c.case_id).limit(limit).offset(offset)
        )
    return {"total": total, "cases": [dict(row) for row in rows]}
