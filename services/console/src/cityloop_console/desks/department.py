"""处置部门 (department): its own tasks only, nearest deadline first: accept (签收), report
completion with a photo (处置反馈), or ask to return, extend or suspend. An upper-level
department sees the tasks of the departments below it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityloop_console.web import desk, render, services_of
from cityloop_shared.contract.actors import Role

router = APIRouter()


@router.get("/department")
async def department_tasks(request: Request) -> Response:
    session = desk(request, Role.DEPARTMENT, Role.UPPER_DEPARTMENT)
    tasks = await services_of(request).query(session, session.site, "disposal", "/tasks")
    return render(
        request,
        "department.html",
        session=session,
        tasks=tasks,
        acts=session.role is Role.DEPARTMENT,
    )
