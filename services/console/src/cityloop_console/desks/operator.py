"""受理员 (acceptance operator): the reports awaiting acceptance, the accepted ones to send for
verification on site, and the satisfaction call-backs of closed cases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityloop_console.web import desk, render, services_of
from cityloop_shared.contract.actors import Role

router = APIRouter()


@router.get("/operator")
async def operator_desk(request: Request) -> Response:
    session = desk(request, Role.ACCEPTANCE_OPERATOR)
    services = services_of(request)
    site = session.site
    reported = await services.query(session, site, "casefile", "/cases", status="reported")
    accepted = await services.query(session, site, "casefile", "/cases", status="accepted")
    closed = await services.query(session, site, "casefile", "/cases", status="closed", limit=20)
    to_verify = (
        [c for c in accepted.body["cases"] if c.get("needs_verification")] if accepted.ok else []
    )
    return render(
        request,
        "operator.html",
        session=session,
        reported=reported,
        accepted=accepted,
        to_verify=to_verify,
        closed=closed,
    )
