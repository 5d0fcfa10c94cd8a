"""派遣员 (dispatcher): the board of cases to (re-)dispatch with the department the
responsibility matrix suggests, the departments' requests to decide (回退, 延期, 挂账), and
the suspended cases to resume."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityloop_console.web import desk, render, request_names, services_of
from cityloop_shared.contract.actors import Role

router = APIRouter()


@router.get("/dispatcher")
async def dispatcher_board(request: Request) -> Response:
    session = desk(request, Role.DISPATCHER)
    services = services_of(request)
    site = session.site
    return render(
        request,
        "dispatcher.html",
        session=session,
        queue=await services.query(session, site, "dispatch", "/dispatch/queue"),
        suspended=await services.query(session, site, "casefile", "/cases", status="suspended"),
        departments=request_names(request).departments_of(site),
    )
