"""The departments' HTTP surface: their commands, one line each, and their task lists."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from cityloop_disposal import decisions
from cityloop_disposal.state import DisposalCase, TaskState
from cityloop_disposal.store import task_list, tasks
from cityloop_shared.contract.actors import Role
from cityloop_shared.runtime.auth import CurrentActor, visible_sites
from cityloop_shared.runtime.commands import Commands, service_runtime
from cityloop_shared.runtime.paging import Offset
from cityloop_shared.runtime.visibility import DEPARTMENT_ROLES, departments_seen, require_reader
from cityloop_shared.stage.decisions import Forbidden

router = APIRouter(tags=["disposal"])
commands: Commands[DisposalCase] = Commands(router)

DEPARTMENT = {Role.DEPARTMENT}

commands.on_case(
    "/cases/{case_id}/accept", decisions.Accept, roles=DEPARTMENT, decide=decisions.accept
)
commands.on_case(
    "/cases/{case_id}/return-request",
    decisions.WithReason,
    roles=DEPARTMENT,
    decide=decisions.request_return,
)
commands.on_case(
    "/cases/{case_id}/extension-request",
    decisions.RequestExtension,
    roles=DEPARTMENT,
    decide=decisions.request_extension,
)
commands.on_case(
    "/cases/{case_id}/suspension-request",
    decisions.WithReason,
    roles=DEPARTMENT,
    decide=decisions.request_suspension,
)
commands.on_case(
    "/cases/{case_id}/complete", decisions.Complete, roles=DEPARTMENT, decide=decisions.complete
)


@router.get("/tasks")
async def department_tasks(
    actor: CurrentActor,
    request: Request,
    department_id: Annotated[str | None, Query(max_length=64)] = None,
    state: TaskState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """A department's to-do list (待办): the tasks it has to act on, the nearest deadline first.

    A department sees its own tasks; an upper-level department (上级专业部门) its
    subordinates'. ``state`` picks one state, finished ones (completed, returned, closed)
    included.
    """
    runtime = service_runtime(request)
    require_reader(actor, runtime.site, DEPARTMENT_ROLES)
    visible = departments_seen(actor, runtime.reference.departments)
    if department_id is not None and department_id not in visible:
        raise Forbidden(f"department {actor.department_id} may not view department {department_id}")
    async with runtime.database.reading() as reader:
        return await task_list(
            reader,
            departments=[department_id] if department_id else sorted(visible),
            sites=visible_sites(actor, tasks.c.site),
            state=state,
            now=datetime.now(UTC),
            limit=limit,
            offset=offset,
        )
