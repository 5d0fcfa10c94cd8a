"""Checking and closing's HTTP surface: its commands, one line each, and the check list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.auth import CurrentActor, visible_sites
from cityloop_shared.runtime.commands import Commands, service_runtime
from cityloop_shared.runtime.paging import Offset
from cityloop_shared.runtime.visibility import require_reader, supervisors_tasks
from cityloop_shared.stage.decisions import Forbidden
from cityloop_verification import decisions
from cityloop_verification.state import CheckCase
from cityloop_verification.store import check_list, check_tasks

router = APIRouter(tags=["verification"])
commands: Commands[CheckCase] = Commands(router)

CENTRE = (Role.ACCEPTANCE_OPERATOR, Role.DUTY_CHIEF, Role.DISPATCHER)

commands.on_case(
    "/cases/{case_id}/check",
    decisions.Check,
    roles={Role.FIELD_SUPERVISOR},
    decide=decisions.check,
    any_site=True,
)
commands.on_case(
    "/cases/{case_id}/close", decisions.Close, roles={Role.DUTY_CHIEF}, decide=decisions.close
)
commands.on_case(
    "/cases/{case_id}/satisfaction",
    decisions.Satisfaction,
    roles={Role.ACCEPTANCE_OPERATOR},
    decide=decisions.record_satisfaction,
)


@router.get("/checks")
async def checks(
    actor: CurrentActor,
    request: Request,
    supervisor_id: Annotated[str | None, Query(max_length=128)] = None,
    pending: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """核查任务, soonest due first: a supervisor sees those of their grids or sent to them,
    the centre the site's."""
    runtime = service_runtime(request)
    require_reader(actor, runtime.site, (Role.FIELD_SUPERVISOR, *CENTRE))
    if actor.role is Role.FIELD_SUPERVISOR:
        if supervisor_id not in (None, actor.id):
            raise Forbidden("a supervisor sees only their own check tasks")
        seen = supervisors_tasks(
            actor,
            runtime.reference.supervisors,
            grid_code=check_tasks.c.grid_code,
            assignee=check_tasks.c.supervisor_id,
        )
    else:
        seen = visible_sites(actor, check_tasks.c.site)
    async with runtime.database.reading() as reader:
        return await check_list(
            reader,
            seen=seen,
            supervisor_id=supervisor_id,
            pending=pending,
            limit=limit,
            offset=offset,
        )
