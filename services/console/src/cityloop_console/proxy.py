"""``/api/{site}/{stage}/…``: the pages' script (and the supervisor's phone) reach the sites'
services through the console, which adds the signed-in person's token.

A service's answer passes through unchanged, refusals included; a service that cannot be
reached answers 502 or 503 naming it, so a phone's queue knows to send again later.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cityloop_console.services import Unreachable
from cityloop_console.sessions import may_reach
from cityloop_console.settings import STAGES
from cityloop_console.web import services_of, session_of

router = APIRouter()

FORWARDED = ("content-type", "idempotency-key", "accept")
"""The request headers a service reads besides the token."""
RETURNED = ("content-type", "content-disposition", "retry-after")


@router.api_route("/api/{site}/{stage}/{path:path}", methods=["GET", "POST"])
async def forward(site: str, stage: str, path: str, request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return JSONResponse({"detail": "sign in first: no console session"}, status_code=401)
    if stage not in STAGES:
        return JSONResponse({"detail": f"no service {stage}"}, status_code=404)
    if not may_reach(session.actor, site, stage):
        return JSONResponse(
            {"detail": f"a person of site {session.site} may not reach site {site}'s services"},
            status_code=403,
        )
    body = await request.body()
    try:
        answer = await services_of(request).send(
            session,
            site,
            stage,
            request.method,
            path,
            params=request.query_params.multi_items(),
            content=body or None,
            headers={k: v for k, v in request.headers.items() if k.lower() in FORWARDED},
        )
    except Unreachable as error:
        return JSONResponse(
            {"detail": str(error), "site": site, "service": stage},
            status_code=error.status_code,
        )
    return Response(
        answer.content,
        status_code=answer.status_code,
        headers={k: v for k, v in answer.headers.items() if k.lower() in RETURNED},
    )
